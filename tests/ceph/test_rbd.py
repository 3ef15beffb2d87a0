"""The driver's RBD client against a real Ceph cluster: images, snapshots that are
independent of each other (any order, branches), rollback refused while an image is held,
sizes, and names that cannot become options."""

from __future__ import annotations

import os
import subprocess

import pytest

from driver.core.errors import InvalidRequest, NotFound
from driver.storage.rbd import Cluster, Rbd, RbdImage

pytestmark = pytest.mark.ceph


@pytest.fixture
def rbd(ceph_cluster):
    host, port = ceph_cluster.monitor
    return Rbd(Cluster(monitors=f"{host}:{port}"))


@pytest.fixture
def image(rbd, ceph_cluster, request):
    img = RbdImage(ceph_cluster.pool, f"t-{request.node.name[:40]}")
    rbd.create(img, 16 << 20)
    yield img
    rbd.remove(img)


def _write(cluster, image: RbdImage, byte: bytes, offset: int, length: int, tmp_path) -> None:
    """Write ``length`` bytes of ``byte`` at ``offset`` through qemu-io's rbd driver."""
    src = f"rbd:{image.spec}:mon_host={cluster.monitor[0]}\\:{cluster.monitor[1]}"
    subprocess.run(["qemu-io", "-f", "raw", "-c",
                    f"write -P {byte[0]:#x} {offset} {length}", src],
                   check=True, capture_output=True)


def _holds(cluster, image: RbdImage, byte: bytes, offset: int, length: int) -> bool:
    """Whether the image holds ``length`` bytes of ``byte`` at ``offset`` (qemu-io -P)."""
    src = f"rbd:{image.spec}:mon_host={cluster.monitor[0]}\\:{cluster.monitor[1]}"
    proc = subprocess.run(["qemu-io", "-f", "raw", "-c",
                           f"read -P {byte[0]:#x} {offset} {length}", src],
                          capture_output=True, text=True, check=False)
    return proc.returncode == 0 and "Pattern verification failed" not in proc.stdout + \
        proc.stderr


def test_snapshots_are_independent_and_branch(rbd, image, ceph_cluster, tmp_path):
    _write(ceph_cluster, image, b"A", 0, 4096, tmp_path)
    rbd.snap_create(image, "s1")
    _write(ceph_cluster, image, b"B", 0, 4096, tmp_path)
    rbd.snap_create(image, "s2")
    _write(ceph_cluster, image, b"C", 0, 4096, tmp_path)
    rbd.snap_create(image, "s3")
    assert rbd.snapshots(image) == ["s1", "s2", "s3"]
    rbd.snap_remove(image, "s2")  # the middle one: no merge, the others unchanged
    rbd.snap_rollback(image, "s1")
    assert _holds(ceph_cluster, image, b"A", 0, 4096)
    rbd.snap_rollback(image, "s3")  # newer snapshots survive a rollback to an older one
    assert _holds(ceph_cluster, image, b"C", 0, 4096)
    assert not _holds(ceph_cluster, image, b"A", 0, 4096)
    rbd.snap_remove(image, "s1")
    rbd.snap_remove(image, "s1")  # already gone: fine
    assert rbd.snapshots(image) == ["s3"]
    used = rbd.used_bytes(image)
    assert set(used) == {"s3", ""} and all(v >= 0 for v in used.values())


def test_import_export_and_remove(rbd, ceph_cluster, tmp_path):
    src = tmp_path / "state.bin"
    src.write_bytes(os.urandom(3 << 20))
    img = RbdImage(ceph_cluster.pool, "t-state")
    rbd.import_file(str(src), img)
    assert rbd.exists(img) and rbd.size(img) == 3 << 20
    out = tmp_path / "back.bin"
    rbd.export_file(img, str(out))
    assert out.read_bytes() == src.read_bytes()
    rbd.remove(img)
    rbd.remove(img)  # already gone: fine
    assert not rbd.exists(img)


def test_rollback_of_a_missing_snapshot_says_so(rbd, image):
    with pytest.raises(NotFound, match="Revert of rbd:"):
        rbd.snap_rollback(image, "never-made")


def test_write_at_rename_images_and_a_partial_state_stream(rbd, ceph_cluster, tmp_path):
    """What the memory state images are built from: a stream imported with no size known,
    one extent rewritten in place, a rename, the head read back, the pool listed."""
    img = RbdImage(ceph_cluster.pool, "t-state.partial")
    data = os.urandom(3 << 20) + b"tail"
    proc = subprocess.run(rbd.command(["import", "--no-progress", "-", img.spec]), input=data,
                          capture_output=True, check=False)
    assert proc.returncode == 0, proc.stderr
    rbd.write_at(img, 0, b"LibvirtQemudSave")
    done = rbd.rename(img, "t-state")
    assert "t-state" in rbd.images(ceph_cluster.pool)
    assert "t-state.partial" not in rbd.images(ceph_cluster.pool)
    assert rbd.size(done) == len(data)  # exactly the stream, not rounded up
    assert rbd.read_head(done, 20) == b"LibvirtQemudSave" + data[16:20]
    rbd.remove_when_free(done)
    rbd.remove_when_free(done)  # already gone: fine
    assert rbd.read_head(done, 16) == b""


def test_a_volume_snapshot_from_a_vm_snapshot_is_an_independent_copy(ceph_cluster, image,
                                                                     rbd, tmp_path):
    """createSnapshotFromVMSnapshot on RBD: the image as the VM snapshot holds it, copied
    into an image of its own; the VM snapshots are unchanged and stay free to go."""
    from driver.hypervisors.libvirt.connection import Ceph, LibvirtHost

    host = LibvirtHost("test:///default", ceph=Ceph(rbd=rbd))
    _write(ceph_cluster, image, b"A", 0, 4096, tmp_path)
    rbd.snap_create(image, "vm1")
    _write(ceph_cluster, image, b"B", 0, 4096, tmp_path)
    size = host.snapshot_volume(image.path, "nightly", source="vm1")
    copy = RbdImage(image.pool, f"{image.name}.volume-nightly")
    assert size > 0 and rbd.snapshots(image) == ["vm1"] and rbd.snapshots(copy) == []
    assert _holds(ceph_cluster, copy, b"A", 0, 4096)
    assert _holds(ceph_cluster, image, b"B", 0, 4096)
    with pytest.raises(InvalidRequest, match="already exists"):
        host.snapshot_volume(image.path, "nightly", source="vm1")
    before = sorted(rbd.images(image.pool))
    for source in ("nope", "volume-x"):  # refused, nothing made
        with pytest.raises(InvalidRequest, match="has no VM snapshot"):
            host.snapshot_volume(image.path, "other", source=source)
    assert sorted(rbd.images(image.pool)) == before
    rbd.snap_remove(image, "vm1")  # the VM snapshot goes; the volume snapshot stays whole
    assert _holds(ceph_cluster, copy, b"A", 0, 4096)
    host.delete_volume_snapshot(image.path, "nightly")
    assert copy.name not in rbd.images(image.pool)
