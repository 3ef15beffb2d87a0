"""Primary storage: the pools of the world, which pool a new volume goes to, and which pool
a volume is on.

A new volume goes to the first pool of its zone (in the world INI's order) that has every
storage tag its offering asks for: the service offering's for a ROOT volume, the disk
offering's for a data volume (CloudStack's storage tags; an offering with none takes any
pool). An admin's ``createVolume`` may name the pool (``storageid``); it must be in the
volume's zone and have the offering's tags too. No pool fits: CloudStack's
InsufficientServerCapacity answer, before anything is recorded.
"""

from __future__ import annotations

from simulator.config import RBD, PoolSpec
from simulator.errors import ParamError
from simulator.models import StoragePool, Volume, Zone
from simulator.placement import InsufficientCapacity
from simulator.store import Store

__all__ = ["RBD", "choose_pool", "new_pool", "pool_for", "pool_of", "tag_set",
           "volume_format"]


def tag_set(raw: str) -> set[str]:
    """Comma-separated storage tags as a set."""
    return {t.strip() for t in raw.split(",") if t.strip()}


def new_pool(spec: PoolSpec, zone: Zone) -> StoragePool:
    """A world INI pool as a record of ``zone``."""
    return StoragePool(spec.name, zone.id, spec.path, spec.type, spec.host, spec.port,
                       ",".join(spec.tags))


def pool_for(volume: Volume, pools: list[StoragePool]) -> StoragePool | None:
    """The pool ``volume`` is on, among ``pools``: its own, or (a record older than pools)
    its zone's first."""
    if volume.pool_id is not None:
        return next((p for p in pools if p.id == volume.pool_id), None)
    return next((p for p in pools if p.zone_id == volume.zone_id), None)


def pool_of(store: Store, volume: Volume) -> StoragePool:
    """The pool ``volume`` is on (it has one: every zone has a pool)."""
    if volume.pool_id is not None:
        return store.load(StoragePool, volume.pool_id)
    pool = pool_for(volume, store.find(StoragePool))
    if pool is None:
        raise LookupError(f"no storage pool in zone {volume.zone_id}")
    return pool


def choose_pool(store: Store, zone_id: int, tags: str, *, wanted: StoragePool | None = None,
                what: str = "the volume") -> StoragePool:
    """The pool a new volume of zone ``zone_id`` whose offering asks for ``tags`` goes to
    (``wanted`` if given and it fits)."""
    need = tag_set(tags)
    if wanted is not None:
        if wanted.zone_id != zone_id:
            raise ParamError(f"Storage pool {wanted.uuid} is not in the zone of {what}")
        if not need <= tag_set(wanted.tags):
            raise ParamError(f"Storage pool {wanted.name} does not have the storage tags "
                             f"{', '.join(sorted(need))} of the disk offering")
        return wanted
    for pool in store.find(StoragePool):
        if pool.zone_id == zone_id and need <= tag_set(pool.tags):
            return pool
    raise InsufficientCapacity(f"Unable to create a deployment for {what}: no storage pool "
                               f"of zone {zone_id} has the storage tags "
                               f"{', '.join(sorted(need))}")


def volume_format(pool: StoragePool) -> str:
    """The image format of a volume on ``pool`` as CloudStack names it: RBD images are
    raw, files qcow2."""
    return "RAW" if pool.type == RBD else "QCOW2"
