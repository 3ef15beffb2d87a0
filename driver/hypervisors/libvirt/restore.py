"""Revert to a live snapshot: its disks, then its memory state restored by libvirt.

A migration stream can only be loaded by a QEMU started to receive it, so this restarts
QEMU: the domain is stopped, every disk goes back to the snapshot (``tags.py``; an RBD
rollback needs QEMU gone, it holds the image's lock), and libvirt restores the state
(``restoreFlags``, the save-image format ``memstate.py`` writes, read from wherever
``states.py`` keeps it), running, whatever the state was at capture time.
"""

from __future__ import annotations

import libvirt

from driver.core.errors import NotFound
from driver.hypervisors.base import DiskInfo
from driver.hypervisors.libvirt.errors import call
from driver.hypervisors.libvirt.states import MemoryStates
from driver.hypervisors.libvirt.tags import DiskSnapshots


def revert(conn: libvirt.virConnect, dom: libvirt.virDomain, vm: str, name: str,
           states: MemoryStates, disks: list[DiskInfo], mechanism: DiskSnapshots) -> None:
    """Bring disks, RAM and device state back to snapshot ``name`` and leave the VM running."""
    if not states.complete(vm, name):
        raise NotFound(f"Cannot find vmSnapshot with name: {name} (its memory state "
                       "is missing or incomplete)")
    missing = [d.target for d in disks if d not in mechanism.holding(disks, name)]
    if missing:
        raise NotFound(f"Snapshot {name} is missing from {', '.join(missing)}")
    if dom.isActive():
        call(f"Stopping {vm} for its revert", dom.destroy)
    mechanism.revert_stopped(disks, name)
    with states.restorable(vm, name) as path:
        call(f"Revert of {vm} to {name}", lambda: conn.restoreFlags(
            path, None, libvirt.VIR_DOMAIN_SAVE_RUNNING))
