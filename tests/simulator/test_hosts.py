"""Hosts an admin manages: ``updateHost`` renames a host, disables it (it takes no new VM)
and tags it; a service offering's host tags choose among the hosts."""

from __future__ import annotations

from typing import Any

import pytest

from contract_tests.client import ApiError, Client, JobFailed
from simulator.config import HostSpec
from tests.support.simulator import World


@pytest.fixture(scope="module")
def sim_overrides() -> dict[str, Any]:
    return {"hosts": [HostSpec("kvm-a", ""), HostSpec("kvm-b", "")]}


def _hosts(admin: Client) -> dict[str, dict[str, Any]]:
    return {h["name"]: h for h in admin.list("listHosts", "host")}


def _placed(admin: Client, world: World, **params: Any) -> str:
    vm = admin.run("deployVirtualMachine", zoneid=world.zone, templateid=world.template,
                   startvm=False, **{"serviceofferingid": world.offering, **params}
                   )["virtualmachine"]
    return str(admin.list("listHosts", "host", virtualmachineid=vm["id"])[0]["name"]
               if vm.get("hostname") is None else vm["hostname"])


def test_a_disabled_host_takes_no_new_vm_and_tags_choose_hosts(admin: Client, world: World):
    hosts = _hosts(admin)
    assert {h["resourcestate"] for h in hosts.values()} == {"Enabled"}
    disabled = admin.call("updateHost", id=hosts["kvm-a"]["id"], allocationstate="Disable")
    assert disabled["host"]["resourcestate"] == "Disabled"
    try:
        assert {_placed(admin, world) for _ in range(3)} == {"kvm-b"}
        admin.call("updateHost", id=hosts["kvm-b"]["id"], allocationstate="Disable")
        with pytest.raises(ApiError) as err:
            _placed(admin, world)
        assert err.value.status == 533
    finally:
        for host in hosts.values():
            admin.call("updateHost", id=host["id"], allocationstate="Enable")
    tagged = admin.call("updateHost", id=hosts["kvm-a"]["id"], hosttags="gpu,fast")["host"]
    assert tagged["hosttags"] == "gpu,fast"
    offering = admin.call("createServiceOffering", name="On GPU", displaytext="On GPU",
                          cpunumber=1, cpuspeed=1000, memory=256,
                          hosttags="gpu")["serviceoffering"]
    assert offering["hosttags"] == "gpu"
    assert {_placed(admin, world, serviceofferingid=offering["id"]) for _ in range(3)} == {
        "kvm-a"}
    admin.call("updateHost", id=hosts["kvm-a"]["id"], hosttags="")
    assert "hosttags" not in _hosts(admin)["kvm-a"]
    with pytest.raises((ApiError, JobFailed)):
        _placed(admin, world, serviceofferingid=offering["id"])


def test_update_host_refuses_what_it_cannot_do(admin: Client):
    host = next(iter(_hosts(admin).values()))
    for params, text in (({"allocationstate": "Maintenance"}, "Invalid allocation state"),
                         ({"url": "nfs://x/y"}, "only be changed for secondary storage"),
                         ({"name": " "}, "cannot be empty")):
        with pytest.raises(ApiError) as err:
            admin.call("updateHost", id=host["id"], **params)
        assert err.value.status == 431 and text in err.value.errortext
    renamed = admin.call("updateHost", id=host["id"], name="renamed")["host"]
    assert renamed["name"] == "renamed"
    admin.call("updateHost", id=host["id"], name=host["name"])
