"""Revert to a live snapshot: its disks, then its memory state file restored by libvirt.

A migration stream can only be loaded by a QEMU started to receive it, so this restarts
QEMU: the domain is stopped, every disk goes back to the snapshot (``tags.py``), and libvirt
restores the state file (``restoreFlags``, the save-image format ``memstate.py`` writes),
running, whatever the state was at capture time.
"""

from __future__ import annotations

import libvirt

from driver.core.errors import NotFound
from driver.hypervisors.base import DiskInfo
from driver.hypervisors.libvirt import memstate
from driver.hypervisors.libvirt.errors import call
from driver.hypervisors.libvirt.tags import DiskSnapshots


def revert(conn: libvirt.virConnect, dom: libvirt.virDomain, vm: str, name: str,
           state_file: str, disks: list[DiskInfo], mechanism: DiskSnapshots) -> None:
    """Bring disks, RAM and device state back to snapshot ``name`` and leave the VM running."""
    if not memstate.is_complete(state_file):
        raise NotFound(f"Cannot find vmSnapshot with name: {name} (its memory state "
                       "file is missing or incomplete)")
    missing = [d.target for d in disks if d not in mechanism.holding(disks, name)]
    if missing:
        raise NotFound(f"Snapshot {name} is missing from {', '.join(missing)}")
    if dom.isActive():
        call(f"Stopping {vm} for its revert", dom.destroy)
    mechanism.revert_stopped(disks, name)
    call(f"Revert of {vm} to {name}", lambda: conn.restoreFlags(
        state_file, None, libvirt.VIR_DOMAIN_SAVE_RUNNING))
