"""Start-up recovery: finish or undo what a crash interrupted, so records and host agree.

* a guest the driver had frozen is thawed;
* an interrupted create is completed if its record was written, otherwise its half-made
  snapshot is removed from the host;
* an interrupted delete is carried to its end (deletes are idempotent);
* an interrupted revert of a disk snapshot on a stopped VM is applied again; any other
  interrupted revert is reported failed (the snapshot stays usable, as CloudStack does).
"""

from __future__ import annotations

import logging

from marshmallow import ValidationError

from driver.core.errors import DriverError, NotFound
from driver.core.model import PowerState, Snapshot, SnapshotType
from driver.quiesce import thaw_quietly
from driver.service import SnapshotService
from driver.usecases.create import created_answer
from driver.usecases.delete import delete
from driver.usecases.revert import revert
from driver.wire.commands import AnswerSchema, VMSnapshotCommandSchema

log = logging.getLogger(__name__)


def recover(service: SnapshotService) -> list[str]:
    """Resolve every unfinished operation in the journal, then thaw every guest left frozen;
    return one line per action."""
    notes = []
    for op in service.journal.unfinished():
        note = _recover_one(service, op.id, op.kind, op.vm, op.snapshot, op.frozen, op.request)
        notes.append(f"{op.kind} {op.vm}/{op.snapshot}: {note}")
        log.warning("recovered interrupted %s: %s", op.kind, note,
                    extra={"vm": op.vm, "snapshot": op.snapshot})
    return notes + thaw_frozen_guests(service)


def thaw_frozen_guests(service: SnapshotService) -> list[str]:
    """Thaw every running VM this driver has touched whose agent reports frozen filesystems.

    The journal marks a freeze, but not every path that leaves a guest frozen: a revert to a
    quiesced memory snapshot resumes the guest frozen and thaws it afterwards, and a crash in
    between leaves nothing in the journal. So the guest agent is asked
    (``guest-fsfreeze-status``) rather than the journal trusted."""
    notes = []
    for vm in sorted(set(service.journal.vms()) | set(service.store.vms())):
        try:
            guest = service.hv.guest(vm)
            if guest.power_state() is not PowerState.ON or guest.freeze_status() != "frozen":
                continue
        except DriverError:
            continue  # gone, stopped, or no agent to ask: nothing can be frozen
        thawed = thaw_quietly(guest)
        notes.append(f"thaw {vm}: {'thawed' if thawed else 'still frozen, thaw failed'}")
        log.warning("guest found frozen at start-up: %s", "thawed" if thawed else "thaw failed",
                    extra={"vm": vm})
    return notes


def _recover_one(service: SnapshotService, op_id: int, kind: str, vm: str, name: str,
                 frozen: bool, request: dict | None) -> str:
    try:
        guest = service.hv.guest(vm)
    except NotFound:
        guest = None
    except DriverError as exc:
        return f"left for the next start-up: {exc.details}"  # host unreachable: try later
    if kind == "create" and guest is not None and service.store.get(vm, name) is None:
        try:
            # First: a guest paused by the capture cannot be thawed, and a migration left
            # running would keep writing the half-made memory state.
            guest.abandon(name)
        except DriverError as exc:
            log.error("could not undo the interrupted capture: %s", exc.details,
                      extra={"vm": vm, "snapshot": name})
    if frozen and guest is not None:
        thaw_quietly(guest)
    try:
        cmd = VMSnapshotCommandSchema().load(request or {}) if kind != "restore" else None
    except ValidationError:
        cmd = None
    try:
        if kind == "create":
            if service.store.get(vm, name) is not None:
                answer = created_answer(service.ctx, guest, cmd, None) if guest and cmd else None
                service.journal.finish(op_id, True, AnswerSchema().dump(answer) if answer else
                                       {"result": True, "details": ""})
                return "completed (its record had been written)"
            if guest is not None:
                ghost = Snapshot(vm, name, SnapshotType.DISK,
                                 disks=[d.as_disk() for d in guest.disks()])
                if guest.has_snapshot(ghost):
                    guest.delete(ghost)
            service.journal.mark_recovered(op_id, "interrupted; the half-made snapshot was removed")
            return "rolled back"
        if kind == "delete" and cmd is not None:
            service.journal.mark_recovered(op_id, "interrupted; finished at start-up")
            answer = delete(service.ctx, cmd, request)
            return "finished" if answer.result else f"still failing: {answer.details}"
        if kind == "revert" and cmd is not None:
            snap = service.store.get(vm, name)
            if snap is not None and guest is not None and not snap.has_memory:
                service.journal.mark_recovered(op_id, "interrupted; applied again at start-up")
                answer = revert(service.ctx, cmd, request)
                return "applied again" if answer.result else f"still failing: {answer.details}"
        service.journal.mark_recovered(op_id, "interrupted by a driver restart")
        return "marked failed"
    except DriverError as exc:
        service.journal.mark_recovered(op_id, f"recovery failed: {exc.details}")
        return f"recovery failed: {exc.details}"
