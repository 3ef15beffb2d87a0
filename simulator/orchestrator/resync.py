"""Records follow the host: commands a restart interrupted are resent and their answers
applied, and VMs' power states are read from the host's VM state report, at start-up and
then periodically (as CloudStack's management server follows its hosts' reports)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING

from simulator.agents import AgentUnreachable, per_host
from simulator.models import VM, Host
from simulator.orchestrator import wire
from simulator.orchestrator.inflight import short_name

if TYPE_CHECKING:
    from simulator.orchestrator import Manager

log = logging.getLogger(__name__)
POWER = {"PowerOn": "Running", "PowerOff": "Stopped"}
_SNAPSHOT_COMMANDS = ("CreateVMSnapshotCommand", "RevertToVMSnapshotCommand",
                      "DeleteVMSnapshotCommand")


def resend_interrupted(manager: Manager) -> list[str]:
    """Resend every command left in flight by a restart; apply each answer to the records.
    A host that cannot be reached keeps its commands for the next start."""
    notes = []
    inflight = manager.jobs.inflight
    for token, command in inflight.all().items():
        kind = short_name(command)
        try:
            answer = manager.agent.send([command], 300.0)[0]
        except AgentUnreachable as exc:
            notes.append(f"{kind}: the host did not answer ({exc}); kept for the next start")
            continue
        body = next(iter(command.values()))
        if kind in _SNAPSHOT_COMMANDS:
            note = manager.vm_snapshots.resume(kind, int(body["target"]["id"]), answer)
        else:  # Start/Stop: the VM's record follows the power-state report below
            note = "done" if answer.result else f"failed: {answer.details}"
        inflight.settle(token)
        notes.append(f"{kind} {body.get('vmName') or body.get('vm', {}).get('name')}: {note}")
        log.warning("resent an interrupted %s: %s", kind, note)
    return notes


def host_reports(manager: Manager) -> Iterator[tuple[list[VM], dict[str, dict[str, str]]]]:
    """Each reachable host's VM state report, with the VM records placed on that host (all
    of them when the manager has a single host)."""
    hosts = {h.name: h.id for h in manager.store.find(Host)}
    for name, agent in per_host(manager.agent).items():
        try:
            answer = agent.send([wire.host_report()], 60.0)[0]
        except AgentUnreachable as exc:
            log.warning("host %s did not report: %s", name or "-", exc)
            continue
        if not answer.result or answer.hostVmStateReport is None:
            log.warning("host %s did not report: %s", name or "-", answer.details)
            continue
        vms = [vm for vm in manager.store.find(VM)
               if not vm.removed and (not name or vm.host_id == hosts.get(name))]
        yield vms, answer.hostVmStateReport


def sync_power(manager: Manager) -> list[str]:
    """Set each settled VM record (Running or Stopped) to the power state its host reports.

    The manager's lock is held from the question to the last change, so no job can settle a
    VM in between: a VM a job is starting or stopping is in a transitional state and left to
    that job."""
    notes = []
    with manager.lock:
        for vms, report in host_reports(manager):
            for vm in vms:
                if vm.state not in POWER.values():
                    continue
                entry = report.get(vm.instance_name)
                state = POWER.get(str(entry.get("state"))) if entry else None
                if state is None or state == vm.state:
                    continue
                notes.append(f"{vm.instance_name}: {vm.state} -> {state} (the host reports "
                             f"{entry['state'] if entry else '-'})")
                log.warning("power state of %s follows its host: %s -> %s",
                            vm.instance_name, vm.state, state)
                vm.state = state
                manager.store.save(vm)
    return notes


class PowerSync:
    """A background thread that follows the host's report every ``interval`` seconds."""

    def __init__(self, manager: Manager, interval: float) -> None:
        self.manager = manager
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="power-sync", daemon=True)

    def start(self) -> PowerSync:
        if self.interval > 0:
            self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                sync_power(self.manager)
            except Exception:  # keep following; the next round may succeed
                log.exception("power-state sync failed")

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(10)
