"""Whether QEMU on this host may write-protect guest RAM, which a ``background-snapshot``
capture needs (userfaultfd).

A QEMU running as root, or with ``CAP_SYS_PTRACE``, always may. Any other user may only
when the kernel allows unprivileged userfaultfd (``vm.unprivileged_userfaultfd = 1``), and
QEMU 7.2 does not use the kernel's ``/dev/userfaultfd`` instead. On Debian, libvirt runs
QEMU as ``libvirt-qemu`` and the setting is 0: QEMU refuses the capture ("Background-snapshot
is not supported by host kernel") and every memory snapshot falls back to ``savevm``, which
stops the guest for the whole RAM dump. ``vmsnap-driver check`` says which case a host is in,
and a fallback for this reason says how to fix it.
"""

from __future__ import annotations

import os
import pwd
from dataclasses import dataclass

SYSCTL = "/proc/sys/vm/unprivileged_userfaultfd"
CAP_SYS_PTRACE = 19
QEMU_REFUSAL = "not supported by host kernel"
HINT = ("a QEMU that does not run as root needs vm.unprivileged_userfaultfd = 1 "
        "(sysctl -w vm.unprivileged_userfaultfd=1, and a file in /etc/sysctl.d to keep it)")


@dataclass(frozen=True)
class QemuProcess:
    pid: int
    user: str
    privileged: bool  # root, or CAP_SYS_PTRACE in its effective set


def unprivileged_allowed(path: str = SYSCTL) -> bool | None:
    """The kernel's ``vm.unprivileged_userfaultfd``; None where it cannot be read."""
    try:
        with open(path) as fh:
            return fh.read().strip() == "1"
    except OSError:
        return None


def qemu_processes(proc: str = "/proc") -> list[QemuProcess]:
    """Every QEMU system emulator running on this host, with its user."""
    found = []
    for entry in os.listdir(proc):
        if not entry.isdigit():
            continue
        try:
            with open(os.path.join(proc, entry, "status")) as fh:
                status = dict(line.split(":", 1) for line in fh if ":" in line)
        except OSError:
            continue
        if not status.get("Name", "").strip().startswith("qemu-system"):
            continue
        uid = int(status["Uid"].split()[1])  # the effective uid
        caps = int(status.get("CapEff", "0").strip(), 16)
        try:
            user = pwd.getpwuid(uid).pw_name
        except KeyError:
            user = str(uid)
        found.append(QemuProcess(int(entry), user,
                                 uid == 0 or bool(caps >> CAP_SYS_PTRACE & 1)))
    return found


def readiness(allowed: bool | None, processes: list[QemuProcess]) -> tuple[bool | None, str]:
    """Whether live memory capture is possible here (None: not known yet), and a line that
    says why, for ``vmsnap-driver check``."""
    if allowed:
        return True, "live memory capture: possible (vm.unprivileged_userfaultfd = 1)"
    users = sorted({p.user for p in processes if not p.privileged})
    if users:
        return False, (f"live memory capture: NOT possible for QEMU running as "
                       f"{', '.join(users)}: memory snapshots fall back to savevm, which "
                       f"stops the guest for the whole RAM dump; {HINT}")
    if processes:
        return True, "live memory capture: possible (QEMU runs as root)"
    return None, f"live memory capture: not known until a VM runs; {HINT}"


def explain(refusal: str) -> str:
    """QEMU's refusal of a capture, with the fix when it is the missing userfaultfd."""
    return f"{refusal} ({HINT})" if QEMU_REFUSAL in refusal else refusal
