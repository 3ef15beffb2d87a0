"""CreateVMSnapshotCommand: capture every disk (and memory) at one instant, quiesced when
asked, then record the snapshot under its parent and make it current."""

from __future__ import annotations

import logging
import time
from typing import Any

from driver.core.errors import DriverError, InvalidRequest
from driver.core.model import PowerState, Snapshot, SnapshotType
from driver.hypervisors.base import CaptureReport, Guest
from driver.quiesce import FreezeWindow
from driver.usecases.context import Context, target_of
from driver.wire.commands import Answer, VMSnapshotCommand
from driver.wire.objects import VMSnapshotTO

log = logging.getLogger(__name__)


def create(ctx: Context, cmd: VMSnapshotCommand, raw: Any) -> Answer:
    """Take the command's target snapshot; a resend is answered from the journal."""
    target = target_of(cmd)
    name = target.snapshotName or ""
    memory = target.type == SnapshotType.DISK_AND_MEMORY.value
    paths = ctx.volume_paths(cmd.volumeTOs or [])

    def work(op_id: int) -> Answer:
        guest = ctx.guest(cmd.vmName, "Create VM Snapshot")
        if ctx.store.get(cmd.vmName, name) is not None:
            return created_answer(ctx, guest, cmd, None)
        power = guest.power_state()
        if memory and power is not PowerState.ON:
            raise InvalidRequest("Can not snapshot memory when VM is not in Running state")
        disks = guest.disks()
        ctx.check_disks(cmd.vmName, disks, paths)
        tree = ctx.store.tree(cmd.vmName)
        parent_name = target.parent.snapshotName if target.parent else None
        parent = parent_name if parent_name in tree else tree.current
        window, report = _capture(ctx, op_id, guest, name, memory, target, power)
        ctx.metrics.observe_capture(report)
        record = Snapshot(
            vm=cmd.vmName, name=name,
            type=SnapshotType.DISK_AND_MEMORY if memory else SnapshotType.DISK,
            parent=parent, created=time.time(), description=target.description or "",
            quiesced=window is not None, freeze_window_ms=window.ms if window else None,
            disks=[d.as_disk() for d in disks],
        )
        try:
            tree.add(name, parent, use_current=False)
            tree.make_current(name)
            ctx.store.save_tree(cmd.vmName, tree, added=record)
        except Exception:
            guest.delete(record)  # never leave data the records do not know
            raise
        return created_answer(ctx, guest, cmd, window, report)

    return ctx.journaled("create", cmd.vmName, name, raw, work)


def _capture(ctx: Context, op_id: int, guest: Guest, name: str, memory: bool,
             target: VMSnapshotTO,
             power: PowerState) -> tuple[FreezeWindow | None, CaptureReport]:
    description = target.description or ""
    plan = guest.preflight(name, memory=memory)  # all that need not be inside the freeze
    try:
        if not target.quiescevm or power is not PowerState.ON:
            # A stopped VM has nothing mounted: its disks are consistent as they are.
            guest.capture(plan, description=description)
            return None, guest.finish(plan)
        ctx.journal.set_frozen(op_id, True)  # before freezing: recovery thaws if we crash
        try:
            # Only the capture's instant is inside the window; a memory stream still being
            # written afterwards (background-snapshot) is finished once the guest is thawed.
            with ctx.quiescer.frozen(guest) as window:
                guest.capture(plan, description=description)
        finally:
            ctx.journal.set_frozen(op_id, False)
        report = guest.finish(plan)
    except DriverError:
        # A failed freeze, or the watchdog thawing mid-capture (not a quiesced snapshot):
        # nothing prepared or captured may stay.
        guest.abandon(name, plan)
        raise
    log.info("quiesced capture", extra={"freeze_window_ms": window.ms,
                                        "guest_pause_ms": report.guest_pause_ms,
                                        "filesystems": window.filesystems})
    return window, report


def created_answer(ctx: Context, guest: Guest, cmd: VMSnapshotCommand,
                   window: FreezeWindow | None, report: CaptureReport | None = None) -> Answer:
    """The answer to a create: the target, the volumes with their stored sizes, the window,
    the guest's pause and how memory was captured."""
    record = ctx.store.get(cmd.vmName, cmd.target.snapshotName or "") if cmd.target else None
    ms = window.ms if window else (record.freeze_window_ms if record else None)
    report = report or CaptureReport()
    return Answer(vmSnapshotTo=cmd.target,
                  volumeTOs=ctx.volumes_out(guest, cmd.volumeTOs or []), freezeWindowMs=ms,
                  guestPauseMs=report.guest_pause_ms, memoryCapture=report.memory_capture)
