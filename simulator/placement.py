"""Where things live in a zone of several hosts: a new VM goes to the Up host of its zone with
the fewest VMs and stays there; every agent command goes to the host of the VM (or the
volume) it names; a host that does not answer is Down, and its VMs' operations fail with
CloudStack's ``AgentUnavailableException`` text while the other hosts carry on."""

from __future__ import annotations

import logging
from typing import Any

from driver.wire.commands import Answer
from simulator.agents import Agent, AgentUnreachable
from simulator.errors import ApiError
from simulator.models import VM, Host, Volume
from simulator.store import Store

log = logging.getLogger(__name__)
VOLUME_TO = "org.apache.cloudstack.storage.to.VolumeObjectTO"
SNAPSHOT_TO = "org.apache.cloudstack.storage.to.SnapshotObjectTO"


class InsufficientCapacity(ApiError):
    """No host of the zone can take the VM (CloudStack's InsufficientServerCapacity, 533)."""

    def __init__(self, text: str) -> None:
        super().__init__(text, code=533, cserrorcode=4010)


def _tags(text: str) -> set[str]:
    return {t.strip() for t in text.split(",") if t.strip()}


def choose_host(store: Store, zone_id: int, host_tags: str = "") -> Host:
    """The Up, enabled host of ``zone_id`` with every tag of ``host_tags`` and the fewest
    VMs (the lowest id on a tie)."""
    wanted = _tags(host_tags)
    hosts = [h for h in store.find(Host) if h.zone_id == zone_id and h.status == "Up"
             and h.enabled and wanted <= _tags(h.tags)]
    if not hosts:
        with_tags = f" with the host tags {host_tags}" if wanted else ""
        raise InsufficientCapacity(f"Unable to create a deployment for a VM in zone {zone_id}:"
                                   f" no enabled host of the zone{with_tags} is Up")
    load = {h.id: 0 for h in hosts}
    for vm in store.find(VM):
        if vm.host_id in load:
            load[vm.host_id] += 1
    return min(hosts, key=lambda h: (load[h.id], h.id))


def mark(store: Store, host: Host, status: str) -> None:
    """Record whether ``host`` answers (``Up``) or not (``Down``)."""
    if host.status != status:
        log.warning("host %s (%s) is now %s", host.name, host.id, status)
        host.status = status
        store.save(host)


def unreachable(host: Host) -> str:
    """CloudStack's text for a command to a host whose agent is not connected."""
    return (f"Resource [Host:{host.id}] is unreachable: Host {host.id}: Host with specified id "
            f"is not in the right state: Down")


def _volume_uuid(body: dict[str, Any]) -> str | None:
    data = body.get("data") or (body.get("disk") or {}).get("data") or {}
    if VOLUME_TO in data:
        return str(data[VOLUME_TO].get("uuid") or "") or None
    if SNAPSHOT_TO in data:
        return str((data[SNAPSHOT_TO].get("volume") or {}).get("uuid") or "") or None
    return None


def host_of(store: Store, command: dict[str, Any]) -> Host:
    """The host a command is for: that of the VM it names, else that of the volume's VM; a
    volume attached to no VM lives on its zone's first host."""
    body = next(iter(command.values()))
    name = body.get("vmName") or body.get("vmInstance") or (body.get("vm") or {}).get("name")
    vm = next(iter(store.find_by(VM, "instance_name", name)), None) if name else None
    zone_id = None
    if vm is None and (uuid := _volume_uuid(body)):
        volume = store.by_uuid(Volume, uuid)
        if volume is not None:
            vm = store.get(VM, volume.vm_id) if volume.vm_id else None
            zone_id = volume.zone_id
    if vm is not None:
        host = store.get(Host, vm.host_id)
        if host is not None:
            return host
        zone_id = vm.zone_id
    hosts = store.find(Host)
    return next((h for h in hosts if zone_id is None or h.zone_id == zone_id), hosts[0])


class RoutingAgent:
    """An :class:`~simulator.agents.Agent` over one agent per host (by host name)."""

    def __init__(self, store: Store, agents: dict[str, Agent]) -> None:
        self.store = store
        self.agents = agents

    def per_host(self) -> dict[str, Agent]:
        """Each host's own agent, by host name (for questions put to every host)."""
        return dict(self.agents)

    def view(self, path: str, timeout: float = 60.0) -> Any:
        """A driver view; ``/v1/vms/<name>/...`` goes to that VM's host."""
        parts = path.split("/")
        name = parts[3] if len(parts) > 3 and parts[1:3] == ["v1", "vms"] else None
        host = host_of(self.store, {"view": {"vmName": name}})
        return self.agents[host.name].view(path, timeout)

    def send(self, commands: list[dict[str, Any]], timeout: float) -> list[Answer]:
        out: list[Answer] = []
        for command in commands:
            host = host_of(self.store, command)
            try:
                out.extend(self.agents[host.name].send([command], timeout))
            except AgentUnreachable as exc:
                log.warning("host %s did not answer: %s", host.name, exc)
                mark(self.store, host, "Down")
                raise AgentUnreachable(unreachable(host)) from None
            mark(self.store, host, "Up")
        return out
