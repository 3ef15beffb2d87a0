"""Whether live memory capture is possible on a host: the verdict ``vmsnap-driver check``
prints, from the kernel's setting and the users QEMU runs as (a /proc laid out here)."""

from __future__ import annotations

import os

from driver.hypervisors.libvirt import userfault

PTRACE = f"{1 << userfault.CAP_SYS_PTRACE:016x}"


def _proc(tmp_path, processes: dict[int, tuple[str, int, str]]) -> str:
    for pid, (name, uid, caps) in processes.items():
        os.makedirs(tmp_path / str(pid))
        (tmp_path / str(pid) / "status").write_text(
            f"Name:\t{name}\nUid:\t{uid}\t{uid}\t{uid}\t{uid}\nCapEff:\t{caps}\n")
    (tmp_path / "self").mkdir()
    return str(tmp_path)


def test_qemu_processes_are_found_with_their_user_and_privilege(tmp_path):
    proc = _proc(tmp_path, {10: ("qemu-system-x86", 0, "0" * 16),
                            11: ("qemu-system-x86", 64055, "0" * 16),
                            12: ("qemu-system-x86", 64055, PTRACE),
                            13: ("libvirtd", 64055, "0" * 16)})
    found = {p.pid: p.privileged for p in userfault.qemu_processes(proc)}
    assert found == {10: True, 11: False, 12: True}


def test_the_verdict():
    root = userfault.QemuProcess(1, "root", True)
    plain = userfault.QemuProcess(2, "libvirt-qemu", False)
    assert userfault.readiness(True, [plain])[0] is True
    possible, line = userfault.readiness(False, [root, plain])
    assert possible is False
    assert "NOT possible for QEMU running as libvirt-qemu" in line
    assert "sysctl -w vm.unprivileged_userfaultfd=1" in line
    assert userfault.readiness(False, [root]) == (
        True, "live memory capture: possible (QEMU runs as root)")
    assert userfault.readiness(None, [])[0] is None


def test_a_refusal_for_want_of_userfaultfd_says_how_to_fix_it():
    refusal = "Background-snapshot is not supported by host kernel"
    assert userfault.explain(refusal).startswith(refusal + " (a QEMU that does not run")
    assert userfault.explain("something else") == "something else"
