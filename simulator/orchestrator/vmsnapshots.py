"""VM snapshot rules: allocation checks in CloudStack's order and words, the create, revert
and delete jobs, delete-all, and crash recovery. Parent links and ``current`` move only
through the driver's one tree (:mod:`driver.core.tree`), and states only through its one
state machine (:func:`driver.core.model.transition`)."""

from __future__ import annotations

import time
from typing import Any

from driver.core.errors import InvalidTransition
from driver.core.model import Event, State, transition
from driver.core.tree import SnapshotTree
from driver.wire.objects import VolumeObjectTO
from simulator.errors import ApiError, CloudRuntime, ParamError
from simulator.models import VM, VMSnapshot, Volume
from simulator.orchestrator import storage, wire
from simulator.orchestrator.core import ACTIVE, Caller, Context, snap_str, vm_str

OTHER_TASKS = "There is other active vm snapshot tasks on the instance, please try again later"


class VmSnapshots:
    """Create, revert and delete VM snapshots through the host."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.store = ctx.store
        self.config = ctx.config
        self.lock = ctx.lock

    # --- the tree and the states --------------------------------------------------------------

    def tree(self, vm: VM, *, without: int | None = None) -> SnapshotTree[int]:
        """The tree of ``vm``'s snapshots as stored (leaving out ``without``)."""
        snaps = [s for s in self.ctx.snapshots_of(vm) if s.id != without]
        current = next((s.id for s in snaps if s.current), None)
        ids = {s.id for s in snaps}
        return SnapshotTree.build(
            ((s.id, s.parent_id if s.parent_id in ids else None) for s in snaps), current)

    def _relinked(self, vm: VM, tree: SnapshotTree[int], *,
                  mine: VMSnapshot | None = None) -> list[VMSnapshot]:
        """The records of ``vm``'s snapshots whose parent link or current flag ``tree``
        changes, changed but not saved (``mine`` stands in for its stored record)."""
        links = tree.links()
        out = []
        for snap in self.ctx.snapshots_of(vm):
            if mine is not None and snap.id == mine.id:
                snap = mine
            if snap.id not in links:
                continue
            parent, current = links[snap.id], tree.current == snap.id
            if (snap.parent_id, snap.current) != (parent, current):
                snap.parent_id, snap.current = parent, current
                out.append(snap)
        return out

    def _store_tree(self, vm: VM, tree: SnapshotTree[int]) -> None:
        """Write the tree's parent links and current pointer back to the records it holds."""
        for snap in self._relinked(vm, tree):
            self.store.save(snap)

    @staticmethod
    def _move(snap: VMSnapshot, event: Event) -> None:
        """Change ``snap``'s state by ``event`` through the state machine (not saved)."""
        snap.state = transition(State(snap.state), event).value

    def ancestors(self, snap: VMSnapshot) -> list[VMSnapshot]:
        """Parent, grandparent, ... (the chain a VMSnapshotTO nests), from one query."""
        by_id = {s.id: s for s in self.store.find(VMSnapshot, vm_id=snap.vm_id)}
        out: list[VMSnapshot] = []
        parent = by_id.get(snap.parent_id) if snap.parent_id is not None else None
        while parent is not None:
            out.append(parent)
            parent = by_id.get(parent.parent_id) if parent.parent_id is not None else None
        return out

    def current_snapshot(self, vm: VM) -> VMSnapshot | None:
        return next((s for s in self.ctx.snapshots_of(vm) if s.current), None)

    def volume_tos(self, vm: VM) -> list[VolumeObjectTO]:
        return [wire.volume_to(v, vm, pool) for v, pool in self.ctx.disks(vm)]

    def _resized(self, vm: VM, answer: Any) -> list[Volume]:
        """``vm``'s volumes with the chain sizes the answer reports (not saved)."""
        by_uuid = {to.uuid: to for to in answer.volumeTOs or []}
        out = []
        for volume in self.ctx.attached(vm):
            to = by_uuid.get(volume.uuid)
            if to is not None and to.size is not None:
                volume.chain_size = to.size
                out.append(volume)
        return out

    def _update_chain_sizes(self, vm: VM, answer: Any) -> None:
        for volume in self._resized(vm, answer):
            self.store.save(volume)

    def _internal_name(self, vm: VM) -> str:
        base = f"{vm.instance_name}_VS_{time.strftime('%Y%m%d%H%M%S', time.gmtime())}"
        name, n = base, 0
        while self.store.name_taken(VMSnapshot, name, vm.id):
            n += 1
            name = f"{base}_{n}"
        return name

    def _vm_of(self, snap_id: int) -> int:
        """The VM a snapshot belongs to (it never changes), to lock that VM's section; 0 if
        there is no such snapshot (the section then says so in its own words)."""
        found = self.store.get(VMSnapshot, snap_id)
        return found.vm_id if found is not None else 0

    # --- create -----------------------------------------------------------------------------

    def allocate_vm_snapshot(self, caller: Caller, vm: VM, name: str | None,
                             description: str | None, memory: bool,
                             quiesce: bool) -> VMSnapshot:
        """The synchronous part of createVMSnapshot; errors come back as HTTP 530."""
        try:
            with self.lock.vm(vm.id):
                return self._allocate(vm, name, description, memory, quiesce)
        except ApiError as exc:
            raise CloudRuntime(f"Failed to create vm snapshot: {exc.text}",
                               cserrorcode=exc.cserrorcode) from None

    def _allocate(self, vm: VM, name: str | None, description: str | None, memory: bool,
                  quiesce: bool) -> VMSnapshot:
        if not self.ctx.capabilities().vm_snapshot:
            raise ParamError("VM snapshot is not enabled for hypervisor type: KVM")
        prefix = "Creating VM snapshot failed due to length of VM snapshot"
        if name is not None and len(name) > 255:
            raise ParamError(f"{prefix} vsDisplayName should not exceed 255")
        if description is not None and len(description) > 255:
            raise ParamError(f"{prefix} vsDescription should not exceed 255")
        if vm.state not in ("Running", "Stopped"):
            raise ParamError(f"Creating vm snapshot failed due to VM:{vm.id} is not in the "
                             "running or Stopped state")
        if memory and vm.state != "Running":
            raise ParamError("Can not snapshot memory when VM is not in Running state")
        if not any(v.type == "ROOT" and v.state == "Ready" for v in self.ctx.attached(vm)):
            raise CloudRuntime(f"Unable to find root volume for the user vm:{vm.uuid}")
        if not memory and vm.state == "Running" \
                and not self.ctx.setting("kvm.vmstoragesnapshot.enabled") \
                and any(storage.volume_format(pool) != "QCOW2" for _, pool in self.ctx.disks(vm)):
            # A disk-only snapshot of a running VM on volumes that are not qcow2 is
            # CloudStack's storage-based strategy, which this setting turns off.
            raise CloudRuntime(f"No strategy was able to handle requested snapshot for VM "
                               f"[{vm.uuid}].")
        snaps = self.ctx.snapshots_of(vm)
        limit = self.ctx.setting("vmsnapshot.max")
        if len(snaps) >= limit:
            raise CloudRuntime(f"Creating vm snapshot failed due to a VM can just have : "
                               f"{limit} VM snapshots. Please delete old ones")
        if self.ctx.volume_snapshot_active(vm):
            raise CloudRuntime("There is other active volume snapshot tasks on the instance to "
                               "which the volume is attached, please try again later.")
        if any(s.state in ACTIVE for s in snaps):
            raise CloudRuntime(OTHER_TASKS)
        internal = self._internal_name(vm)
        snap = VMSnapshot(
            name=internal, display_name=name or internal, vm_id=vm.id,
            account_id=vm.account_id, domain_id=vm.domain_id,
            service_offering_id=vm.service_offering_id,
            type="DiskAndMemory" if memory and vm.state == "Running" else "Disk",
            description=description or "", quiesce=quiesce)
        return self.store.add(snap)

    def take_vm_snapshot(self, snap_id: int) -> VMSnapshot:
        """The createVMSnapshot job: Creating, the agent command, then Ready or Error."""
        vm_id = self._vm_of(snap_id)
        with self.lock.vm(vm_id):
            found = self.store.get(VMSnapshot, snap_id)
            vm = self.store.get(VM, found.vm_id) if found else None
            if found is None or vm is None or found.removed \
                    or found.state != State.ALLOCATED.value:
                # Removed meanwhile: a destroy of the VM queued before this job took it.
                raise CloudRuntime(f"VM snapshot id: {snap_id} can not be found")
            snap = found
            # The VM may have changed since the request (jobs queued before this one stopped
            # or destroyed it): then the snapshot never reaches the host.
            refusal = None
            if vm.state not in ("Running", "Stopped"):
                refusal = (f"Creating vm snapshot failed due to VM:{vm.id} is not in the "
                           "running or Stopped state")
            elif snap.type == "DiskAndMemory" and vm.state != "Running":
                refusal = "Can not snapshot memory when VM is not in Running state"
            if refusal is not None:
                snap.removed = time.time()
                self.store.save(snap)
                raise CloudRuntime(refusal)
            tree = self.tree(vm, without=snap.id)
            snap.parent_id = tree.add(snap.id)  # under the current snapshot
            self._move(snap, Event.CREATE_REQUESTED)
            self.store.save(snap)
            command = wire.vm_snapshot_command(
                "CreateVMSnapshotCommand", vm,
                wire.snapshot_to(snap, self.ancestors(snap), quiesce=snap.quiesce),
                self.volume_tos(vm), wait=int(self.ctx.setting("vmsnapshot.create.wait")))
        self.ctx.pause("createVMSnapshot")
        answer = self.ctx.send(command, timeout=max(60, 2 * int(self.ctx.setting(
            "vmsnapshot.create.wait"))))
        return self._created(snap_id, answer)

    def _created(self, snap_id: int, answer: Any) -> VMSnapshot:
        """Apply the host's answer to a create: Ready (and current), or Error."""
        with self.lock.vm(self._vm_of(snap_id)):
            snap = self.store.load(VMSnapshot, snap_id)
            vm = self.store.load(VM, snap.vm_id)
            if not answer.result:
                self._move(snap, Event.OPERATION_FAILED)
                self.store.save(snap)
                detail = f" due to {answer.details}" if answer.details else ""
                raise CloudRuntime(f"Failed to create vm snapshot: [{snap_str(snap)}] due to: "
                                   f"Creating VM snapshot: {snap.name} failed{detail}")
            self._move(snap, Event.OPERATION_SUCCEEDED)
            snap.freeze_window_ms = answer.freezeWindowMs
            snap.guest_pause_ms = answer.guestPauseMs
            sizes = {v.id: v.chain_size or 0 for v in self.ctx.attached(vm)}
            resized = self._resized(vm, answer)
            if any(to.size is not None for to in answer.volumeTOs or []):
                after = sizes | {v.id: v.chain_size or 0 for v in resized}
                snap.physical_size = max(0, sum(after.values()) - sum(sizes.values()))
            tree = self.tree(vm)
            tree.make_current(snap.id)
            relinked = [r for r in self._relinked(vm, tree, mine=snap) if r.id != snap.id]
            # Everything is read first (the VM's section keeps it still); the store's write
            # lock is then held only for one short commit of every change.
            with self.store.tx():
                for record in [*resized, *relinked, snap]:
                    self.store.save(record)
            return snap

    # --- revert -----------------------------------------------------------------------------

    def revert_vm_snapshot(self, snap_id: int) -> VM:
        """The revertToVMSnapshot job: its checks fail the job with 431."""
        with self.lock:
            found = self.store.get(VMSnapshot, snap_id)
            if found is None or found.removed:
                raise ParamError(f"unable to find the vm snapshot with id {snap_id}")
            snap = found
            vm_or_none = self.store.get(VM, snap.vm_id)
            if vm_or_none is None or vm_or_none.removed:
                raise ParamError(f"Revert vm to snapshot: {snap_str(snap)} failed due to vm: "
                                 f"{snap.vm_id} is not found")
            vm = vm_or_none
            if self.ctx.has_active_tasks(vm):
                raise ParamError(OTHER_TASKS)
            if vm.state not in ("Running", "Stopped"):
                raise ParamError("VM Snapshot reverting failed due to vm is not in the state of "
                                 "Running or Stopped.")
            if (vm.state == "Running") != (snap.type == "DiskAndMemory"):
                raise ParamError(
                    "VM Snapshot revert not allowed. This will result in VM state change. You "
                    "can revert running VM to disk and memory type snapshot and stopped VM to "
                    "disk type snapshot")
            try:
                self._move(snap, Event.REVERT_REQUESTED)
            except InvalidTransition:
                raise ParamError("VM Snapshot reverting failed due to vm snapshot is not in the "
                                 "state of Created.") from None
            self.store.save(snap)
            command = wire.vm_snapshot_command(
                "RevertToVMSnapshotCommand", vm,
                wire.snapshot_to(snap, self.ancestors(snap), quiesce=True), self.volume_tos(vm))
        self.ctx.pause("revertToVMSnapshot")
        return self._reverted(snap_id, self.ctx.send(command))

    def _reverted(self, snap_id: int, answer: Any) -> VM:
        """Apply the host's answer to a revert (the snapshot is Ready again either way)."""
        with self.lock:
            snap = self.store.load(VMSnapshot, snap_id)
            vm = self.store.load(VM, snap.vm_id)
            # A failed revert leaves the snapshot usable (Reverting -> Ready either way).
            self._move(snap, Event.OPERATION_SUCCEEDED if answer.result
                       else Event.OPERATION_FAILED)
            self.store.save(snap)
            if not answer.result:
                raise CloudRuntime(f"Unable to revert VM {vm.instance_name} to snapshot "
                                   f"{snap.name}.")
            tree = self.tree(vm)
            tree.make_current(snap.id)
            self._store_tree(vm, tree)
            if (self.ctx.setting("vmsnapshot.offering.change") == "restore"
                    and vm.service_offering_id != snap.service_offering_id):
                vm.service_offering_id = snap.service_offering_id
            if answer.vmState in ("PowerOn", "PowerOff"):
                vm.state = "Running" if answer.vmState == "PowerOn" else "Stopped"
            self.store.save(vm)
            self._update_chain_sizes(vm, answer)
            return vm

    # --- delete -----------------------------------------------------------------------------

    def delete_vm_snapshot(self, snap_id: int) -> None:
        """The deleteVMSnapshot job."""
        with self.lock.vm(self._vm_of(snap_id)):
            found = self.store.get(VMSnapshot, snap_id)
            if found is None or found.removed:
                raise ParamError(f"unable to find the vm snapshot with id {snap_id}")
            snap = found
            if snap.state not in ("Ready", "Expunging", "Error"):
                raise ParamError(f"Can't delete the vm snapshotshot {snap_str(snap)} due to it "
                                 "is not in Created or Error, or Expunging State")
            vm = self.store.load(VM, snap.vm_id)
            active = [s for s in self.ctx.snapshots_of(vm) if s.state in ACTIVE]
            expunging = [s for s in active if s.state == "Expunging"]
            if active and not (expunging and expunging[0].id == snap.id):
                raise ParamError(OTHER_TASKS)
            self._move(snap, Event.EXPUNGE_REQUESTED)
            self.store.save(snap)
        self.ctx.pause("deleteVMSnapshot")
        if not self._delete_on_host(vm, snap):
            raise CloudRuntime("Failed to delete vm snapshot")

    def _delete_on_host(self, vm: VM, snap: VMSnapshot) -> bool:
        """Send the delete of an Expunging snapshot; on success re-link the tree and remove
        the record, else Error."""
        with self.lock.vm(vm.id):
            command = wire.vm_snapshot_command(
                "DeleteVMSnapshotCommand", vm,
                wire.snapshot_to(snap, self.ancestors(snap), quiesce=True), self.volume_tos(vm))
        return self._deleted(snap.id, self.ctx.send(command))

    def _deleted(self, snap_id: int, answer: Any) -> bool:
        """Apply the host's answer to a delete: the record goes, or it is Error."""
        with self.lock.vm(self._vm_of(snap_id)):
            snap = self.store.load(VMSnapshot, snap_id)
            vm = self.store.load(VM, snap.vm_id)
            if not answer.result:
                self._move(snap, Event.OPERATION_FAILED)
                self.store.save(snap)
                return False
            tree = self.tree(vm)
            tree.remove(snap.id)
            relinked = self._relinked(vm, tree)
            self._move(snap, Event.OPERATION_SUCCEEDED)
            snap.current = False
            snap.removed = time.time()
            resized = self._resized(vm, answer)
            with self.store.tx():  # read first, then one short commit (as in the create)
                for record in [*relinked, snap, *resized]:
                    self.store.save(record)
            return True

    def delete_all_vm_snapshots(self, vm: VM, only_type: str | None = None,
                                failure: str | None = None) -> None:
        """Delete every VM snapshot of ``vm`` (of ``only_type``) through the host, newest
        first, stopping at the first failure (destroy; the offering-change discard)."""
        for snap in sorted(self.ctx.snapshots_of(vm), key=lambda s: -s.id):
            if only_type and snap.type != only_type:
                continue
            if snap.state == State.ALLOCATED.value:  # never reached the host
                snap.removed = time.time()
                self.store.save(snap)
                continue
            with self.lock:
                self._move(snap, Event.EXPUNGE_REQUESTED)
                self.store.save(snap)
            if not self._delete_on_host(vm, snap):
                raise CloudRuntime((failure or "Unable to delete vm snapshots for {vm}").format(
                    vm=vm_str(vm), id=snap.id))

    def remove_vm_snapshot_records(self, vm: VM) -> None:
        """Expunge: the records go (the host's data went with the destroy)."""
        for snap in self.ctx.snapshots_of(vm):
            if snap.state != State.ALLOCATED.value:
                self._move(snap, Event.EXPUNGE_REQUESTED)
                self._move(snap, Event.OPERATION_SUCCEEDED)
            snap.current = False
            snap.removed = time.time()
            self.store.save(snap)

    # --- crash recovery ---------------------------------------------------------------------

    def resume(self, kind: str, snap_id: int, answer: Any) -> tuple[str, bool]:
        """Apply the answer to a command resent at start-up, if the snapshot still waits for
        it (a record already settled is left alone); return what happened, and whether the
        command's work is done (the answer was a success and the records now hold it)."""
        waiting = {"CreateVMSnapshotCommand": State.CREATING.value,
                   "RevertToVMSnapshotCommand": State.REVERTING.value,
                   "DeleteVMSnapshotCommand": State.EXPUNGING.value}[kind]
        snap = self.store.get(VMSnapshot, snap_id)
        if snap is None or snap.removed or snap.state != waiting:
            return "already settled", False
        try:
            if kind == "CreateVMSnapshotCommand":
                self._created(snap_id, answer)
            elif kind == "RevertToVMSnapshotCommand":
                self._reverted(snap_id, answer)
            else:
                self._deleted(snap_id, answer)
        except ApiError as exc:
            return f"the host refused it: {exc.text}", False
        return "the host's answer applied", bool(answer.result)

    def recover_vm_snapshots(self) -> None:
        """After a restart: no snapshot stays in a transitional state."""
        for snap in self.store.find(VMSnapshot):
            if snap.state == State.ALLOCATED.value:
                snap.removed = time.time()
            elif snap.state in (State.CREATING.value, State.EXPUNGING.value,
                                State.REVERTING.value):
                self._move(snap, Event.OPERATION_FAILED)
            else:
                continue
            self.store.save(snap)
