"""What CloudStack's list commands and job objects do that clients rely on: paging rules,
the filters they declare (never silently ignored), ids that must name something, the
account a list names; and a few answers worded or shaped as CloudStack shapes them."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
import requests

from contract_tests.client import ApiError, Client, JobFailed
from simulator.app import ThreadedServer
from tests.support.simulator import World, control

NOWHERE = "00000000-0000-4000-8000-000000000000"


def _refused(client: Client, command: str, **params) -> ApiError:
    with pytest.raises(ApiError) as info:
        client.call(command, **params)
    return info.value


@pytest.mark.parametrize("params,text", [
    ({"pagesize": "1"}, '"page" parameter is required when "pagesize" is specified'),
    ({"page": "1"}, '"pagesize" parameter is required when "page" is specified'),
    ({"page": "1", "pagesize": "-1"},
     "Can't specify page parameter when pagesize is -1 (Unlimited)"),
    ({"page": "1", "pagesize": "abc"},
     "Unable to execute API command listvirtualmachines due to invalid value abc for "
     "parameter pagesize"),
])
def test_paging_is_held_to_cloudstacks_rules(admin: Client, world: World, params, text):
    err = _refused(admin, "listVirtualMachines", **params)
    assert err.status == 431 and err.errortext == text


def test_a_page_below_one_is_the_first_and_unlimited_takes_everything(admin: Client,
                                                                     world: World):
    for _ in range(2):
        world.deploy(running=False)
    every = admin.list("listVirtualMachines", "virtualmachine")
    assert len(every) >= 2
    first = admin.list("listVirtualMachines", "virtualmachine", page=1, pagesize=1)
    assert admin.list("listVirtualMachines", "virtualmachine", page=0, pagesize=1) == first
    assert admin.list("listVirtualMachines", "virtualmachine", pagesize=-1) == every


def test_a_list_naming_an_account_that_is_not_there_or_not_yours_is_refused(
        admin: Client, user: Client):
    err = _refused(admin, "listVMSnapshot", account="nosuch")
    assert err.status == 431 and err.errortext.startswith("could not find account nosuch")
    err = _refused(admin, "listVirtualMachines", account="nosuch", listall=True)
    assert err.status == 431
    err = _refused(user, "listVirtualMachines", account="admin")
    assert err.status == 531 and "does not have permission" in err.errortext
    assert user.call("listVirtualMachines", account="user") is not None


def test_ids_a_list_is_filtered_by_must_name_something(admin: Client, world: World):
    vm = world.deploy(running=False)
    snap = world.snapshot(vm)
    for command, param in (("listVMSnapshot", "vmsnapshotid"), ("listVirtualMachines", "id"),
                           ("listVolumes", "id"), ("listVirtualMachines", "hostid"),
                           ("listVolumes", "zoneid"), ("listVirtualMachines", "domainid")):
        err = _refused(admin, command, **{param: NOWHERE})
        assert err.status == 431 and NOWHERE in err.errortext, (command, param)
    admin.run("deleteVMSnapshot", vmsnapshotid=snap["id"])
    # One that existed is a valid id: the list is just empty.
    assert admin.call("listVMSnapshot", vmsnapshotid=snap["id"]) == {}


def test_declared_filters_filter(admin: Client, world: World):
    a, b = world.deploy(running=False), world.deploy(running=True)
    snap = world.snapshot(a)
    admin.run("createTags", resourcetype="UserVm", resourceids=a["id"],
              **{"tags[0].key": "team", "tags[0].value": "blue"})
    admin.run("createTags", resourcetype="VMSnapshot", resourceids=snap["id"],
              **{"tags[0].key": "team", "tags[0].value": "blue"})
    tagged = admin.list("listVirtualMachines", "virtualmachine",
                        **{"tags[0].key": "team", "tags[0].value": "blue"})
    assert [v["id"] for v in tagged] == [a["id"]]
    assert admin.call("listVirtualMachines",
                      **{"tags[0].key": "team", "tags[0].value": "red"}) == {}
    by_resource = admin.list("listTags", "tag", resourceid=snap["id"])
    assert [(t["resourcetype"], t["resourceid"]) for t in by_resource] == [
        ("VMSnapshot", snap["id"])]
    host = admin.list("listVirtualMachines", "virtualmachine", id=b["id"])[0]["hostid"]
    on_host = admin.list("listVirtualMachines", "virtualmachine", hostid=host)
    assert b["id"] in {v["id"] for v in on_host}
    domain = admin.list("listDomains", "domain", name="ROOT")[0]["id"]
    in_root = admin.list("listVolumes", "volume", domainid=domain, listall=True)
    assert {v["virtualmachineid"] for v in in_root if "virtualmachineid" in v} >= {
        a["id"], b["id"]}


def test_starting_a_running_vm_fails_as_cloudstack_says(admin: Client, world: World):
    vm = world.deploy(running=True)
    with pytest.raises(JobFailed) as info:
        admin.run("startVirtualMachine", id=vm["id"])
    assert info.value.job["jobresultcode"] == 431
    assert info.value.errortext == (f"The virtual machine {vm['id']} ({vm['displayname']}) "
                                    "is already running")


def test_a_vm_snapshot_names_its_vm_by_display_name_and_has_no_empty_description(
        admin: Client, world: World):
    vm = admin.run("deployVirtualMachine", zoneid=world.zone, templateid=world.template,
                   serviceofferingid=world.offering, startvm=False,
                   displayname="Pretty A")["virtualmachine"]
    snap = world.snapshot(vm)
    assert snap["virtualmachinename"] == "Pretty A"
    assert "description" not in snap


def test_login_takes_post_only(sim: ThreadedServer):
    resp = requests.get(sim.endpoint, params={"command": "login", "username": "admin",
                                              "password": "password", "response": "json"},
                        timeout=30)
    assert resp.status_code == 405
    assert resp.json()["loginresponse"]["errortext"] == (
        "Please use HTTP POST to authenticate using this API")


def test_a_job_is_shown_as_cloudstack_shows_it(sim: ThreadedServer, admin: Client,
                                               world: World):
    vm = world.deploy(running=False)
    control(sim, "POST", "/jobs", {"delay_ms": 2000})
    started = admin.call("createVMSnapshot", virtualmachineid=vm["id"])
    pending = admin.call("queryAsyncJobResult", jobid=started["jobid"])
    assert pending["jobstatus"] == 0 and "jobresulttype" not in pending
    assert pending["domainid"] and pending["domainpath"] == "ROOT"
    control(sim, "POST", "/jobs", {"delay_ms": 0})
    done = admin.job(started["jobid"])
    assert done["jobresulttype"] == "object"


def test_responses_carry_cloudstacks_content_type_and_version(admin: Client):
    resp = admin.raw("listZones")  # the client asks for JSON
    assert resp.headers["Content-Type"] == "application/json; charset=UTF-8"
    version = admin.call("listCapabilities")["capability"]["cloudstackversion"]
    xml = admin.raw("listZones", response="xml")
    assert ET.fromstring(xml.content).get("cloud-stack-version") == version
