"""The management rules and limitations. ``Manager`` is callable from a unit test with no
HTTP at all; it reaches hosts only through agent commands.

The manager is the shared :class:`~simulator.orchestrator.core.Context` (store, agent, lock,
settings, look-ups) with one sibling part per family of rules, each in a module of its own:
``accounts``, ``vms``, ``volumes``, ``vm_snapshots``, ``networks`` and ``limits``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from simulator.agents import Agent
from simulator.config import SimConfig
from simulator.models import VM, Account, AsyncJob, Volume, VolumeSnapshot
from simulator.orchestrator.accounts import Accounts
from simulator.orchestrator.core import Context
from simulator.orchestrator.keypairs import KeyPairs
from simulator.orchestrator.limits import Limits
from simulator.orchestrator.networks import Networks
from simulator.orchestrator.resync import PowerSync, resend_interrupted, sync_power
from simulator.orchestrator.vms import Vms
from simulator.orchestrator.vmsnapshots import VmSnapshots
from simulator.orchestrator.volumes import Volumes
from simulator.store import Store

# The result of an interrupted job whose work start-up recovery completed, given the
# ``(agent command, snapshot id)`` pairs the host answered with success; None if not one.
JobResult = Callable[[AsyncJob, set[tuple[str, int]]], "dict[str, Any] | None"]


class Manager(Context):
    """Every rule of the feature, over the store and an agent."""

    def __init__(self, config: SimConfig, store: Store, agent: Agent) -> None:
        super().__init__(config, store, agent)
        self.accounts = Accounts(self)
        self.vm_snapshots = VmSnapshots(self)
        self.networks = Networks(self)
        self.keypairs = KeyPairs(self)
        self.limits = Limits(self)
        self.vms = Vms(self, self.vm_snapshots, self.networks, self.limits)
        self.volumes = Volumes(self, self.limits)
        self._missed: list[str] = []  # hosts that did not report to the start-up recovery

    def delete_account(self, account: Account) -> None:
        """deleteAccount's work: the account's VMs destroyed and expunged with their VM
        snapshots through the host, its volume snapshots and volumes deleted on the host,
        then its networking, limits, users, keys and sessions. Nothing is left behind.

        The account is disabled by the caller first (its users can start nothing more), and
        each VM is destroyed in its turn among that VM's jobs, after those already queued."""
        for snap in self.store.find(VolumeSnapshot, account_id=account.id):
            self.volumes.delete_volume_snapshot(snap)
        for vm in self.store.find(VM, account_id=account.id):
            with self.jobs.vm_lock(vm.id):
                vm = self.store.load(VM, vm.id)
                if vm.state == "Destroyed":
                    self.vms.expunge_vm(vm.id)
                else:
                    self.vms.destroy_vm(vm.id, expunge=True)
        for volume in self.store.find(Volume, account_id=account.id):
            self.volumes.delete_volume(volume)
        self.networks.remove_account(account)
        self.limits.remove_account(account)
        self.accounts.remove(account)

    def disable_account(self, account: Account) -> Account:
        """disableAccount's work, the account already marked disabled (its users refused):
        its running VMs stopped, each in its turn among that VM's jobs."""
        for vm in self.store.find(VM, account_id=account.id):
            with self.jobs.vm_lock(vm.id):
                if self.store.load(VM, vm.id).state == "Running":
                    self.vms.stop_vm(vm.id)
        return self.store.load(Account, account.id)

    def recover(self, job_result: JobResult | None = None) -> list[str]:
        """After a restart: ask the host what happened to the commands it was carrying out
        (resend them, apply the answers), end interrupted jobs — with their result when the
        host's answer completed their work (``job_result`` renders it), else as failed —
        leave nothing in a transitional state, and set every VM's power state from the
        host's report."""
        notes, done = resend_interrupted(self)
        self.jobs.recover(None if job_result is None else lambda job: job_result(job, done))
        self.vm_snapshots.recover_vm_snapshots()
        self.volumes.recover_volume_snapshots()
        self.vms.recover_vms()
        self._missed = []
        return notes + sync_power(self, self._missed)

    def follow_host(self) -> None:
        """Keep power states in sync with the host's reports from now on (soon, if a host
        did not report to the recovery)."""
        self.power_sync = PowerSync(self, self.config.power_sync_interval,
                                    behind=bool(self._missed)).start()

    def close(self) -> None:
        """Stop following the host (the jobs are shut down by their owner)."""
        sync = getattr(self, "power_sync", None)
        if sync is not None:
            sync.stop()


__all__ = ["Manager"]
