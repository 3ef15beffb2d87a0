"""The management side's reconcile: its records against what the host reports.

* ``power``: a settled VM record (Running/Stopped) that disagrees with the host's report;
* ``orphan-on-host``: a snapshot the host holds that no record (other than Error) names;
* ``missing-on-host``: a Ready snapshot record the host does not hold;
* ``error-but-on-host``: an Error record whose snapshot the host holds.

``repair`` sets power states from the host, deletes orphans through the host (nothing
refers to them) and marks missing snapshots Error (as CloudStack's own crash clean-up sets
a state directly). An Error record over a held snapshot is only reported: deleting it with
``deleteVMSnapshot`` is the user's call.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from driver.wire.objects import VMSnapshotTO
from simulator.agents import AgentUnreachable
from simulator.errors import ResourceUnavailable
from simulator.models import VM
from simulator.orchestrator import wire
from simulator.orchestrator.resync import POWER, host_reports

if TYPE_CHECKING:
    from simulator.orchestrator import Manager

SETTLED = ("Running", "Stopped")


def _host_snapshots(manager: Manager, vm: VM) -> dict[str, str]:
    """The snapshots the host holds for ``vm``: name -> type."""
    tree = manager.agent.view(f"/v1/vms/{vm.instance_name}/snapshots")
    return {s["name"]: s["type"] for s in tree.get("snapshots", [])}


def reconcile_records(manager: Manager, *, repair: bool = False) -> list[dict[str, Any]]:
    """Every difference between the records and the hosts that answer (see the module
    text); a host that does not answer is left for the next run."""
    out: list[dict[str, Any]] = []
    try:
        for vms, report in host_reports(manager):
            for vm in vms:
                if vm.instance_name in report:
                    out.extend(_one_vm(manager, vm, report[vm.instance_name], repair))
    except AgentUnreachable as exc:
        raise ResourceUnavailable(f"Unable to reconcile: the host did not answer: {exc}"
                                  ) from None
    return out


def _diff(vm: VM, kind: str, detail: str, snapshot: str | None = None,
          repaired: bool = False) -> dict[str, Any]:
    return {"virtualmachineid": vm.uuid, "instancename": vm.instance_name, "kind": kind,
            "vmsnapshotname": snapshot, "detail": detail, "repaired": repaired}


def _one_vm(manager: Manager, vm: VM, entry: dict[str, str], repair: bool
            ) -> list[dict[str, Any]]:
    out = []
    with manager.lock:
        host_state = POWER.get(str(entry.get("state")))
        if vm.state in SETTLED and host_state is not None and host_state != vm.state:
            out.append(_diff(vm, "power", f"the record says {vm.state}, the host reports "
                                          f"{entry.get('state')}", repaired=repair))
            if repair:
                vm.state = host_state
                manager.store.save(vm)
        if manager.has_active_tasks(vm):
            return out  # a snapshot operation is under way: its job settles the records
        held = _host_snapshots(manager, vm)
        records = manager.snapshots_of(vm)
        named = {s.name for s in records if s.state != "Error"}
        for snap in records:
            if snap.state == "Ready" and snap.name not in held:
                out.append(_diff(vm, "missing-on-host", "a Ready record the host does not hold",
                                 snap.name, repaired=repair))
                if repair:
                    snap.state = "Error"
                    snap.current = False
                    manager.store.save(snap)
            elif snap.state == "Error" and snap.name in held:
                out.append(_diff(vm, "error-but-on-host",
                                 "an Error record whose snapshot the host holds", snap.name))
    for name in sorted(set(held) - named):
        if any(s.name == name for s in records):
            continue  # reported above as error-but-on-host
        repaired = False
        if repair:
            target = VMSnapshotTO(snapshotName=name, type=held[name], quiescevm=True)
            answer = manager.send(wire.vm_snapshot_command(
                "DeleteVMSnapshotCommand", vm, target, manager.vm_snapshots.volume_tos(vm)))
            repaired = answer.result
        out.append(_diff(vm, "orphan-on-host", "held by the host, named by no record", name,
                         repaired=repaired))
    return out
