"""Helpers for driving the simulator over HTTP: its control plane, guest data, and the ids a
test needs (read through the API as any client would)."""

from __future__ import annotations

import base64
from typing import Any

import requests

from contract_tests.client import Client
from simulator.app import ThreadedServer


def control(sim: ThreadedServer, method: str, path: str, body: Any = None) -> Any:
    resp = requests.request(method, sim.url + "/_sim" + path, json=body, timeout=30,
                            headers={"X-Vmsnap-Sim-Token": sim.control_token})
    assert resp.status_code == 200, resp.text
    return resp.json()


class World:
    """The ids a test needs, read through the API as any client would."""

    def __init__(self, client: Client) -> None:
        self.client = client
        self.zone = client.list("listZones", "zone")[0]["id"]
        templates = client.list("listTemplates", "template", templatefilter="featured")
        self.template = next(t["id"] for t in templates if t["guestagent"])
        self.template_no_agent = next(t["id"] for t in templates if not t["guestagent"])
        offerings = client.list("listServiceOfferings", "serviceoffering")
        self.offering, self.offering2 = offerings[0]["id"], offerings[1]["id"]
        disks = client.list("listDiskOfferings", "diskoffering")
        self.disk_offering = next(d["id"] for d in disks if not d["iscustomized"])

    def deploy(self, *, running: bool = True, agent: bool = True, data_disk: bool = False,
               name: str | None = None) -> dict[str, Any]:
        result = self.client.run(
            "deployVirtualMachine", zoneid=self.zone,
            templateid=self.template if agent else self.template_no_agent,
            serviceofferingid=self.offering, name=name, startvm=running,
            diskofferingid=self.disk_offering if data_disk else None)
        return result["virtualmachine"]

    def snapshot(self, vm: dict[str, Any], **params: Any) -> dict[str, Any]:
        return self.client.run("createVMSnapshot", virtualmachineid=vm["id"],
                               **params)["vmsnapshot"]

    def snapshots(self, vm: dict[str, Any]) -> list[dict[str, Any]]:
        return self.client.list("listVMSnapshot", "vmSnapshot", virtualmachineid=vm["id"])


def write(sim: ThreadedServer, vm: dict[str, Any], data: bytes, device: int = 0,
          offset: int = 0) -> None:
    control(sim, "POST", f"/vms/{vm['id']}/guest", {
        "op": "write", "device": device, "offset": offset,
        "data": base64.b64encode(data).decode()})


def read(sim: ThreadedServer, vm: dict[str, Any], length: int, device: int = 0,
         offset: int = 0) -> bytes:
    out = control(sim, "POST", f"/vms/{vm['id']}/guest", {
        "op": "read", "device": device, "offset": offset, "length": length})
    return base64.b64decode(out["data"])


def memory(sim: ThreadedServer, vm: dict[str, Any], key: str | None = None,
           value: str | None = None) -> dict[str, str]:
    if key is not None:
        return control(sim, "POST", f"/vms/{vm['id']}/guest",
                       {"op": "set_memory", "key": key, "value": value})["memory"]
    return control(sim, "POST", f"/vms/{vm['id']}/guest", {"op": "get_memory"})["memory"]
