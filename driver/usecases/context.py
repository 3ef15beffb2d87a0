"""What every use case shares: the host's collaborators and the steps they all take
(finding the guest, confining volume paths, checking disks, journaling one operation)."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from driver.core.errors import DriverError, InvalidRequest, NotFound
from driver.hypervisors.base import DiskInfo, Guest, Hypervisor
from driver.journal import Journal
from driver.logs import log_context
from driver.metrics import Metrics
from driver.names import check_snapshot_name
from driver.paths import inside, resolve_volume
from driver.quiesce import Quiescer
from driver.settings import Settings
from driver.slots import VmSlots
from driver.storage.rbd import is_rbd
from driver.store import SnapshotStore
from driver.wire.base import schema_of
from driver.wire.commands import Answer, AnswerSchema, VMSnapshotCommand
from driver.wire.objects import VMSnapshotTO, VolumeObjectTO

log = logging.getLogger(__name__)


def failure(details: str) -> Answer:
    """A failed answer with ``details``."""
    return Answer(result=False, details=details)


def journal_copy(raw: Any) -> dict[str, Any]:
    """What recovery needs of a command: everything but the target's ancestor chain."""
    if not isinstance(raw, dict):
        return {}
    copy = dict(raw)
    if isinstance(copy.get("target"), dict):
        copy["target"] = {k: v for k, v in copy["target"].items() if k != "parent"}
    return copy


def target_of(cmd: VMSnapshotCommand) -> VMSnapshotTO:
    """The command's target snapshot, its name checked."""
    if cmd.target is None or not cmd.target.snapshotName:
        raise InvalidRequest("The command has no target snapshot name")
    check_snapshot_name(cmd.target.snapshotName)
    return cmd.target


@dataclass
class Context:
    """One host's collaborators, shared by every use case."""

    hv: Hypervisor
    settings: Settings
    store: SnapshotStore
    journal: Journal
    metrics: Metrics
    quiescer: Quiescer
    slots: VmSlots

    def guest(self, vm: str, doing: str, missing: str | None = None) -> Guest:
        """The guest named ``vm``, or CloudStack's "can not find vm" failure for ``doing``
        (or the whole text ``missing``, where the agent words it otherwise)."""
        try:
            return self.hv.guest(vm)
        except NotFound:
            raise NotFound(missing or f"{doing} Failed due to can not find vm: {vm}") from None

    def volume_paths(self, volumes: list[VolumeObjectTO]) -> list[str]:
        """Each volume's image path, refused unless inside a configured pool."""
        return [self.resolve(v) for v in volumes]

    def resolve(self, volume: VolumeObjectTO) -> str:
        """One volume's image path (a file in a pool, or ``rbd:<pool>/<image>``)."""
        return resolve_volume(volume, self.settings.storage_pools, self.settings.rbd_pools,
                              self.settings.mount_parent)

    def confined(self, path: str) -> bool:
        """Whether a disk path is inside the configured storage."""
        return inside(path, self.settings.storage_pools, self.settings.rbd_pools)

    def check_disks(self, vm: str, disks: list[DiskInfo], volume_paths: list[str]) -> None:
        """Every disk inside the pools, and the command's volumes are exactly the VM's disks."""
        outside = [d.target for d in disks if not self.confined(d.path)]
        if outside:
            raise InvalidRequest(
                f"Disks {', '.join(outside)} of {vm} are outside the configured storage pools"
            )
        if volume_paths:
            have = {d.path if is_rbd(d.path) else os.path.realpath(d.path) for d in disks}
            if have != set(volume_paths):
                raise InvalidRequest(
                    f"The volumes in the command do not match the disks of {vm}"
                )

    def volumes_out(self, guest: Guest | None,
                    volumes: list[VolumeObjectTO]) -> list[VolumeObjectTO]:
        """Echo the volumes back with ``size`` set to what each image now holds on storage."""
        out = []
        for vol in volumes:
            size = None
            if guest is not None and vol.path:
                try:
                    size = guest.stored_bytes(self.resolve(vol))
                except DriverError:
                    size = None
            out.append(replace(vol, size=size) if size is not None else vol)
        return out

    def journaled(self, kind: str, vm: str, snapshot: str, raw: Any,
                  work: Callable[[int], Answer]) -> Answer:
        """Journal, serialize and run one snapshot operation; answer a resend from the
        journal. ``work`` gets the journal entry's id."""
        with log_context(vm, snapshot), self.slots.hold(vm, kind, snapshot) as slot:
            if slot.answer is not None:
                return slot.answer
            # A repeated revert is acted on again: reverting twice gives the same disks, and a
            # user may revert to the same snapshot again after changing the VM. A Restore
            # names a set of snapshots that may differ from the last one's: it is always
            # carried out (it only registers what the host lacks).
            stored = (self.journal.replay(kind, vm, snapshot)
                      if kind not in ("revert", "restore") else None)
            if stored is not None:
                log.info("answered a resent %s from the journal", kind)
                return schema_of(AnswerSchema).load(stored)
            op_id = self.journal.begin(kind, vm, snapshot, journal_copy(raw))
            try:
                answer = work(op_id)
            except DriverError as exc:
                answer = failure(exc.details)
                self.metrics.failures.labels(kind, type(exc).__name__).inc()
                log.warning("%s failed: %s", kind, exc.details)
            except Exception:
                log.exception("unexpected error during %s", kind)
                answer = failure(f"Internal error in the driver during {kind} of {snapshot}")
                self.metrics.failures.labels(kind, "Internal").inc()
            else:
                log.info("%s succeeded", kind)
            self.journal.finish(op_id, answer.result, schema_of(AnswerSchema).dump(answer))
            slot.answer = answer
            return answer

    def vm_op(self, vm: str, kind: str, work: Callable[[], Answer]) -> Answer:
        """Run a VM-scoped lifecycle operation in the VM's slot (not journaled)."""
        with self.slots.hold(vm, kind, "*") as slot:
            if slot.answer is not None:
                return slot.answer
            answer = work()
            slot.answer = answer
            return answer
