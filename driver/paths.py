"""Volume paths from commands, confined to the configured storage: a file inside one of
the ``storage_pools`` directories, or an image in one of the ``rbd_pools`` Ceph pools
(named ``rbd:<pool>/<image>``).

A pool's directory on the host is where CloudStack's KVM agent has it: the pool's ``path``
for local and shared-mount-point pools, and ``<mount_parent>/<pool uuid>`` for the pools
the agent mounts itself (NFS, Gluster), whose ``path`` is the export on the server."""

from __future__ import annotations

import os
import re
from typing import Any

from driver.core.errors import InvalidRequest
from driver.storage.rbd import RbdImage, check_name, is_rbd
from driver.wire.objects import PrimaryDataStoreTO, VolumeObjectTO


def inside(path: str, pools: list[str], rbd_pools: list[str] | None = None) -> bool:
    """Whether ``path`` is a file inside one of ``pools`` or an image of one of
    ``rbd_pools``."""
    if is_rbd(path):
        try:
            return RbdImage.parse(path).pool in (rbd_pools or [])
        except InvalidRequest:
            return False
    real = os.path.realpath(path)
    for pool in pools:
        root = os.path.realpath(pool)
        if real != root and os.path.commonpath([real, root]) == root:
            return True
    return False


# Pool types the KVM agent mounts at <mount.parent>/<pool uuid> (LibvirtStorageAdaptor).
MOUNTED_POOL_TYPES = frozenset({"NETWORKFILESYSTEM", "GLUSTER"})
_POOL_UUID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")


def pool_directory(pool_type: str | None, uuid: str | None, path: str | None,
                   mount_parent: str) -> str | None:
    """The host directory of a file-based pool described by its CloudStack fields."""
    if (pool_type or "").upper() not in MOUNTED_POOL_TYPES:
        return path
    if not uuid or not _POOL_UUID.fullmatch(uuid):
        raise InvalidRequest(f"The {pool_type} pool has no valid uuid: {uuid!r}")
    return os.path.join(mount_parent, uuid)


def _rbd_pool(volume: VolumeObjectTO) -> str | None:
    store = volume.dataStore
    if isinstance(store, PrimaryDataStoreTO) and (store.poolType or "").upper() == "RBD":
        return (store.path or "").strip("/")
    return None


STATE_SUFFIX = ".vmstate"  # a memory state file's (``<vm>@<snapshot>.vmstate``)


def resolve_volume(volume: VolumeObjectTO, pools: list[str],
                   rbd_pools: list[str] | None = None, mount_parent: str = "/mnt") -> str:
    """The real path of a volume's image (``rbd:<pool>/<image>`` for a volume on an RBD
    primary storage), or InvalidRequest if it leaves the configured storage."""
    label = volume.name or volume.uuid or "volume"
    if not volume.path:
        raise InvalidRequest(f"Volume {label} has no path")
    if "\x00" in volume.path:
        raise InvalidRequest(f"Volume {label} has an invalid path")
    rbd_pool = _rbd_pool(volume)
    if rbd_pool is not None:
        if rbd_pool not in (rbd_pools or []):
            raise InvalidRequest(f"Volume {label} is on the RBD pool {rbd_pool!r}, which is "
                                 "not configured on this driver (rbd_pools)")
        return RbdImage(check_name(rbd_pool, "pool"), check_name(volume.path, "image")).path
    path = volume.path
    if not os.path.isabs(path):
        store = volume.dataStore if isinstance(volume.dataStore, PrimaryDataStoreTO) else None
        pool_dir = store and pool_directory(store.poolType, store.uuid, store.path,
                                            mount_parent)
        if not pool_dir:
            raise InvalidRequest(f"Volume {label} has a relative path and no storage pool path")
        if "\x00" in pool_dir:
            raise InvalidRequest(f"Volume {label} has an invalid path")
        path = os.path.join(pool_dir, path)
    if not inside(path, pools):
        raise InvalidRequest(f"Volume {label} is outside the configured storage pools")
    real = os.path.realpath(path)
    name = os.path.basename(real)
    if name.startswith(".") or name.endswith(STATE_SUFFIX):
        # The driver's own files beside the volumes: memory states, volume snapshots,
        # files being removed. No volume is named like one, nor takes one's place.
        raise InvalidRequest(f"Volume {label} is named like one of the driver's own files")
    return real


def filer_volume_path(path: str, pool: Any, mount_parent: str = "/mnt") -> str:
    """A volume's path named the way ResizeVolumeCommand names it: by ``path`` within a
    StorageFilerTO-shaped ``pool`` (``rbd:<pool>/<image>`` on an RBD pool, else a file in
    the pool's directory). Not checked against the configured storage: see :func:`inside`."""
    pool = pool if isinstance(pool, dict) else {}
    kind = str(pool.get("type") or "")
    if kind.upper() == "RBD":
        return RbdImage(check_name(str(pool.get("path") or "").strip("/"), "pool"),
                        check_name(path, "image")).path
    if path.startswith("/"):
        return path
    uuid = pool.get("uuid")
    directory = pool_directory(kind, uuid if isinstance(uuid, str) else None,
                               str(pool.get("path") or ""), mount_parent)
    return f"{directory or ''}/{path}"
