"""The management rules and limitations. ``Manager`` is callable from a unit test with no
HTTP at all; it reaches hosts only through agent commands.

The manager is the shared :class:`~simulator.orchestrator.core.Context` (store, agent, lock,
settings, look-ups) with one sibling part per family of rules, each in a module of its own:
``accounts``, ``vms``, ``volumes`` and ``vm_snapshots``.
"""

from __future__ import annotations

from simulator.agents import Agent
from simulator.config import SimConfig
from simulator.orchestrator.accounts import Accounts
from simulator.orchestrator.core import Context
from simulator.orchestrator.vms import Vms
from simulator.orchestrator.vmsnapshots import VmSnapshots
from simulator.orchestrator.volumes import Volumes
from simulator.store import Store


class Manager(Context):
    """Every rule of the feature, over the store and an agent."""

    def __init__(self, config: SimConfig, store: Store, agent: Agent) -> None:
        super().__init__(config, store, agent)
        self.accounts = Accounts(self)
        self.vm_snapshots = VmSnapshots(self)
        self.vms = Vms(self, self.vm_snapshots)
        self.volumes = Volumes(self)

    def recover(self) -> None:
        """After a restart: fail interrupted jobs, leave nothing in a transitional state."""
        self.jobs.recover()
        self.vm_snapshots.recover_vm_snapshots()
        self.volumes.recover_volume_snapshots()
        self.vms.recover_vms()


__all__ = ["Manager"]
