"""DeleteVMSnapshotCommand: remove the snapshot from every disk; its children move up to
its parent. Deleting what is already gone succeeds and leaves nothing of that name."""

from __future__ import annotations

from typing import Any

from driver.core.errors import NotFound
from driver.core.model import Snapshot, SnapshotType
from driver.hypervisors.base import Guest
from driver.usecases.context import Context, target_of
from driver.wire.commands import Answer, VMSnapshotCommand


def delete(ctx: Context, cmd: VMSnapshotCommand, raw: Any) -> Answer:
    """Delete the command's target snapshot (idempotent)."""
    target = target_of(cmd)
    name = target.snapshotName or ""
    ctx.volume_paths(cmd.volumeTOs or [])

    def work(_op_id: int) -> Answer:
        snap = ctx.store.get(cmd.vmName, name)
        try:
            guest: Guest | None = ctx.hv.guest(cmd.vmName)
        except NotFound:
            guest = None
        if snap is None:
            # Already gone: succeed, but leave nothing of that name on the hypervisor.
            if guest is not None:
                ghost = Snapshot(cmd.vmName, name, SnapshotType(target.type or "Disk"),
                                 disks=[d.as_disk() for d in guest.disks()])
                if guest.has_snapshot(ghost):
                    guest.delete(ghost)
            return Answer(volumeTOs=ctx.volumes_out(guest, cmd.volumeTOs or []))
        if guest is None:
            ctx.hv.delete_from_files(snap)
        else:
            guest.delete(snap)
        tree = ctx.store.tree(cmd.vmName)
        tree.remove(name)
        ctx.store.save_tree(cmd.vmName, tree, removed=name)
        return Answer(volumeTOs=ctx.volumes_out(guest, cmd.volumeTOs or []))

    return ctx.journaled("delete", cmd.vmName, name, raw, work)
