"""The libvirt backend takes a volume snapshot from a VM snapshot: a standalone copy of the
volume as the VM snapshot's internal qcow2 snapshot holds it (real qemu-img on real images)."""

from __future__ import annotations

import os

import pytest

pytest.importorskip("libvirt")

from driver.core.errors import InvalidRequest  # noqa: E402
from driver.hypervisors.libvirt import LibvirtHost, qemuimg  # noqa: E402
from tests.support.driver import make_disk, pattern_is, qemu_io  # noqa: E402

pytestmark = pytest.mark.libvirt


def test_a_volume_snapshot_from_a_vm_snapshot_holds_the_volume_as_it_was(tmp_path):
    disk = make_disk(str(tmp_path), "root.qcow2")
    qemu_io(disk, "write -P 0xaa 0 65536")
    qemuimg.create(disk, "i-2-3-VM_VS_1")
    qemu_io(disk, "write -P 0xbb 0 65536")
    host = LibvirtHost("test:///default")
    size = host.snapshot_volume(disk, "from-vs", source="i-2-3-VM_VS_1")
    copy = os.path.join(str(tmp_path), ".volume-snapshots", "root.qcow2@from-vs.qcow2")
    assert size == os.path.getsize(copy)
    assert pattern_is(copy, 0xAA) and not pattern_is(copy, 0xBB)
    assert pattern_is(disk, 0xBB)  # the volume itself is untouched
    host.snapshot_volume(disk, "now")
    assert pattern_is(os.path.join(str(tmp_path), ".volume-snapshots", "root.qcow2@now.qcow2"),
                      0xBB)
    with pytest.raises(InvalidRequest, match="no VM snapshot"):
        host.snapshot_volume(disk, "nothing", source="no-such-snapshot")
