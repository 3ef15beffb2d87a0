"""Volume paths are confined to the configured storage: files inside the directory pools,
images of the configured Ceph pools; nothing a command sends escapes them."""

from __future__ import annotations

import os

import pytest

from driver.core.errors import InvalidRequest
from driver.paths import filer_volume_path, inside, resolve_volume
from driver.storage.rbd import RbdImage, check_name
from driver.wire.objects import PrimaryDataStoreTO, VolumeObjectTO


def _volume(path: str, pool_path: str, pool_type: str = "Filesystem") -> VolumeObjectTO:
    return VolumeObjectTO(name="ROOT-1", path=path, dataStore=PrimaryDataStoreTO(
        poolType=pool_type, path=pool_path, host="10.0.0.1", port=6789))


def test_file_volumes_resolve_inside_their_pool(tmp_path):
    pool = str(tmp_path)
    assert resolve_volume(_volume("root", pool), [pool]) == os.path.join(pool, "root")
    for escape in ("../etc/passwd", "/etc/passwd", "a/../../x"):
        with pytest.raises(InvalidRequest, match="outside the configured storage pools"):
            resolve_volume(_volume(escape, pool), [pool])


def test_rbd_volumes_resolve_to_images_of_configured_pools_only(tmp_path):
    volume = _volume("3f2a-uuid", "cloudstack", "RBD")
    assert resolve_volume(volume, [], ["cloudstack"]) == "rbd:cloudstack/3f2a-uuid"
    with pytest.raises(InvalidRequest, match="RBD pool 'cloudstack', which is not configured"):
        resolve_volume(volume, [str(tmp_path)], [])
    for bad in ("-x", "a/b", "img@snap", "a b"):
        with pytest.raises(InvalidRequest, match="Invalid RBD image name"):
            resolve_volume(_volume(bad, "cloudstack", "RBD"), [], ["cloudstack"])


def test_disk_paths_are_checked_against_both_kinds_of_pool(tmp_path):
    pool = str(tmp_path)
    assert inside(os.path.join(pool, "d"), [pool], ["rbd"])
    assert inside("rbd:rbd/img", [pool], ["rbd"])
    assert not inside("rbd:other/img", [pool], ["rbd"])
    assert not inside("rbd:rbd/../x", [pool], ["rbd"])
    assert not inside("/elsewhere/d", [pool], ["rbd"])


@pytest.mark.parametrize("bad", ["-x", "a/b", "a@b", "a b", "", "x\n", "--help"])
def test_names_that_could_become_options_or_other_images_are_refused(bad):
    with pytest.raises(InvalidRequest):
        check_name(bad, "image")
    with pytest.raises(InvalidRequest):
        RbdImage.parse(f"rbd:rbd/{bad}")


def test_a_resize_names_its_volume_within_its_pool(tmp_path):
    rbd = {"type": "RBD", "path": "cloudstack", "host": "10.0.0.1", "port": 6789}
    assert filer_volume_path("3f2a-uuid", rbd) == "rbd:cloudstack/3f2a-uuid"
    assert inside(filer_volume_path("3f2a-uuid", rbd), [], ["cloudstack"])
    assert not inside(filer_volume_path("3f2a-uuid", rbd), [], ["other"])
    for bad in ("../x", "-x", "a/b"):
        with pytest.raises(InvalidRequest, match="Invalid RBD image name"):
            filer_volume_path(bad, rbd)
    files = {"type": "Filesystem", "path": str(tmp_path)}
    assert filer_volume_path("root", files) == f"{tmp_path}/root"
    assert not inside(filer_volume_path("../root", files), [str(tmp_path)])


def test_an_nfs_volume_is_under_the_agents_mount_of_its_pool(tmp_path):
    mounts = tmp_path / "mnt"
    (mounts / "pool-a").mkdir(parents=True)
    volume = _volume("root", "/export/primary", "NetworkFilesystem")
    volume.dataStore.uuid = "pool-a"
    assert resolve_volume(volume, [str(mounts)], mount_parent=str(mounts)) == str(
        mounts / "pool-a" / "root")
    volume.dataStore.uuid = "../pool-a"
    with pytest.raises(InvalidRequest, match="no valid uuid"):
        resolve_volume(volume, [str(mounts)], mount_parent=str(mounts))
    # An absolute path names the file itself: the pool's directory is not needed.
    absolute = _volume(str(mounts / "pool-a" / "root"), "/export/primary", "NetworkFilesystem")
    assert resolve_volume(absolute, [str(mounts)], mount_parent=str(mounts)) == str(
        mounts / "pool-a" / "root")
    nfs = {"type": "NetworkFilesystem", "path": "/export/primary", "uuid": "pool-a"}
    assert filer_volume_path("root", nfs, str(mounts)) == f"{mounts}/pool-a/root"
