"""The use cases behind each agent command: per-VM lock, journal, quiesce, backend, records.

Each public method takes a decoded command and returns an answer; it never raises for
anything a client can send. A failed operation leaves the hypervisor and the records as
they were before it.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Any

from driver.core.errors import (
    Busy,
    DriverError,
    InvalidRequest,
    NotFound,
    QuiesceError,
)
from driver.core.model import PowerState, Snapshot, SnapshotType
from driver.hypervisors.base import DiskInfo, Guest, Hypervisor
from driver.journal import Journal
from driver.logs import log_context
from driver.metrics import Metrics
from driver.names import check_snapshot_name
from driver.paths import inside, resolve_volume
from driver.quiesce import FreezeWindow, Quiescer, thaw_quietly
from driver.settings import Settings
from driver.store import Database, SnapshotStore
from driver.wire.commands import (
    Answer,
    AnswerSchema,
    FreezeThawVMCommand,
    RestoreVMSnapshotCommand,
    VMSnapshotCommand,
)
from driver.wire.envelope import Decoded, answer_class
from driver.wire.objects import VMSnapshotTO, VolumeObjectTO

log = logging.getLogger(__name__)

REVERT_POWER_CHANGE = (
    "VM Snapshot revert not allowed. This will result in VM state change. You can revert "
    "running VM to disk and memory type snapshot and stopped VM to disk type snapshot"
)


def busy_text(vm: str) -> str:
    return f"There is other active vm snapshot tasks on the instance {vm}, please try again later"


@dataclass
class _Slot:
    """The operation holding a VM, so a resend of the same command can wait for its answer."""

    kind: str
    snapshot: str
    done: threading.Event = field(default_factory=threading.Event)
    answer: Answer | None = None


def _journal_copy(raw: Any) -> dict[str, Any]:
    """What recovery needs of a command: everything but the target's ancestor chain."""
    if not isinstance(raw, dict):
        return {}
    copy = dict(raw)
    if isinstance(copy.get("target"), dict):
        copy["target"] = {k: v for k, v in copy["target"].items() if k != "parent"}
    return copy


def failure(details: str) -> Answer:
    return Answer(result=False, details=details)


class SnapshotService:
    """Create, revert, delete, restore and freeze/thaw on one hypervisor host."""

    def __init__(self, hypervisor: Hypervisor, db: Database, settings: Settings,
                 metrics: Metrics | None = None) -> None:
        self.hv = hypervisor
        self.settings = settings
        self.store = SnapshotStore(db)
        self.journal = Journal(db)
        self.metrics = metrics or Metrics()
        self.quiescer = Quiescer(settings.freeze_timeout, settings.max_freeze_window,
                                 on_window=self.metrics.observe_window)
        self._slots: dict[str, _Slot] = {}
        self._guard = threading.Lock()
        self._freeze_timers: dict[str, threading.Timer] = {}
        self._handlers: dict[str, Callable[[Any, Any], Answer]] = {
            "CreateVMSnapshotCommand": self.create,
            "RevertToVMSnapshotCommand": self.revert,
            "DeleteVMSnapshotCommand": self.delete,
            "RestoreVMSnapshotCommand": self.restore,
            "FreezeThawVMCommand": self.freeze_thaw,
        }
        from driver.lifecycle import Lifecycle

        self._handlers.update(Lifecycle(self).handlers())

    # --- dispatch ---------------------------------------------------------------------------

    def execute(self, item: Decoded) -> tuple[str, Answer]:
        """Run one decoded command; return its answer class name and answer."""
        name = answer_class(item)
        if item.command_type is None:
            return name, failure(item.error or "Invalid command")
        short = item.command_type.short
        if item.error is not None:
            self.metrics.operations.labels(short, "failure").inc()
            self.metrics.failures.labels(short, "InvalidCommand").inc()
            return name, failure(item.error)
        started = time.monotonic()
        try:
            answer = self._handlers[short](item.command, item.raw)
        except DriverError as exc:  # raised before an operation began (validation, busy)
            answer = failure(exc.details)
            self.metrics.failures.labels(short, type(exc).__name__).inc()
        except Exception:  # a bug: log it, never send a trace to the client
            log.exception("unexpected error", extra={"command": short})
            answer = failure(f"Internal error in the driver while handling {short}")
            self.metrics.failures.labels(short, "Internal").inc()
        self.metrics.operations.labels(short, "success" if answer.result else "failure").inc()
        self.metrics.duration.labels(short).observe(time.monotonic() - started)
        return name, answer

    @contextmanager
    def _exclusive(self, vm: str, kind: str, snapshot: str) -> Iterator[_Slot]:
        """Hold the VM for one operation. A different concurrent operation is refused; a
        resend of the one in progress waits and gets its answer."""
        while True:
            with self._guard:
                slot = self._slots.get(vm)
                if slot is None:
                    slot = self._slots[vm] = _Slot(kind, snapshot)
                    break
                if (slot.kind, slot.snapshot) != (kind, snapshot):
                    raise Busy(busy_text(vm))
            slot.done.wait()
            if slot.answer is not None:
                yield slot
                return
            # the operation we waited for ended without an answer: run it ourselves
        try:
            yield slot
        finally:
            with self._guard:
                self._slots.pop(vm, None)
            slot.done.set()

    def _run(self, kind: str, vm: str, snapshot: str, raw: Any,
             work: Callable[[int], Answer]) -> Answer:
        """Journal, serialize and run one operation; answer a resend from the journal."""
        with log_context(vm, snapshot), self._exclusive(vm, kind, snapshot) as slot:
            if slot.answer is not None:
                return slot.answer
            # A repeated revert is acted on again: reverting twice gives the same disks, and a
            # user may revert to the same snapshot again after changing the VM.
            stored = self.journal.replay(kind, vm, snapshot) if kind != "revert" else None
            if stored is not None:
                log.info("answered a resent %s from the journal", kind)
                return AnswerSchema().load(stored)
            op_id = self.journal.begin(kind, vm, snapshot, _journal_copy(raw))
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
            self.journal.finish(op_id, answer.result, AnswerSchema().dump(answer))
            slot.answer = answer
            return answer

    # --- helpers ----------------------------------------------------------------------------

    @staticmethod
    def _target(cmd: VMSnapshotCommand) -> VMSnapshotTO:
        if cmd.target is None or not cmd.target.snapshotName:
            raise InvalidRequest("The command has no target snapshot name")
        check_snapshot_name(cmd.target.snapshotName)
        return cmd.target

    def _guest(self, vm: str, doing: str) -> Guest:
        try:
            return self.hv.guest(vm)
        except NotFound:
            raise NotFound(f"{doing} failed due to can not find vm: {vm}") from None

    def _volume_paths(self, volumes: list[VolumeObjectTO]) -> list[str]:
        return [resolve_volume(v, self.settings.storage_pools) for v in volumes]

    def _check_disks(self, vm: str, disks: list[DiskInfo], volume_paths: list[str]) -> None:
        """Every disk inside the pools, and the command's volumes are exactly the VM's disks."""
        outside = [d.target for d in disks if not inside(d.path, self.settings.storage_pools)]
        if outside:
            raise InvalidRequest(
                f"Disks {', '.join(outside)} of {vm} are outside the configured storage pools"
            )
        if volume_paths:
            have = {os.path.realpath(d.path) for d in disks}
            if have != set(volume_paths):
                raise InvalidRequest(
                    f"The volumes in the command do not match the disks of {vm}"
                )

    def _volumes_out(self, guest: Guest | None,
                     volumes: list[VolumeObjectTO]) -> list[VolumeObjectTO]:
        """Echo the volumes back with ``size`` set to what each image now holds on storage."""
        out = []
        for vol in volumes:
            size = None
            if guest is not None and vol.path:
                try:
                    size = guest.stored_bytes(resolve_volume(vol, self.settings.storage_pools))
                except DriverError:
                    size = None
            out.append(replace(vol, size=size) if size is not None else vol)
        return out

    # --- create -----------------------------------------------------------------------------

    def create(self, cmd: VMSnapshotCommand, raw: Any) -> Answer:
        target = self._target(cmd)
        name = target.snapshotName or ""
        memory = target.type == SnapshotType.DISK_AND_MEMORY.value
        paths = self._volume_paths(cmd.volumeTOs or [])

        def work(op_id: int) -> Answer:
            guest = self._guest(cmd.vmName, "Create VM Snapshot")
            if self.store.get(cmd.vmName, name) is not None:
                return self._created_answer(guest, cmd, None)
            power = guest.power_state()
            if memory and power is not PowerState.ON:
                raise InvalidRequest("Can not snapshot memory when VM is not in Running state")
            disks = guest.disks()
            self._check_disks(cmd.vmName, disks, paths)
            tree = self.store.tree(cmd.vmName)
            parent_name = target.parent.snapshotName if target.parent else None
            parent = parent_name if parent_name in tree else tree.current
            window = self._capture(op_id, guest, name, memory, target, power)
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
                self.store.save_tree(cmd.vmName, tree, added=record)
            except Exception:
                guest.delete(record)  # never leave data the records do not know
                raise
            return self._created_answer(guest, cmd, window)

        return self._run("create", cmd.vmName, name, raw, work)

    def _capture(self, op_id: int, guest: Guest, name: str, memory: bool, target: VMSnapshotTO,
                 power: PowerState) -> FreezeWindow | None:
        description = target.description or ""
        guest.preflight(name, memory=memory)
        if not target.quiescevm or power is not PowerState.ON:
            # A stopped VM has nothing mounted: its disks are consistent as they are.
            guest.capture(name, memory=memory, description=description)
            guest.verify(name, memory=memory)
            return None
        self.journal.set_frozen(op_id, True)  # before freezing: recovery thaws if we crash
        captured = False
        try:
            with self.quiescer.frozen(guest) as window:
                guest.capture(name, memory=memory, description=description)
                captured = True
        except QuiesceError:
            if captured:  # the watchdog thawed mid-capture: this is not a quiesced snapshot
                guest.delete(Snapshot(guest.name, name, SnapshotType.DISK, disks=[
                    d.as_disk() for d in guest.disks()]))
            raise
        finally:
            self.journal.set_frozen(op_id, False)
        guest.verify(name, memory=memory)
        log.info("quiesced capture", extra={"freeze_window_ms": window.ms,
                                            "filesystems": window.filesystems})
        return window

    def _created_answer(self, guest: Guest, cmd: VMSnapshotCommand,
                        window: FreezeWindow | None) -> Answer:
        record = self.store.get(cmd.vmName, cmd.target.snapshotName or "") if cmd.target else None
        ms = window.ms if window else (record.freeze_window_ms if record else None)
        return Answer(vmSnapshotTo=cmd.target,
                      volumeTOs=self._volumes_out(guest, cmd.volumeTOs or []), freezeWindowMs=ms)

    # --- revert -----------------------------------------------------------------------------

    def revert(self, cmd: VMSnapshotCommand, raw: Any) -> Answer:
        target = self._target(cmd)
        name = target.snapshotName or ""
        paths = self._volume_paths(cmd.volumeTOs or [])

        def work(_op_id: int) -> Answer:
            snap = self.store.get(cmd.vmName, name)
            if snap is None:
                raise NotFound(f"Cannot find vmSnapshot with name: {name}")
            guest = self._guest(cmd.vmName, "Revert to VM Snapshot")
            disks = guest.disks()
            self._check_disks(cmd.vmName, disks, paths)
            if sorted((d.target, d.path) for d in snap.disks) != sorted(
                    (d.target, d.path) for d in disks):
                raise InvalidRequest(
                    f"The volumes of {cmd.vmName} differ from those of snapshot {name}; "
                    "revert refused"
                )
            power = guest.power_state()
            wanted = PowerState.ON if snap.has_memory else PowerState.OFF
            if power is not wanted:
                if not self.settings.allow_power_change_on_revert:
                    raise InvalidRequest(REVERT_POWER_CHANGE)
                if power is PowerState.ON:
                    guest.stop()
            state = guest.revert(snap)
            if snap.has_memory and snap.quiesced:
                self._thaw_after_revert(guest)
            tree = self.store.tree(cmd.vmName)
            tree.make_current(name)
            self.store.save_tree(cmd.vmName, tree)
            return Answer(volumeTOs=self._volumes_out(guest, cmd.volumeTOs or []),
                          vmState=state.value)

        return self._run("revert", cmd.vmName, name, raw, work)

    def _thaw_after_revert(self, guest: Guest) -> None:
        """A memory snapshot taken frozen resumes frozen: thaw once the agent is back."""
        deadline = time.monotonic() + self.settings.freeze_timeout
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

    # --- delete -----------------------------------------------------------------------------

    def delete(self, cmd: VMSnapshotCommand, raw: Any) -> Answer:
        target = self._target(cmd)
        name = target.snapshotName or ""
        self._volume_paths(cmd.volumeTOs or [])

        def work(_op_id: int) -> Answer:
            snap = self.store.get(cmd.vmName, name)
            try:
                guest: Guest | None = self.hv.guest(cmd.vmName)
            except NotFound:
                guest = None
            if snap is None:
                # Already gone: succeed, but leave nothing of that name on the hypervisor.
                if guest is not None:
                    ghost = Snapshot(cmd.vmName, name, SnapshotType(target.type or "Disk"),
                                     disks=[d.as_disk() for d in guest.disks()])
                    if guest.has_snapshot(ghost):
                        guest.delete(ghost)
                return Answer(volumeTOs=self._volumes_out(guest, cmd.volumeTOs or []))
            if guest is None:
                self.hv.delete_from_files(snap)
            else:
                guest.delete(snap)
            tree = self.store.tree(cmd.vmName)
            tree.remove(name)
            self.store.save_tree(cmd.vmName, tree, removed=name)
            return Answer(volumeTOs=self._volumes_out(guest, cmd.volumeTOs or []))

        return self._run("delete", cmd.vmName, name, raw, work)

    # --- restore ----------------------------------------------------------------------------

    def restore(self, cmd: RestoreVMSnapshotCommand, raw: Any) -> Answer:
        for to in cmd.snapshots:
            check_snapshot_name(to.snapshotName or "")
        parents = {
            key: (p.snapshotName if p is not None else None)
            for key, p in (cmd.snapshotAndParents or {}).items()
        }

        def work(_op_id: int) -> Answer:
            guest = self._guest(cmd.vmName, "Restore VM Snapshot")
            disks = [d.as_disk() for d in guest.disks()]
            tree = self.store.tree(cmd.vmName)
            pending = [to for to in cmd.snapshots if (to.snapshotName or "") not in tree]
            current = next((to.snapshotName for to in cmd.snapshots if to.current), None)
            while pending:
                placed = False
                for to in list(pending):
                    parent = parents.get(str(to.id))
                    if parent is not None and parent not in tree and any(
                            p.snapshotName == parent for p in pending):
                        continue  # its parent comes first
                    name = to.snapshotName or ""
                    record = Snapshot(
                        vm=cmd.vmName, name=name, type=SnapshotType(to.type or "Disk"),
                        parent=parent if parent in tree else None,
                        created=(to.createTime or time.time() * 1000) / 1000.0,
                        description=to.description or "", disks=disks,
                    )
                    guest.redefine(record)
                    tree.add(name, record.parent, use_current=False)
                    self.store.save_tree(cmd.vmName, tree, added=record)
                    pending.remove(to)
                    placed = True
                if not placed:
                    raise InvalidRequest("The snapshots' parents form a cycle")
            if current is not None and current in tree:
                tree.make_current(current)
                self.store.save_tree(cmd.vmName, tree)
            return Answer(volumeTOs=cmd.volumeTOs, vmState=guest.power_state().value)

        return self._run("restore", cmd.vmName, "*", raw, work)

    # --- freeze / thaw ----------------------------------------------------------------------

    def freeze_thaw(self, cmd: FreezeThawVMCommand, raw: Any) -> Answer:
        vm, option = cmd.vmName, cmd.option
        guest = self._guest(vm, f"Failed to {option}")
        if option == "status":
            return Answer(details=guest.freeze_status())
        if guest.power_state() is not PowerState.ON:
            raise InvalidRequest(f"{option} of VM failed due to vm {vm} is not running")
        with self._guard:
            timer = self._freeze_timers.pop(vm, None)
        if timer is not None:
            timer.cancel()
        if option == "thawed":
            guest.thaw()
            return Answer(details=f"thawed of VM - {vm} is successful")
        self.quiescer.freeze(guest)
        # A management server that never sends the thaw must not leave the guest frozen.
        timer = threading.Timer(self.settings.max_freeze_window, thaw_quietly, args=(guest,))
        timer.daemon = True
        with self._guard:
            self._freeze_timers[vm] = timer
        timer.start()
        return Answer(details=f"frozen of VM - {vm} is successful")

    # --- views ------------------------------------------------------------------------------

    def tree_view(self, vm: str) -> dict[str, Any]:
        """The VM's snapshots, roots first and each parent before its children (flat, so a
        chain of any depth renders), with the links both ways, for humans and tools."""
        snaps = {s.name: s for s in self.store.all(vm)}
        tree = self.store.tree(vm)
        order: list[str] = []
        stack = list(reversed(tree.children(None)))
        while stack:
            name = stack.pop()
            order.append(name)
            stack.extend(reversed(tree.children(name)))
        return {
            "vm": vm, "current": tree.current, "count": len(snaps),
            "snapshots": [{
                "name": n, "type": snaps[n].type.value, "current": snaps[n].current,
                "parent": snaps[n].parent, "children": tree.children(n),
                "created": snaps[n].created, "description": snaps[n].description,
                "quiesced": snaps[n].quiesced, "freezeWindowMs": snaps[n].freeze_window_ms,
                "disks": [d.__dict__ for d in snaps[n].disks],
            } for n in order],
        }
