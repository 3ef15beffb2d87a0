"""A simulated KVM host: VMs, copy-on-write volumes holding real bytes, memory, a guest
agent, faults; persisted in SQLite so a restart loses nothing."""

from driver.hypervisors.simulated.host import SimulatedHost

__all__ = ["SimulatedHost"]
