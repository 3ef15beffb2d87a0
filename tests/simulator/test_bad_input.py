"""Hostile and unlucky input to ``/client/api``: never a 5xx, never a broken response, and a
refused request changes nothing. One test per reproduction of the hardening issue."""

from __future__ import annotations

import time
import xml.etree.ElementTree as ET  # noqa: S405 - parses our own responses

import pytest
import requests

from contract_tests.client import ApiError, Client
from simulator.app import ThreadedServer


def _inner(resp: requests.Response) -> dict:
    body = resp.json()
    assert len(body) == 1
    return next(iter(body.values()))


def test_newline_in_an_echoed_value_is_a_531_not_a_500(sim: ThreadedServer) -> None:
    resp = requests.post(sim.endpoint, data={"command": "login", "username": "a\nb",
                                             "password": "x", "response": "json"}, timeout=30)
    assert resp.status_code == 531
    assert _inner(resp)["errortext"].startswith("Failed to authenticate user a\nb")
    assert "\n" not in resp.headers["X-Description"]


def test_nul_in_the_command_name_is_a_432(admin: Client) -> None:
    resp = admin.raw("listZones\x00")
    assert resp.status_code == 432
    body = resp.json()
    assert list(body) == ["errorresponse"]
    assert body["errorresponse"]["errorcode"] == 432
    assert "\x00" not in resp.headers["X-Description"]
    xml = admin.raw("listZones\x00", response="xml")
    assert xml.status_code == 432
    root = ET.fromstring(xml.content)  # noqa: S314 - our own response
    assert root.tag == "errorresponse"


def test_control_character_in_a_parameter_is_a_431(admin: Client) -> None:
    resp = admin.raw("deleteVMSnapshot", vmsnapshotid="x\x01")
    assert resp.status_code == 431
    inner = _inner(resp)
    assert inner["cserrorcode"] == 4350
    assert "deletevmsnapshot" in inner["errortext"]


def test_non_ascii_session_key_is_a_401(sim: ThreadedServer, admin: Client) -> None:
    Client(sim.endpoint).login("admin", "password")  # a session exists
    for key in ("\u00e9t\u00e9", "\u2603" * 40):
        resp = requests.get(sim.endpoint, params={"command": "listZones", "response": "json",
                                                  "sessionkey": key}, timeout=30)
        assert resp.status_code == 401, resp.text
    resp = requests.get(sim.endpoint, params={"command": "listZones", "response": "json",
                                              "apikey": "\u00e9", "signature": "\u00e9"},
                        timeout=30)
    assert resp.status_code == 401
    params = {"command": "listZones", "response": "json", "apiKey": admin.api_key,
              "signature": "\u00e9\u00e9"}
    assert requests.get(sim.endpoint, params=params, timeout=30).status_code == 401


@pytest.mark.parametrize("size", ["9999999999999999999999999", "2147483648", "501"])
def test_pagesize_out_of_range_is_a_431(admin: Client, size: str) -> None:
    for command in ("listVMSnapshot", "listVirtualMachines", "listVolumes"):
        resp = admin.raw(command, pagesize=size)
        assert resp.status_code == 431, resp.text
    assert admin.raw("listVMSnapshot", pagesize="500", page="2147483647").status_code == 200


@pytest.mark.parametrize("command", ["x><injected>1</injected><y", "../login", "",
                                     "listZones'\"<&>"])
def test_the_command_name_never_becomes_xml(sim: ThreadedServer, admin: Client,
                                            command: str) -> None:
    for resp in (requests.get(sim.endpoint, params={"command": command, "response": "xml"},
                              timeout=30),
                 admin.raw(command, response="xml")):
        assert resp.status_code in (401, 432)
        root = ET.fromstring(resp.content)  # noqa: S314 - our own response
        assert root.tag == "errorresponse"
        assert root.find(".//injected") is None
        assert [child.tag for child in root] == ["uuidList", "errorcode", "cserrorcode",
                                                 "errortext"] or \
            [child.tag for child in root] == ["errorcode", "cserrorcode", "errortext"]


def test_xml_illegal_characters_are_refused_and_never_stored(admin: Client, world) -> None:
    vm = world.deploy()
    before = world.snapshots(vm)
    for field in ("name", "description"):
        resp = admin.raw("createVMSnapshot", virtualmachineid=vm["id"],
                         **{field: "bell\x07"})
        assert resp.status_code == 431, resp.text
        assert "\x07" not in resp.text
    assert world.snapshots(vm) == before
    listing = admin.raw("listVMSnapshot", listall="true", response="xml")
    assert listing.status_code == 200
    ET.fromstring(listing.content)  # noqa: S314 - well-formed


def test_settings_are_bounded(admin: Client) -> None:
    for name, value in (("job.delay.ms", "1000000000"), ("vmsnapshot.max", "0"),
                        ("vmsnapshot.max", "99999999999"), ("vmsnapshot.create.wait", "0")):
        with pytest.raises(ApiError) as err:
            admin.call("updateConfiguration", name=name, value=value)
        assert err.value.errorcode == 431
    assert admin.list("listConfigurations", "configuration", name="job.delay.ms")[0][
        "value"] == "0"


def test_a_changed_job_delay_applies_to_waiting_jobs(admin: Client, world) -> None:
    vm = world.deploy()
    admin.call("updateConfiguration", name="job.delay.ms", value="600000")
    try:
        job = admin.call("stopVirtualMachine", id=vm["id"])["jobid"]
        time.sleep(0.3)
        assert admin.call("queryAsyncJobResult", jobid=job)["jobstatus"] == 0
    finally:
        admin.call("updateConfiguration", name="job.delay.ms", value="0")
    admin.job_timeout = 60
    assert admin.job(job)["jobstatus"] == 1


def test_settings_out_of_bounds_are_refused_at_start_too() -> None:
    from simulator.config import load_config

    with pytest.raises(ValueError, match="job.delay.ms must be between 0 and 600000"):
        load_config(job_delay_ms=1_000_000_000)
    with pytest.raises(ValueError, match="vmsnapshot.max"):
        load_config(vmsnapshot_max=0)


def _records(admin: Client) -> dict[str, int]:
    """How many of each thing a refused request must not add to."""
    return {kind: len(admin.list(command, key, listall=True)) for command, key, kind in (
        ("listVirtualMachines", "virtualmachine", "vms"), ("listVolumes", "volume", "volumes"),
        ("listNetworks", "network", "networks"), ("listAccounts", "account", "accounts"),
        ("listServiceOfferings", "serviceoffering", "offerings"))}


@pytest.mark.parametrize("params", [
    {"startvm": "maybe"},
    {"details[0].rootdisksize": "99999999999999999999"},
    {"details[0].rootdisksize": "-5"},
    {"details[0].rootdisksize": "1_0"},
    {"rootdisksize": "4096"},  # past custom.diskoffering.size.max (1024 GB)
    {"hostid": "abc"},
    {"dynamicscalingenabled": "abc"},
])
def test_a_deploy_refused_for_any_parameter_makes_nothing(admin: Client, world,
                                                          params: dict[str, str]) -> None:
    before = _records(admin)
    resp = admin.raw("deployVirtualMachine", zoneid=world.zone, templateid=world.template,
                     serviceofferingid=world.offering, **params)
    assert resp.status_code == 431, resp.text
    assert _records(admin) == before


@pytest.mark.parametrize("command,params", [
    ("stopVirtualMachine", {"id": "00000000-0000-0000-0000-000000000000", "forced": "abc"}),
    ("listVirtualMachines", {"id": "abc"}),
    ("listZones", {"available": "abc"}),
    ("updateConfiguration", {"name": "vmsnapshot.max", "value": "1_0"}),
    ("listVMSnapshot", {"page": "\u0663", "pagesize": "5"}),  # an Arabic-Indic three
    ("createServiceOffering", {"name": "huge", "cpunumber": "300"}),
])
def test_declared_parameter_types_are_held_before_the_command_runs(admin: Client,
                                                                   command: str,
                                                                   params: dict) -> None:
    before = _records(admin)
    resp = admin.raw(command, **params)
    assert resp.status_code == 431, resp.text
    assert _inner(resp)["cserrorcode"] == 4350
    assert _records(admin) == before


def test_a_custom_volume_is_at_most_the_largest_custom_size(admin: Client, world) -> None:
    custom = next(d["id"] for d in admin.list("listDiskOfferings", "diskoffering")
                  if d["iscustomized"])
    largest = admin.call("listCapabilities")["capability"]["customdiskofferingmaxsize"]
    resp = admin.raw("createVolume", zoneid=world.zone, diskofferingid=custom,
                     size=str(largest + 1), name="too-big")
    assert resp.status_code == 431, resp.text
    assert not [v for v in admin.list("listVolumes", "volume") if v["name"] == "too-big"]


def test_options_on_the_api_is_a_cloudstack_405(sim: ThreadedServer) -> None:
    resp = requests.options(sim.endpoint, timeout=30)
    assert resp.status_code == 405
    assert _inner(resp)["errorcode"] == 405


def test_accounts_made_at_once_under_one_name_make_one(admin: Client) -> None:
    from concurrent.futures import ThreadPoolExecutor

    def make(i: int) -> int:
        return admin.raw("createAccount", username="racer", account=f"racer{i}",
                         password="password", firstname="r", lastname="r",
                         email="r@example.com").status_code

    with ThreadPoolExecutor(10) as pool:
        codes = sorted(pool.map(make, range(10)))
    assert codes == [200] + [431] * 9
    assert [u["username"] for u in admin.list("listUsers", "user", listall=True)].count(
        "racer") == 1
