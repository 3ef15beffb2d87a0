"""The management rules and limitations. ``Manager`` is callable from a unit test with no
HTTP at all; it reaches hosts only through agent commands."""

from __future__ import annotations

from simulator.orchestrator.volumes import VolumeRules


class Manager(VolumeRules):
    """Every rule of the feature, over the store and an agent."""

    def recover(self) -> None:
        """After a restart: fail interrupted jobs, leave nothing in a transitional state."""
        self.jobs.recover()
        self.recover_vm_snapshots()
        self.recover_volume_snapshots()
        self.recover_vms()


__all__ = ["Manager"]
