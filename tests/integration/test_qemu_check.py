"""``vmsnap-driver check`` against the real libvirtd: the versions as people write them."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

pytestmark = pytest.mark.qemu


def test_check_prints_libvirt_and_qemu_versions(libvirtd, tmp_path):
    out = subprocess.run([sys.executable, "-m", "driver", "--uri", libvirtd, "--data-dir",
                          str(tmp_path), "check"], capture_output=True, text=True,
                         timeout=120, check=True).stdout.splitlines()
    assert re.fullmatch(rf"libvirt \d+\.\d+\.\d+, QEMU \d+\.\d+\.\d+ at {re.escape(libvirtd)}",
                        out[0]), out
