"""createVMSnapshot, listVMSnapshot, revertToVMSnapshot, deleteVMSnapshot."""

from __future__ import annotations

from typing import Any

from simulator.api import render
from simulator.api.registry import P, api
from simulator.api.server import Request
from simulator.errors import ParamError
from simulator.models import VM, AsyncJob, VMSnapshot
from simulator.store import Store

DEFAULT_STATES = {"Ready", "Creating", "Allocated", "Error", "Expunging", "Reverting"}
# Each job of these commands, by its command class, and the agent command it waits for.
_AGENT_COMMAND = {"CreateVMSnapshotCmd": "CreateVMSnapshotCommand",
                  "RevertToVMSnapshotCmd": "RevertToVMSnapshotCommand",
                  "DeleteVMSnapshotCmd": "DeleteVMSnapshotCommand"}


def recovered_result(store: Store, renderer: render.Renderer) -> Any:
    """For start-up recovery: the result of an interrupted VM snapshot job whose agent
    command the host answered with success once resent (the records hold its outcome), as
    the job itself would have given it; None for any other job."""

    def result(job: AsyncJob, done: set[tuple[str, int]]) -> dict[str, Any] | None:
        kind = _AGENT_COMMAND.get(job.cmd.rsplit(".", 1)[-1])
        snap = store.by_uuid(VMSnapshot, job.instance_uuid or "") if kind else None
        if kind is None or snap is None or (kind, snap.id) not in done:
            return None
        if kind == "CreateVMSnapshotCommand":
            return {"vmsnapshot": renderer.vm_snapshot(snap)}
        if kind == "RevertToVMSnapshotCommand":
            return {"virtualmachine": renderer.vm(store.load(VM, snap.vm_id))}
        return {"success": True}

    return result


@api("createVMSnapshot", "Creates snapshot for a vm.", is_async=True, package="user.vmsnapshot",
     response="vmsnapshot", params=[
         P("virtualmachineid", "uuid", True, "The ID of the vm"),
         P("description", description="The description of the snapshot"),
         P("name", description="The display name of the snapshot"),
         P("snapshotmemory", "boolean", description="snapshot memory if true"),
         P("quiescevm", "boolean", description="quiesce vm if true")])
def create_vm_snapshot(req: Request) -> dict[str, Any]:
    vm = req.lookup(VM, "virtualmachineid")
    p = req.params
    snap = req.manager.vm_snapshots.allocate_vm_snapshot(
        req.caller, vm, p.text("name"), p.text("description"), p.flag("snapshotmemory"),
        p.flag("quiescevm"))
    snapshots, render = req.manager.vm_snapshots, req.render
    job = req.submit(lambda: {"vmsnapshot": render.vm_snapshot(snapshots.take_vm_snapshot(
        snap.id))}, instance_type="VmSnapshot", instance_uuid=snap.uuid, vm_id=vm.id)
    return {"id": snap.uuid, "jobid": job.uuid}


@api("listVMSnapshot", "List virtual machine snapshot by conditions",
     package="user.vmsnapshot", response="vmSnapshot", params=[
         P("vmsnapshotid", "uuid", description="The ID of the VM snapshot"),
         P("vmsnapshotids", "list", description="the IDs of the vm snapshots, mutually "
                                                "exclusive with vmsnapshotid"),
         P("state", description="state of the virtual machine snapshot"),
         P("virtualmachineid", "uuid", description="the ID of the vm"),
         P("name", description="lists snapshot by snapshot name or display name"),
         P("tags", "map", description="List resources by tags (key/value pairs)"),
         P("account"), P("domainid", "uuid"), P("listall", "boolean"), P("keyword"),
         P("page", "integer"), P("pagesize", "integer")])
def list_vm_snapshots(req: Request) -> dict[str, Any]:
    p = req.params
    if p.text("vmsnapshotid") and p.items("vmsnapshotids"):
        raise ParamError("Specify either id or ids but not both parameters")
    ids = req.ids(VMSnapshot, "vmsnapshotid", "vmsnapshotids")
    store = req.manager.store
    vm = req.existing(VM, "virtualmachineid")
    vm_id = vm.id if vm is not None else None
    state = p.text("state")
    states = {state} if state else DEFAULT_STATES
    name, keyword = p.text("name"), p.text("keyword")
    account = req.scope()
    if not (ids or name or keyword or p.mapping("tags") or p.text("domainid")):
        # The common case, paged in SQL: a VM's snapshots, newest first.
        page, size = p.paging()
        items, total = store.page(VMSnapshot, vm_id=vm_id, account_id=account, states=states,
                                  limit=size, offset=(page - 1) * size if size else 0)
        return render.list_payload("vmSnapshot", [req.render.vm_snapshot(s) for s in items],
                                   total)
    items, _ = store.page(VMSnapshot, vm_id=vm_id, account_id=account, states=states)
    items = req.visible(items)
    if ids:
        items = [s for s in items if s.uuid in ids]
    if name:
        items = [s for s in items if s.display_name == name]
    if keyword:
        k = keyword.lower()
        items = [s for s in items
                 if k in s.name.lower() or k in s.display_name.lower()
                 or k in s.description.lower()]
    return req.listing("vmSnapshot", req.tagged(items, "VMSnapshot"), req.render.vm_snapshot)


@api("revertToVMSnapshot", "Revert VM from a vmsnapshot.", is_async=True,
     package="user.vmsnapshot", response="virtualmachine", params=[
         P("vmsnapshotid", "uuid", True, "The ID of the vm snapshot")])
def revert_to_vm_snapshot(req: Request) -> dict[str, Any]:
    snap = req.lookup(VMSnapshot, "vmsnapshotid")
    snapshots, render = req.manager.vm_snapshots, req.render
    job = req.submit(lambda: {"virtualmachine": render.vm(snapshots.revert_vm_snapshot(snap.id))},
                     instance_type="VmSnapshot", instance_uuid=snap.uuid, vm_id=snap.vm_id)
    return {"jobid": job.uuid}


@api("deleteVMSnapshot", "Deletes a vmsnapshot.", is_async=True, package="user.vmsnapshot",
     response="success", params=[P("vmsnapshotid", "uuid", True, "The ID of the VM snapshot")])
def delete_vm_snapshot(req: Request) -> dict[str, Any]:
    snap = req.lookup(VMSnapshot, "vmsnapshotid")
    manager = req.manager

    def work() -> dict[str, Any]:
        manager.vm_snapshots.delete_vm_snapshot(snap.id)
        return {"success": True}

    job = req.submit(work, instance_type="VmSnapshot", instance_uuid=snap.uuid,
                     vm_id=snap.vm_id)
    return {"jobid": job.uuid}
