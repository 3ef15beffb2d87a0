"""scripts/prepare-libvirt.sh sets only the qemu.conf keys it needs and keeps every other
line of the file."""

from __future__ import annotations

import os
import subprocess

import pytest

SCRIPT = os.path.join(os.path.dirname(__file__), "..", "..", "scripts", "prepare-libvirt.sh")


@pytest.mark.skipif(os.geteuid() != 0, reason="the script changes system users: root only")
def test_only_the_needed_keys_change(tmp_path):
    conf = tmp_path / "qemu.conf"
    conf.write_text('# a comment the operator wrote\nuser = "libvirt-qemu"\n'
                    'vnc_listen = "0.0.0.0"\n#group = "kvm"\n')
    env = dict(os.environ, VMSNAP_QEMU_CONF=str(conf))
    for _ in range(2):  # idempotent
        subprocess.run(["bash", SCRIPT], check=True, env=env)
    assert conf.read_text().splitlines() == [
        "# a comment the operator wrote", 'user = "root"', 'vnc_listen = "0.0.0.0"',
        '#group = "kvm"', 'group = "root"', 'stdio_handler = "file"']
