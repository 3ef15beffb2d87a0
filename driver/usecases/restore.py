"""RestoreVMSnapshotCommand: re-register the management server's snapshots of a VM on
this host (parents before children), and point ``current`` where it says."""

from __future__ import annotations

import time
from typing import Any

from driver.core.errors import InvalidRequest
from driver.core.model import Snapshot, SnapshotType
from driver.names import check_snapshot_name
from driver.usecases.context import Context
from driver.wire.commands import Answer, RestoreVMSnapshotCommand
from driver.wire.objects import VMSnapshotTO


def _placement(cmd: RestoreVMSnapshotCommand, parents: dict[str, str | None],
               known: set[str]) -> list[tuple[VMSnapshotTO, str | None]]:
    """The command's snapshots that ``known`` lacks, each with the parent it gets, parents
    before children; refuses a name given twice or parents in a cycle before anything is
    registered, so a refused Restore changes nothing."""
    names = [to.snapshotName or "" for to in cmd.snapshots]
    twice = next((n for n in names if names.count(n) > 1), None)
    if twice is not None:
        raise InvalidRequest(f"snapshot {twice} is given twice")
    present = set(known)
    pending = [to for to in cmd.snapshots if (to.snapshotName or "") not in present]
    ordered: list[tuple[VMSnapshotTO, str | None]] = []
    while pending:
        waiting = {to.snapshotName or "" for to in pending}
        ready = [to for to in pending if parents.get(str(to.id)) not in waiting]
        if not ready:
            raise InvalidRequest("The snapshots' parents form a cycle")
        for to in ready:
            parent = parents.get(str(to.id))
            ordered.append((to, parent if parent in present else None))
            present.add(to.snapshotName or "")
            pending.remove(to)
    return ordered


def restore(ctx: Context, cmd: RestoreVMSnapshotCommand, raw: Any) -> Answer:
    """Register every snapshot of the command that the host does not know yet, and make
    every one of them revertable on the hypervisor again."""
    for to in cmd.snapshots:
        check_snapshot_name(to.snapshotName or "")
    parents = {
        key: (p.snapshotName if p is not None else None)
        for key, p in (cmd.snapshotAndParents or {}).items()
    }

    def work(_op_id: int) -> Answer:
        guest = ctx.guest(cmd.vmName, "Restore VM Snapshot")
        disks = [d.as_disk() for d in guest.disks()]
        tree = ctx.store.tree(cmd.vmName)
        placement = _placement(cmd, parents, set(tree))
        # Libvirt may have lost what the journal still knows (a transient domain's stop):
        # every snapshot of the command is made revertable again, known or not.
        for to in cmd.snapshots:
            known = ctx.store.get(cmd.vmName, to.snapshotName or "")
            if known is not None:
                guest.redefine(known)
        for to, parent in placement:
            name = to.snapshotName or ""
            record = Snapshot(
                vm=cmd.vmName, name=name, type=SnapshotType(to.type or "Disk"),
                parent=parent, created=(to.createTime or time.time() * 1000) / 1000.0,
                description=to.description or "", disks=disks,
            )
            guest.redefine(record)
            tree.add(name, record.parent, use_current=False)
            ctx.store.save_tree(cmd.vmName, tree, added=record)
        current = next((to.snapshotName for to in cmd.snapshots if to.current), None)
        if current is not None and current in tree:
            tree.make_current(current)
            ctx.store.save_tree(cmd.vmName, tree)
        return Answer(volumeTOs=cmd.volumeTOs, vmState=guest.power_state().value)

    return ctx.journaled("restore", cmd.vmName, "*", raw, work)
