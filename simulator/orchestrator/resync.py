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
from simulator.placement import mark

if TYPE_CHECKING:
    from simulator.orchestrator import Manager

log = logging.getLogger(__name__)
POWER = {"PowerOn": "Running", "PowerOff": "Stopped"}
_SNAPSHOT_COMMANDS = ("CreateVMSnapshotCommand", "RevertToVMSnapshotCommand",
                      "DeleteVMSnapshotCommand")
_VOLUME_COMMANDS = ("AttachCommand", "DettachCommand", "ResizeVolumeCommand")


def resend_interrupted(manager: Manager) -> tuple[list[str], set[tuple[str, int]]]:
    """Resend every command left in flight by a restart; apply each answer to the records.

    Returns notes, and ``(command, snapshot id)`` for every VM snapshot command the host
    answered with success and whose answer the records now hold (its job succeeded). A
    command the host does not answer is dropped: recovery then marks its record failed, and
    resent at a later start it would act on the host behind a record already settled (a
    snapshot made again after the user deleted its Error record, say). What the host did
    meanwhile is for reconcile to compare."""
    notes = []
    done: set[tuple[str, int]] = set()
    inflight = manager.jobs.inflight
    for token, command in inflight.all().items():
        kind = short_name(command)
        body = next(iter(command.values()))
        try:
            answer = manager.agent.send([command], 300.0)[0]
        except AgentUnreachable as exc:
            inflight.settle(token)
            notes.append(f"{kind}: the host did not answer ({exc}); its record is marked "
                         "failed")
            log.warning("an interrupted %s was not answered: %s", kind, exc)
            continue
        if kind in _SNAPSHOT_COMMANDS:
            snap_id = int(body["target"]["id"])
            note, succeeded = manager.vm_snapshots.resume(kind, snap_id, answer)
            if succeeded:
                done.add((kind, snap_id))
        else:
            note = "done" if answer.result else f"failed: {answer.details}"
            # Start/Stop: the VM's record follows the power-state report below; an
            # attach, detach or resize: the volume's record follows the answer now.
            if kind in _VOLUME_COMMANDS:
                manager.volumes.resume(kind, body, bool(answer.result))
        inflight.settle(token)
        notes.append(f"{kind} {body.get('vmName') or body.get('vm', {}).get('name')}: {note}")
        log.warning("resent an interrupted %s: %s", kind, note)
    return notes, done


def host_reports(manager: Manager, missed: list[str] | None = None
                 ) -> Iterator[tuple[list[VM], dict[str, dict[str, str]]]]:
    """Each reachable host's VM state report, with the VM records placed on that host (all
    of them when the manager has a single host); the hosts that did not report are added
    to ``missed``."""
    hosts = {h.name: h for h in manager.store.find(Host)}
    for name, agent in per_host(manager.agent).items():
        host = hosts.get(name)
        try:
            answer = agent.send([wire.host_report()], 60.0)[0]
        except AgentUnreachable as exc:
            log.warning("host %s did not report: %s", name or "-", exc)
            if host is not None:
                mark(manager.store, host, "Down")
            if missed is not None:
                missed.append(name)
            continue
        if host is not None:  # it answers: Up again, and VMs may be placed on it
            mark(manager.store, host, "Up")
        if not answer.result or answer.hostVmStateReport is None:
            log.warning("host %s did not report: %s", name or "-", answer.details)
            if missed is not None:
                missed.append(name)
            continue
        vms = [vm for vm in manager.store.find(VM)
               if not vm.removed and (not name or (host is not None and vm.host_id == host.id))]
        yield vms, answer.hostVmStateReport


def sync_power(manager: Manager, missed: list[str] | None = None) -> list[str]:
    """Set each settled VM record (Running or Stopped) to the power state its host reports.

    The manager's lock is held from the question to the last change, so no job can settle a
    VM in between: a VM a job is starting or stopping is in a transitional state and left to
    that job. Hosts that did not report are added to ``missed``."""
    notes = []
    with manager.lock:
        for vms, report in host_reports(manager, missed):
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


RETRY = 2.0  # seconds before asking again a host that did not report


class PowerSync:
    """A background thread that follows the host's report every ``interval`` seconds, and
    within ``RETRY`` seconds while a host has not reported (it was down when a restart's
    recovery asked it, say), so records follow what happened meanwhile once it is back."""

    def __init__(self, manager: Manager, interval: float, behind: bool = False) -> None:
        self.manager = manager
        self.interval = interval
        self.behind = behind
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="power-sync", daemon=True)

    def start(self) -> PowerSync:
        if self.interval > 0:
            self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.wait(min(self.interval, RETRY) if self.behind else self.interval):
            missed: list[str] = []
            try:
                sync_power(self.manager, missed)
            except Exception:  # keep following; the next round may succeed
                log.exception("power-state sync failed")
                missed.append("?")
            self.behind = bool(missed)

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(10)
