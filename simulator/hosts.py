"""The simulator's host: the agent it sends commands through and, when the driver runs in
this process, a typed handle on that driver and its simulated host, for the control plane
(reset, state dump, per-step faults). Nothing here reaches into a Flask app's internals."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from simulator.agents import Agent, HttpAgent, InProcessAgent
from simulator.config import SimConfig


@dataclass
class LocalHost:
    """The driver this simulator runs in-process, and its simulated host if it has one."""

    service: Any  # driver.service.SnapshotService
    simulated: Any | None  # driver.hypervisors.simulated.SimulatedHost

    def reset(self) -> None:
        """Forget every VM, volume, snapshot, fault and driver record."""
        if self.simulated is not None:
            self.simulated.reset()
        self.service.store.db.reset()

    def state(self) -> dict[str, Any] | None:
        """The simulated host's VMs and faults (None on a real hypervisor)."""
        if self.simulated is None:
            return None
        return {"vms": self.simulated.vms(), "faults": self.simulated.faults.all()}


@dataclass
class Hosts:
    """What the manager sends agent commands through (each command to its VM's host), and
    the hosts whose driver runs in this process (the first is the control plane's)."""

    agent: Agent
    locals: list[LocalHost]

    @property
    def local(self) -> LocalHost | None:
        return self.locals[0] if self.locals else None


def driver_settings(config: SimConfig, data_dir: str | None = None) -> Any:
    """An in-process driver's settings, from the simulator's configuration."""
    from driver.settings import Settings

    return Settings(backend=config.driver_backend, libvirt_uri=config.libvirt_uri,
                    libvirt_domain_type=config.libvirt_domain_type,
                    data_dir=data_dir or os.path.join(config.data_dir, "driver"),
                    storage_pools=[config.pool], secret=config.driver_secret,
                    guest_data_command=True, log_json=False)


def _in_process(config: SimConfig, data_dir: str) -> tuple[Agent, LocalHost]:
    """The driver in this process on the configured backend (the simulated host is built
    here and handed to the driver)."""
    from driver.app import build_service, create_app, make_hypervisor

    settings = driver_settings(config, data_dir)
    simulated = None
    if settings.backend == "simulated":
        from driver.hypervisors.simulated import SimulatedHost

        simulated = SimulatedHost(os.path.join(settings.data_dir, "simhost.sqlite3"))
    service = build_service(settings, simulated or make_hypervisor(settings))
    app = create_app(settings, service=service)
    return InProcessAgent(app), LocalHost(service, simulated)


def build_hosts(config: SimConfig, store: Any) -> Hosts:
    """One agent per host of the world: a driver at the host's URL, or a driver in this
    process (the first keeps ``<data_dir>/driver``, the others ``driver-<host name>``).
    Every host uses the simulator's storage pool path: shared primary storage."""
    from simulator.placement import RoutingAgent

    agents: dict[str, Agent] = {}
    local: list[LocalHost] = []
    for host in config.layout().hosts:
        if host.url:
            agents[host.name] = HttpAgent(host.url, host.secret)
            continue
        name = "driver" if not local else f"driver-{host.name}"
        agents[host.name], handle = _in_process(config, os.path.join(config.data_dir, name))
        local.append(handle)
    return Hosts(RoutingAgent(store, agents), local)
