"""RevertToVMSnapshotCommand: bring every disk (and memory) back to the snapshot and make
it current; newer snapshots are kept, so history branches."""

from __future__ import annotations

import time
from typing import Any

from driver.core.errors import DriverError, InvalidRequest, NotFound, QuiesceError
from driver.core.model import PowerState
from driver.hypervisors.base import Guest
from driver.usecases.context import Context, target_of
from driver.wire.commands import Answer, VMSnapshotCommand

REVERT_POWER_CHANGE = (
    "VM Snapshot revert not allowed. This will result in VM state change. You can revert "
    "running VM to disk and memory type snapshot and stopped VM to disk type snapshot"
)


def revert(ctx: Context, cmd: VMSnapshotCommand, raw: Any) -> Answer:
    """Revert to the command's target snapshot (acted on again when resent)."""
    target = target_of(cmd)
    name = target.snapshotName or ""
    paths = ctx.volume_paths(cmd.volumeTOs or [])

    def work(_op_id: int) -> Answer:
        snap = ctx.store.get(cmd.vmName, name)
        if snap is None:
            raise NotFound(f"Cannot find vmSnapshot with name: {name}")
        guest = ctx.guest(cmd.vmName, "Revert to VM Snapshot")
        disks = guest.disks()
        ctx.check_disks(cmd.vmName, disks, paths)
        if sorted((d.target, d.path) for d in snap.disks) != sorted(
                (d.target, d.path) for d in disks):
            raise InvalidRequest(
                f"The volumes of {cmd.vmName} differ from those of snapshot {name}; "
                "revert refused"
            )
        power = guest.power_state()
        wanted = PowerState.ON if snap.has_memory else PowerState.OFF
        if power is not wanted:
            if not ctx.settings.allow_power_change_on_revert:
                raise InvalidRequest(REVERT_POWER_CHANGE)
            if power is PowerState.ON:
                guest.stop()
        state = guest.revert(snap)
        if snap.has_memory and snap.quiesced:
            _thaw_after_revert(ctx, guest)
        tree = ctx.store.tree(cmd.vmName)
        tree.make_current(name)
        ctx.store.save_tree(cmd.vmName, tree)
        return Answer(volumeTOs=ctx.volumes_out(guest, cmd.volumeTOs or []),
                      vmState=state.value)

    return ctx.journaled("revert", cmd.vmName, name, raw, work)


def _thaw_after_revert(ctx: Context, guest: Guest) -> None:
    """A memory snapshot taken frozen resumes frozen: thaw once the agent is back."""
    deadline = time.monotonic() + ctx.settings.freeze_timeout
    while True:
        try:
            guest.thaw()
            return
        except DriverError as exc:
            if time.monotonic() > deadline:
                raise QuiesceError(
                    f"The guest was reverted but could not be thawed: {exc.details}"
                ) from None
            time.sleep(0.2)
