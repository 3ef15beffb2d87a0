"""Volume paths from commands, confined to the configured storage pools."""

from __future__ import annotations

import os

from driver.core.errors import InvalidRequest
from driver.wire.objects import VolumeObjectTO


def inside(path: str, pools: list[str]) -> bool:
    real = os.path.realpath(path)
    for pool in pools:
        root = os.path.realpath(pool)
        if real != root and os.path.commonpath([real, root]) == root:
            return True
    return False


def resolve_volume(volume: VolumeObjectTO, pools: list[str]) -> str:
    """The real path of a volume's image, or InvalidRequest if it leaves every pool."""
    label = volume.name or volume.uuid or "volume"
    if not volume.path:
        raise InvalidRequest(f"Volume {label} has no path")
    if "\x00" in volume.path or (volume.pool_path and "\x00" in volume.pool_path):
        raise InvalidRequest(f"Volume {label} has an invalid path")
    path = volume.path
    if not os.path.isabs(path):
        if not volume.pool_path:
            raise InvalidRequest(f"Volume {label} has a relative path and no storage pool path")
        path = os.path.join(volume.pool_path, path)
    if not inside(path, pools):
        raise InvalidRequest(f"Volume {label} is outside the configured storage pools")
    return os.path.realpath(path)
