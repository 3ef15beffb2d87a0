"""The simulator's host: the agent it sends commands through and, when the driver runs in
this process, a typed handle on that driver and its simulated host, for the control plane
(reset, state dump, per-step faults). Nothing here reaches into a Flask app's internals."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from simulator.agents import Agent, HttpAgent, InProcessAgent
from simulator.config import RBD, SimConfig


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


def driver_settings(config: SimConfig, data_dir: str | None = None,
                    zone: str | None = None) -> Any:
    """An in-process driver's settings, from the simulator's configuration: the storage of
    its zone (the first zone's by default), as a KVM host of that zone mounts it. Every
    directory pool and the default pool directory are ``storage_pools``; the RBD pools are
    ``rbd_pools``, with their cluster's monitor and credentials (one cluster per zone) and
    the memory states of VMs on RBD in the pool with ``memory_states`` (``rbd_memory_pool``),
    else in ``rbd_memory_dir``."""
    from driver.settings import Settings

    zone = zone or config.zones[0]
    pools = [p for p in config.storage() if p.zone == zone]
    files = [p.path for p in pools if p.type != RBD]
    rbd = [p for p in pools if p.type == RBD]
    ceph: dict[str, Any] = {}
    if rbd:
        ceph = {"rbd_pools": [p.path for p in rbd], "ceph_monitors": rbd[0].monitor,
                "ceph_user": rbd[0].user, "ceph_keyring": rbd[0].keyring,
                "ceph_conf": rbd[0].conf, "ceph_libvirt_secret": rbd[0].libvirt_secret,
                "rbd_memory_dir": config.memory_dir,
                "rbd_memory_pool": next((p.path for p in rbd if p.memory_states), "")}
    return Settings(backend=config.driver_backend, libvirt_uri=config.libvirt_uri,
                    libvirt_domain_type=config.libvirt_domain_type,
                    data_dir=data_dir or os.path.join(config.data_dir, "driver"),
                    storage_pools=list(dict.fromkeys([config.pool, *files])),
                    secret=config.driver_secret, guest_data_command=True, log_json=False,
                    **ceph)


def _in_process(config: SimConfig, data_dir: str, zone: str) -> tuple[Agent, LocalHost]:
    """The driver in this process on the configured backend (the simulated host is built
    here and handed to the driver)."""
    from driver.app import build_service, create_app, make_hypervisor

    settings = driver_settings(config, data_dir, zone)
    if settings.rbd_memory_dir:
        os.makedirs(settings.rbd_memory_dir, exist_ok=True)
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
    Every host of a zone reaches the zone's pools: shared primary storage."""
    from simulator.placement import RoutingAgent

    agents: dict[str, Agent] = {}
    local: list[LocalHost] = []
    layout = config.layout()
    for host in layout.hosts:
        if host.url:
            agents[host.name] = HttpAgent(host.url, host.secret)
            continue
        name = "driver" if not local else f"driver-{host.name}"
        agents[host.name], handle = _in_process(config, os.path.join(config.data_dir, name),
                                                layout.zone_of(host))
        local.append(handle)
    return Hosts(RoutingAgent(store, agents), local)
