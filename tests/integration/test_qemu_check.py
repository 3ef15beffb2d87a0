"""``vmsnap-driver check`` against the real libvirtd: the versions as people write them, and
whether live memory capture is possible on this host, as QEMU itself then answers."""

from __future__ import annotations

import json
import os
import pwd
import re
import subprocess
import sys

import pytest

from driver.hypervisors.libvirt import userfault

pytestmark = pytest.mark.qemu


def test_check_prints_libvirt_and_qemu_versions(libvirtd, tmp_path):
    out = subprocess.run([sys.executable, "-m", "driver", "--uri", libvirtd, "--data-dir",
                          str(tmp_path), "check"], capture_output=True, text=True,
                         timeout=120, check=True).stdout.splitlines()
    assert re.fullmatch(rf"libvirt \d+\.\d+\.\d+, QEMU \d+\.\d+\.\d+ at {re.escape(libvirtd)}",
                        out[0]), out
    assert out[1].startswith("live memory capture: "), out


QMP = ['{"execute":"qmp_capabilities"}',
       '{"execute":"migrate-set-capabilities","arguments":{"capabilities":'
       '[{"capability":"background-snapshot","state":true}]}}']


@pytest.mark.parametrize("user", ["root", "libvirt-qemu"])
def test_the_checks_verdict_is_what_qemu_then_does(user):
    """A QEMU started as ``user``: the check's verdict for this host (its real
    ``vm.unprivileged_userfaultfd``) against QEMU's own answer to a background snapshot."""
    if os.geteuid() != 0:
        pytest.skip("starting QEMU as another user needs root")
    try:
        account = pwd.getpwnam(user)
    except KeyError:
        pytest.skip(f"no {user} user on this machine")
    qemu = subprocess.Popen(
        ["qemu-system-x86_64", "-machine", "pc", "-accel", "tcg", "-m", "64", "-nodefaults",
         "-display", "none", "-S", "-qmp", "stdio"],
        user=account.pw_uid, group=account.pw_gid, extra_groups=[], cwd="/",
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert qemu.stdin is not None and qemu.stdout is not None
    try:
        assert '"QMP"' in qemu.stdout.readline()  # the greeting: QEMU is up
        mine = [p for p in userfault.qemu_processes() if p.pid == qemu.pid]
        assert [p.user for p in mine] == [user]
        possible, line = userfault.readiness(userfault.unprivileged_allowed(), mine)
        answers = []
        for command in QMP:
            qemu.stdin.write(command + "\n")
            qemu.stdin.flush()
            answers.append(json.loads(qemu.stdout.readline()))
        accepted = "return" in answers[1]
        assert possible is accepted, (line, answers[1])
        if not accepted:
            refusal = answers[1]["error"]["desc"]
            assert "vm.unprivileged_userfaultfd = 1" in userfault.explain(refusal)
            assert f"NOT possible for QEMU running as {user}" in line
    finally:
        qemu.kill()
        qemu.wait(30)
