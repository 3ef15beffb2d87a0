"""Guest RAM mapped, and mapped with transparent huge pages, before a
``background-snapshot`` capture pauses the guest.

Inside the guest's pause, QEMU 7.2 reads one byte of every 4 KiB page of guest RAM (so that
each page is mapped before it is write-protected) and then write-protects all of it with
userfaultfd. What that costs depends on how RAM is mapped, not on what it holds:

* RAM the guest never touched is faulted in there and then: 55-160 ms of a guest's first
  capture at 1-2 GiB on this machine;
* RAM mapped with small pages costs a page-table entry per 4 KiB in both walks: 50-100 ms
  at 2 GiB, against 10-25 ms with huge pages. QEMU asks the kernel for huge pages for guest
  RAM, but a capture itself leaves RAM split into small pages (the write-protection and
  QEMU's handling of each first write work page by page), so every capture after the first
  would pay the slow walk.

:func:`prepare_guest_ram` does the groundwork while the guest runs, before the pause and
before any freeze: it asks the kernel to put RAM back into huge pages
(``process_madvise(MADV_COLLAPSE)``, Linux 6.1 and later), then reads all of guest RAM once
through ``/proc/<pid>/mem`` (RAM never touched is mapped as the kernel's shared zero page,
allocating nothing). Both are needed, in that order: with the collapse alone, or a read of
only the parts not yet mapped, a first capture and now and then a later one still walked for
85-190 ms at 2 GiB; collapse then a whole read gave 19-23 ms in five captures out of five
(``docs/benchmarks.md`` has the longer runs). Neither changes a byte of guest memory nor
pauses the guest. They cost CPU time (about 0.3 s per GiB for the read; 0.1-0.4 s at 2 GiB
for the collapse of RAM the previous capture split, up to 4 s the first time it meets RAM a
capture had mapped as zero pages, which it then allocates), and the collapse makes resident
the parts of RAM a previous capture had mapped, which CloudStack's capacity accounting
reserves for the VM anyway unless memory is overprovisioned (``prepare_guest_ram = false``
turns both off). It is best effort, each step within a time
budget: any refusal leaves RAM as it was and the capture goes on.
"""

from __future__ import annotations

import ctypes
import errno
import os
import time
from dataclasses import dataclass

MADV_COLLAPSE = 25
_SYS_PROCESS_MADVISE = 440  # the same number on every architecture Linux added it to
_CHUNK = 256 << 20  # one collapse call per 256 MiB: the time budget is checked between them
_HUGE = 2 << 20  # a huge page; RAM is read through in these steps


class _IoVec(ctypes.Structure):
    _fields_ = [("base", ctypes.c_void_p), ("len", ctypes.c_size_t)]


@dataclass(frozen=True)
class RamPrep:
    """What :func:`prepare_guest_ram` did: MiB of guest RAM read through, MiB handed to the
    kernel to collapse, the wall time, and why it stopped short (empty when it did not)."""

    read_mib: int = 0
    collapsed_mib: int = 0
    ms: float = 0.0
    skipped: str = ""


def qemu_pid(uuid: str) -> int | None:
    """The QEMU process running the domain ``uuid`` (libvirt passes ``-uuid``), if any."""
    wanted = b"\0-uuid\0" + uuid.encode() + b"\0"
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as fh:
                cmdline = fh.read()
        except OSError:
            continue
        if wanted in cmdline and b"qemu" in cmdline.split(b"\0", 1)[0]:
            return int(entry)
    return None


def ram_mappings(pid: int, ram_bytes: int) -> list[tuple[int, int]]:
    """QEMU's anonymous, private, writable and not executable mappings at least as large as
    guest RAM: the RAM block (TCG's code buffer, as large, is executable)."""
    found = []
    with open(f"/proc/{pid}/maps") as fh:
        for line in fh:
            fields = line.split()
            if len(fields) != 5 or fields[1] != "rw-p":
                continue  # a file, a named region ([heap], [stack]), shared or executable
            start, end = (int(x, 16) for x in fields[0].split("-"))
            if end - start >= ram_bytes:
                found.append((start, end))
    return found


def huge_share(pid: int, ram_bytes: int) -> float:
    """The share of QEMU's resident guest RAM mapped with transparent huge pages (what a
    capture splits and :func:`prepare_guest_ram` puts back)."""
    regions = set(ram_mappings(pid, ram_bytes))
    rss = huge = 0
    inside = False
    with open(f"/proc/{pid}/smaps") as fh:
        for line in fh:
            head = line.split()[0]
            if "-" in head and not head.endswith(":"):
                start, end = (int(x, 16) for x in head.split("-"))
                inside = (start, end) in regions
            elif inside and head == "Rss:":
                rss += int(line.split()[1])
            elif inside and head == "AnonHugePages:":
                huge += int(line.split()[1])
    return huge / max(1, rss)


_libc = ctypes.CDLL(None, use_errno=True)


def _process_madvise(pidfd: int, start: int, length: int) -> int:
    """``process_madvise(pidfd, [start, length), MADV_COLLAPSE)``; 0 or the errno."""
    iov = _IoVec(start, length)
    if _libc.syscall(_SYS_PROCESS_MADVISE, pidfd, ctypes.byref(iov), 1, MADV_COLLAPSE, 0) >= 0:
        return 0
    return ctypes.get_errno()


def _read_through(pid: int, regions: list[tuple[int, int]], deadline: float) -> int:
    """Read every byte of ``regions`` through ``/proc/<pid>/mem``; the bytes read."""
    buf = bytearray(_HUGE)
    done = 0
    with open(f"/proc/{pid}/mem", "rb", buffering=0) as mem:
        for start, end in regions:
            for at in range(start, end, _HUGE):
                if time.monotonic() > deadline:
                    return done
                done += os.preadv(mem.fileno(), [memoryview(buf)[:min(_HUGE, end - at)]], at)
    return done


def _collapse(pid: int, regions: list[tuple[int, int]], deadline: float) -> tuple[int, str]:
    """Ask the kernel to collapse ``regions`` into huge pages; the bytes handed over, and
    why it stopped short (empty when it did not)."""
    pidfd = os.pidfd_open(pid)
    done = 0
    try:
        for start, end in regions:
            for at in range(start, end, _CHUNK):
                if time.monotonic() > deadline:
                    return done, "the collapse ran out of its time budget"
                err = _process_madvise(pidfd, at, min(_CHUNK, end - at))
                # EINVAL also says that part of the range could not be collapsed (never
                # mapped: the read maps it as the huge zero page); the rest was still done.
                if err in (errno.ENOSYS, errno.EPERM, errno.ESRCH, errno.EFAULT):
                    return done, f"the kernel refused to collapse: {os.strerror(err)}"
                done += min(_CHUNK, end - at)
    finally:
        os.close(pidfd)
    return done, ""


def prepare_guest_ram(uuid: str, ram_bytes: int, budget: float = 10.0) -> RamPrep:
    """Put the RAM of domain ``uuid`` back into huge pages, then read it through; each
    step within ``budget`` seconds."""
    t0 = time.monotonic()
    pid = qemu_pid(uuid)
    if pid is None:
        return RamPrep(skipped="no QEMU process on this host runs the domain")
    try:
        regions = ram_mappings(pid, ram_bytes)
        if not regions:
            return RamPrep(skipped="no anonymous mapping of guest RAM (a file or memfd "
                                   "backend)")
        collapsed, skipped = _collapse(pid, regions, time.monotonic() + budget)
        read = _read_through(pid, regions, time.monotonic() + budget)
    except OSError as exc:
        return RamPrep(skipped=f"QEMU's memory is not readable: {exc.strerror}")
    if read < sum(end - start for start, end in regions):
        skipped = skipped or "the read ran out of its time budget"
    return RamPrep(read_mib=read >> 20, collapsed_mib=collapsed >> 20,
                   ms=round((time.monotonic() - t0) * 1000, 1), skipped=skipped)
