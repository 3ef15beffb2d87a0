"""VM lifecycle: deploy, start, stop, reboot, destroy, expunge, recover, change offering."""

from __future__ import annotations

import logging
import time

from driver.wire.commands import Answer
from simulator.errors import CloudRuntime, ParamError
from simulator.models import (
    VM,
    Account,
    DiskOffering,
    Network,
    ServiceOffering,
    StoragePool,
    Template,
    Volume,
)
from simulator.orchestrator import wire
from simulator.orchestrator.core import Caller, Context, vm_str
from simulator.orchestrator.limits import PRIMARY_STORAGE, USER_VM, VOLUME, Limits
from simulator.orchestrator.networks import Networks
from simulator.orchestrator.storage import choose_pool
from simulator.orchestrator.vmsnapshots import VmSnapshots
from simulator.placement import choose_host

log = logging.getLogger(__name__)


def _valid_host_name(name: str) -> bool:
    """RFC 1123 host name rules as CloudStack applies them to a VM's name."""
    return (0 < len(name) <= 63 and name.replace("-", "").isalnum() and name.isascii()
            and not name.startswith("-") and not name.endswith("-") and not name[0].isdigit())


class Vms:
    """VM lifecycle through the host; VM snapshots go with their VM."""

    def __init__(self, ctx: Context, vm_snapshots: VmSnapshots, networks: Networks,
                 limits: Limits) -> None:
        self.ctx = ctx
        self.store = ctx.store
        self.config = ctx.config
        self.lock = ctx.lock
        self.vm_snapshots = vm_snapshots
        self.networks = networks
        self.limits = limits

    def _host_id(self, zone_id: int, offering: ServiceOffering) -> int:
        """The host the new VM is placed on, for good (see :mod:`simulator.placement`)."""
        return choose_host(self.store, zone_id, offering.host_tags).id

    def allocate_vm(self, caller: Caller, zone_id: int, template: Template,
                    offering: ServiceOffering, name: str | None,
                    data_disk: tuple[int, int] | None, *, owner: Account | None = None,
                    display_name: str | None = None, network: Network | None = None,
                    root_size: int | None = None, keypair: str | None = None,
                    userdata: str | None = None) -> VM:
        """Records for a new VM (Stopped) of ``owner`` (the caller's account by default):
        its ROOT volume, optional data volume and default NIC. Without ``name`` the host
        name is generated (``VM-<uuid>``); the display name is free text."""
        if name is not None and not _valid_host_name(name):
            raise ParamError("Invalid name. Vm name can contain ASCII letters 'a' through 'z', "
                             "the digits '0' through '9', and the hyphen ('-'), must be between "
                             "1 and 63 characters long, and can't start or end with \"-\" and "
                             "can't start with digit")
        account = owner or caller.account
        root = max(root_size or 0, template.size)
        what = f"VM {name or 'new'}"
        root_pool = choose_pool(self.store, zone_id, offering.tags, what=what)
        data_pool = None
        if data_disk is not None:
            disk_offering = self.store.get(DiskOffering, data_disk[0])
            data_pool = choose_pool(self.store, zone_id,
                                    disk_offering.tags if disk_offering else "", what=what)
        with self.lock:
            self.limits.check(account, USER_VM, 1)
            self.limits.check(account, VOLUME, 1 if data_disk is None else 2)
            self.limits.check(account, PRIMARY_STORAGE, root + (data_disk[1] if data_disk else 0))
            network = network or self.networks.default_network(account, zone_id)
            vm = self.store.add(VM(
                name="", instance_name="", account_id=account.id,
                domain_id=account.domain_id, zone_id=zone_id, template_id=template.id,
                service_offering_id=offering.id, host_id=self._host_id(zone_id, offering),
                guest_agent=template.guest_agent, keypair=keypair, userdata=userdata))
            vm.instance_name = f"i-{account.id}-{vm.id}-VM"
            vm.name = name or f"VM-{vm.uuid}"
            vm.display_name = display_name or vm.name
            self.store.save(vm)
            self._new_volume(vm, "ROOT", f"ROOT-{vm.id}", root, 0, None, root_pool)
            if data_disk is not None and data_pool is not None:
                offering_id, size = data_disk
                self._new_volume(vm, "DATADISK", f"DATA-{vm.id}", size, 1, offering_id,
                                 data_pool)
            self.networks.add_default_nic(vm, network)
            return vm

    def _new_volume(self, vm: VM, kind: str, name: str, size: int, device: int,
                    offering_id: int | None, pool: StoragePool) -> Volume:
        volume = self.store.add(Volume(
            name=name, account_id=vm.account_id, domain_id=vm.domain_id, zone_id=vm.zone_id,
            type=kind, size=size, path="", vm_id=vm.id, device_id=device,
            disk_offering_id=offering_id, state="Allocated", pool_id=pool.id))
        volume.path = volume.uuid
        self.store.save(volume)
        return volume

    def deploy_vm(self, vm_id: int, start: bool) -> VM:
        vm = self.store.load(VM, vm_id)
        offering = self.store.load(ServiceOffering, vm.service_offering_id)
        for volume in self.ctx.attached(vm):
            answer = self.ctx.send(wire.create_volume(volume, self.ctx.pool_of(volume)))
            if not answer.result:
                vm.state = "Error"
                self.store.save(vm)
                raise CloudRuntime(f"Unable to create a deployment for {vm_str(vm)}: "
                                   f"{answer.details}")
            volume.state = "Ready"
            self.store.save(volume)
        if start:
            try:
                return self.start_vm(vm_id)
            except CloudRuntime:
                # Left Stopped: defined on its host all the same, as one deployed stopped.
                answer = self._define(vm, offering)
                if not answer.result:
                    log.warning("VM %s not defined on its host after a failed start: %s",
                                vm.name, answer.details)
                raise
        answer = self._define(vm, offering)
        if not answer.result:
            raise CloudRuntime(f"Unable to define VM {vm.name}: {answer.details}")
        return vm

    def _define(self, vm: VM, offering: ServiceOffering) -> Answer:
        """Define the VM on its host without powering it on, so its disks can be snapshot."""
        return self.ctx.send(wire.start_command(vm, self.ctx.disks(vm),
                                                cpus=offering.cpunumber,
                                                memory_mib=offering.memory,
                                                guest_agent=vm.guest_agent, power_on=False))

    def start_vm(self, vm_id: int) -> VM:
        with self.lock:
            vm = self.store.load(VM, vm_id)
            if vm.state == "Running":
                raise ParamError(f"The virtual machine {vm.uuid} "
                                 f"({vm.display_name or vm.name}) is already running")
            if vm.state not in ("Stopped",):
                raise ParamError(f"Unable to start VM {vm_str(vm)} in state {vm.state}")
            offering = self.store.load(ServiceOffering, vm.service_offering_id)
            # Built before the state moves: a command that cannot be built leaves it Stopped.
            command = wire.start_command(vm, self.ctx.disks(vm),
                                         cpus=offering.cpunumber, memory_mib=offering.memory,
                                         guest_agent=vm.guest_agent)
            vm.state = "Starting"
            self.store.save(vm)
        self.ctx.pause("startVirtualMachine")
        answer = self.ctx.send(command)
        with self.lock:
            vm = self.store.load(VM, vm_id)
            vm.state = "Running" if answer.result else "Stopped"
            self.store.save(vm)
        if not answer.result:
            raise CloudRuntime(f"Unable to start VM {vm.name}: {answer.details}")
        return vm

    def stop_vm(self, vm_id: int, *, undefine: bool = False) -> VM:
        with self.lock:
            vm = self.store.load(VM, vm_id)
            if vm.state == "Stopped" and not undefine:
                return vm
            previous = vm.state
            if vm.state == "Running":
                vm.state = "Stopping"
                self.store.save(vm)
        if previous == "Running":
            self.ctx.pause("stopVirtualMachine")
        answer = self.ctx.send(wire.vm_command("StopCommand", vm, undefine=undefine))
        with self.lock:
            vm = self.store.load(VM, vm_id)
            if not answer.result:
                vm.state = previous
                self.store.save(vm)
                raise CloudRuntime(f"Unable to stop VM {vm.name}: {answer.details}")
            if vm.state in ("Running", "Stopping"):
                vm.state = "Stopped"
            self.store.save(vm)
            return vm

    def reboot_vm(self, vm_id: int) -> VM:
        vm = self.store.load(VM, vm_id)
        if vm.state != "Running":
            raise ParamError(f"The VM {vm.uuid} ({vm.display_name or vm.name}) is not "
                             "running, unable to reboot it")
        self.ctx.pause("rebootVirtualMachine")
        if self.ctx.has_active_tasks(vm):
            raise CloudRuntime(f"Unable to reboot VM {vm_str(vm)} due to: {vm.instance_name} "
                               "has active VM snapshots tasks")
        answer = self.ctx.send(wire.vm_command("RebootCommand", vm))
        if not answer.result:
            raise CloudRuntime(f"Unable to reboot VM {vm.name}: {answer.details}")
        return vm

    def destroy_vm(self, vm_id: int, expunge: bool) -> VM:
        vm = self.store.load(VM, vm_id)
        if vm.state in ("Destroyed", "Expunging") and not expunge:
            raise ParamError(f"Unable to destroy VM {vm_str(vm)}: it is already destroyed")
        if vm.state not in ("Destroyed",):
            self.stop_vm(vm_id)
            vm = self.store.load(VM, vm_id)
            # VM snapshots go with the VM, through the host, so nothing is left on storage.
            self.vm_snapshots.delete_all_vm_snapshots(vm)
            with self.lock:
                vm.state = "Destroyed"
                self.store.save(vm)
        return self.expunge_vm(vm_id) if expunge else vm

    def expunge_vm(self, vm_id: int) -> VM:
        vm = self.store.load(VM, vm_id)
        if vm.state != "Destroyed":
            raise ParamError(f"Unable to expunge VM {vm_str(vm)}: it must be destroyed first")
        with self.lock:
            vm.state = "Expunging"
            self.store.save(vm)
        try:
            self.vm_snapshots.remove_vm_snapshot_records(vm)
            answer = self.ctx.send(wire.vm_command("StopCommand", vm, undefine=True))
            if not answer.result:
                raise CloudRuntime(f"Unable to expunge VM {vm.name}: {answer.details}")
            for volume in self.ctx.attached(vm):
                if volume.type == "ROOT":
                    deleted = self.ctx.send(wire.delete_volume(volume, self.ctx.pool_of(volume)))
                    if not deleted.result:
                        raise CloudRuntime(f"Unable to expunge VM {vm.name}: {deleted.details}")
                    volume.state, volume.removed = "Expunged", time.time()
                volume.vm_id = volume.device_id = volume.attached = None
                self.store.save(volume)
        except Exception:
            # Back to Destroyed, where an expunge can be asked for again: every step above
            # is idempotent on the host (an undefined VM stops as "already stopped", a
            # deleted volume is deleted again as nothing).
            with self.lock:
                vm.state = "Destroyed"
                self.store.save(vm)
            raise
        self.networks.release_vm(vm)
        with self.lock:
            vm.removed = time.time()
            self.store.save(vm)
        return vm

    def update_vm(self, vm: VM, *, display_name: str | None = None, group: str | None = None,
                  userdata: str | None = None) -> VM:
        """Change what updateVirtualMachine changes here: the display name, the group and
        the user data (each only when given)."""
        with self.lock:
            vm = self.store.load(VM, vm.id)
            if vm.state in ("Destroyed", "Expunging") or vm.removed:
                raise ParamError(f"Vm with id {vm.uuid} is not in the right state")
            if display_name is not None:
                vm.display_name = display_name
            if group is not None:
                vm.group = group
            if userdata is not None:
                vm.userdata = userdata
            self.store.save(vm)
            return vm

    def recover_vm(self, vm: VM) -> VM:
        with self.lock:
            if vm.state != "Destroyed":
                raise ParamError(f"Vm with id {vm.uuid} is not in the right state")
            vm.state = "Stopped"
            self.store.save(vm)
            return vm

    def change_offering(self, vm: VM, offering: ServiceOffering) -> VM:
        """changeServiceForVirtualMachine, under the ``vmsnapshot.offering.change`` policy."""
        with self.lock:
            vm = self.store.load(VM, vm.id)
            if vm.state != "Stopped":
                raise ParamError(f"Unable to upgrade virtual machine {vm_str(vm)} in state "
                                 f"{vm.state}; make sure the virtual machine is stopped")
            if vm.service_offering_id == offering.id:
                raise ParamError(f"Not upgrading vm {vm_str(vm)} since it already has the "
                                 "requested service offering")
            snaps = self.ctx.snapshots_of(vm)
            policy = self.ctx.setting("vmsnapshot.offering.change")
            if policy == "block" and snaps:
                raise ParamError("Unable to change service offering for VM, please remove VM "
                                 "snapshots before changing service offering of VM")
            if policy == "discard" and any(s.type == "DiskAndMemory" for s in snaps) \
                    and self.ctx.has_active_tasks(vm):
                raise CloudRuntime("There is other active vm snapshot tasks on the instance, "
                                   "please try again later")
        if policy == "discard":
            self.vm_snapshots.delete_all_vm_snapshots(
                vm, only_type="DiskAndMemory",
                failure="Failed to remove VM snapshot during upgrading, snapshot id {id}")
        with self.lock:
            vm = self.store.load(VM, vm.id)
            if vm.state != "Stopped":  # started while its memory snapshots were deleted
                raise ParamError(f"Unable to upgrade virtual machine {vm_str(vm)} in state "
                                 f"{vm.state}; make sure the virtual machine is stopped")
            vm.service_offering_id = offering.id
            self.store.save(vm)
            return vm

    def scale_vm(self, vm_id: int, offering: ServiceOffering) -> VM:
        """scaleVirtualMachine: a stopped VM changes offering as changeServiceForVirtualMachine
        does (the same VM-snapshot policy); a running one would be scaled live, which KVM does
        only for VMs of custom offerings with dynamic scaling, and the simulator's offerings
        are fixed: refused in CloudStack's words."""
        vm = self.store.load(VM, vm_id)
        if vm.state == "Running":
            now = self.store.load(ServiceOffering, vm.service_offering_id)
            new = (offering.memory, offering.cpuspeed, offering.cpunumber)
            old = (now.memory, now.cpuspeed, now.cpunumber)
            if any(n < o for n, o in zip(new, old, strict=True)) or new == old:
                raise ParamError(
                    "While the VM is running, only scalling up it is supported. New service "
                    f'offering {{"memory": {new[0]}, "speed": {new[1]}, "cpu": {new[2]}}} '
                    "should have at least one value (ram, speed or cpu) greater than the "
                    f'current values {{"memory": {old[0]}, "speed": {old[1]}, "cpu": '
                    f"{old[2]}}}.")
            raise ParamError(
                "Unable to live scale VM on KVM when current service offering is a \"Fixed "
                "Offering\". KVM needs the tag \"maxMemory\" to live scale and it is only "
                "configured when VM is deployed with a custom service offering and \"Dynamic "
                "Scalable\" is enabled.")
        return self.change_offering(vm, offering)

    def recover_vms(self) -> None:
        for vm in self.store.find(VM):
            if vm.state == "Starting":
                vm.state = "Stopped"
            elif vm.state == "Stopping":
                vm.state = "Running"
            elif vm.state == "Expunging":
                vm.state = "Destroyed"
            else:
                continue
            self.store.save(vm)
