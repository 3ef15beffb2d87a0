"""``reconcileVirtualMachineRecords`` (the simulator's own, admin only): the management
records against what the hosts report, with ``repair``. See
:mod:`simulator.orchestrator.reconcile`."""

from __future__ import annotations

from typing import Any

from simulator.api.registry import P, api
from simulator.api.server import Request
from simulator.orchestrator.reconcile import reconcile_records


@api("reconcileVirtualMachineRecords",
     "Compares VM and VM snapshot records with what the hosts report; repairs what is safe",
     admin=True, package="admin.vm", response="reconciliation",
     params=[P("repair", "boolean", description="fix power states, delete orphans on the "
                                                "host, mark Ready records missing on the "
                                                "host Error")])
def reconcile(req: Request) -> dict[str, Any]:
    found = reconcile_records(req.manager, repair=req.params.flag("repair"))
    return req.listing("reconciliation", found, lambda d: d)
