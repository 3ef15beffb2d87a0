"""The transport: signatures, sessions, keys, parameters, errors, XML, listApis, control."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
import requests

from contract_tests.client import ApiError, Client


def signed(client: Client, **params):
    out = {"response": "json", "apiKey": client.api_key, **params}
    out["signature"] = Client.signature(out, client.secret)
    return out


def test_bad_missing_or_expired_signatures_are_401(sim, admin):
    base = {"command": "listZones"}
    cases = [
        {**signed(admin, **base), "signature": "AAAA"},
        {k: v for k, v in signed(admin, **base).items() if k != "signature"},
        signed(admin, **base, signatureVersion="3"),  # v3 without expires
        signed(admin, **base, signatureVersion="3", expires=(
            datetime.now(UTC) - timedelta(minutes=1)).strftime(
                "%Y-%m-%dT%H:%M:%S+0000")),
        {**signed(admin, **base), "apiKey": "nobody"},
        {"command": "listZones", "response": "json"},
    ]
    for params in cases:
        resp = requests.get(sim.endpoint, params=params, timeout=10)
        assert resp.status_code == 401, params
        body = resp.json()["listzonesresponse"]
        assert body["errorcode"] == 401
        assert body["errortext"] == "unable to verify user credentials and/or request signature"


def test_legacy_signature_post_and_case_insensitive_parameters(sim, admin):
    resp = requests.get(sim.endpoint, params=signed(admin, command="listZones"), timeout=10)
    assert resp.status_code == 200 and resp.json()["listzonesresponse"]["count"] == 1
    resp = requests.post(sim.endpoint, data=signed(admin, command="listTemplates",
                                                   TemplateFilter="featured", unknown="x"),
                         timeout=10)
    assert resp.status_code == 200, resp.text
    assert resp.json()["listtemplatesresponse"]["count"] >= 2


def test_signature_variants_real_clients_produce(sim, admin):
    from urllib.parse import quote

    params = {"command": "listVMSnapshot", "keyword": "a b~c*d[e]", "response": "json",
              "apiKey": admin.api_key}
    import base64
    import hashlib
    import hmac

    for quote_value in (lambda v: quote(v, safe=""), lambda v: quote(v, safe="*~")):
        text = "&".join(f"{k}={quote_value(v)}" for k, v in sorted(params.items())).lower()
        sig = base64.b64encode(hmac.new(admin.secret.encode(), text.encode(),
                                        hashlib.sha1).digest()).decode()
        resp = requests.get(sim.endpoint, params={**params, "signature": sig}, timeout=10)
        assert resp.status_code == 200, resp.text


def test_unknown_command_is_432_json_not_a_404(admin):
    with pytest.raises(ApiError) as err:
        admin.call("frobnicate")
    assert err.value.status == 432 and "does not exist" in err.value.errortext


def test_missing_and_bad_parameters_are_431(admin):
    with pytest.raises(ApiError) as err:
        admin.call("createVMSnapshot")
    assert err.value.status == 431 and err.value.errortext == (
        "Unable to execute API command createvmsnapshot due to missing parameter "
        "virtualmachineid")
    with pytest.raises(ApiError) as err:
        admin.call("createVMSnapshot", virtualmachineid="not-a-vm")
    assert err.value.status == 431 and "Invalid parameter virtualmachineid value=not-a-vm" in \
        err.value.errortext
    with pytest.raises(ApiError) as err:
        admin.call("listVMSnapshot", page="two")
    assert err.value.status == 431


def test_xml_is_the_default_response(sim, admin):
    params = {k: v for k, v in signed(admin, command="listZones").items() if k != "response"}
    params["signature"] = Client.signature(
        {k: v for k, v in params.items() if k != "signature"}, admin.secret)
    resp = requests.get(sim.endpoint, params=params, timeout=10)
    assert resp.status_code == 200 and resp.headers["Content-Type"].startswith("text/xml")
    assert "<listzonesresponse" in resp.text and "<zone>" in resp.text


def test_login_session_keys_and_user_keys(sim, admin):
    client = Client(sim.endpoint)
    with pytest.raises(ApiError) as err:
        client.login("user", "wrong")
    assert err.value.status == 531
    login = client.login("user", "password")
    assert login["account"] == "user" and login["sessionkey"]
    assert client.call("listZones")["count"] == 1
    keys = client.call("getUserKeys", id=login["userid"])["userkeys"]
    fresh = client.call("registerUserKeys", id=login["userid"])["userkeys"]
    assert fresh["apikey"] != keys["apikey"]
    signed_in = Client(sim.endpoint, fresh["apikey"], fresh["secretkey"])
    assert signed_in.call("listZones")["count"] == 1
    admin_user = admin.list("listUsers", "user", username="admin")[0]
    with pytest.raises(ApiError) as err:
        client.call("getUserKeys", id=admin_user["id"])
    assert err.value.status == 531
    with pytest.raises(ApiError) as err:
        client.call("listHosts")  # admin only
    assert err.value.status == 432
    client.call("logout")
    with pytest.raises(ApiError) as err:
        client.call("listZones")
    assert err.value.status == 401


def test_list_apis_describes_the_vm_snapshot_commands(admin):
    apis = {a["name"]: a for a in admin.list("listApis", "api")}
    create = apis["createVMSnapshot"]
    assert create["isasync"] is True
    assert {p["name"]: p["required"] for p in create["params"]}["virtualmachineid"] is True
    assert apis["listVMSnapshot"]["isasync"] is False
    for name in ("revertToVMSnapshot", "deleteVMSnapshot", "queryAsyncJobResult",
                 "deployVirtualMachine", "attachVolume", "createSnapshot"):
        assert name in apis


def test_bodies_over_the_limit_are_refused(sim):
    resp = requests.post(sim.endpoint, data={"command": "listZones", "x": "y" * (2 << 20)},
                         timeout=10)
    assert resp.status_code == 413
    assert resp.json()["errorresponse"]["errorcode"] == 413
    # The format asked for in the query string is kept (the body is what was refused).
    xml = requests.post(sim.endpoint + "?response=xml",
                        data={"command": "listZones", "x": "y" * (2 << 20)}, timeout=10)
    assert xml.status_code == 413 and xml.text.startswith("<?xml")
    assert "<errorcode>413</errorcode>" in xml.text


def test_control_plane_needs_its_token(sim):
    for method, path in (("GET", "/state"), ("POST", "/reset"), ("POST", "/faults")):
        resp = requests.request(method, sim.url + "/_sim" + path, timeout=10,
                                headers={"X-Vmsnap-Sim-Token": "wrong"})
        assert resp.status_code == 401
    resp = requests.get(sim.url + "/_sim/state", timeout=10,
                        headers={"X-Vmsnap-Sim-Token": sim.control_token})
    assert "objects" in resp.json() and json.dumps(resp.json())


def test_async_jobs_are_listed_for_their_account(admin, user, world):
    vm = world.deploy(running=False)
    jobs = admin.list("listAsyncJobs", "asyncjobs")
    assert any(j.get("jobinstanceid") == vm["id"] for j in jobs)
    assert all(j["account"] == "user" for j in user.list("listAsyncJobs", "asyncjobs"))


def test_tags_filter_the_vm_snapshot_list(admin, world):
    vm = world.deploy(running=False)
    tagged, other = world.snapshot(vm, name="tagged"), world.snapshot(vm, name="other")
    admin.run("createTags", resourcetype="VMSnapshot", resourceids=tagged["id"],
              tags=[{"key": "purpose", "value": "upgrade"}])
    found = admin.list("listVMSnapshot", "vmSnapshot", virtualmachineid=vm["id"],
                       tags=[{"key": "purpose", "value": "upgrade"}])
    assert [s["id"] for s in found] == [tagged["id"]]
    assert found[0]["tags"][0]["key"] == "purpose"
    assert any(t["resourceid"] == tagged["id"] for t in admin.list(
        "listTags", "tag", resourcetype="VMSnapshot", key="purpose"))
    admin.run("deleteTags", resourcetype="VMSnapshot", resourceids=tagged["id"])
    assert admin.list("listVMSnapshot", "vmSnapshot", virtualmachineid=vm["id"],
                      tags=[{"key": "purpose", "value": "upgrade"}]) == []
    assert other["id"] != tagged["id"]


def test_a_created_account_is_isolated_and_a_destroyed_vm_recovers(sim, admin, world):
    account = admin.call("createAccount", username="carol", password="secret1",
                         email="c@example.org", firstname="C", lastname="L")["account"]
    assert account["name"] == "carol" and account["user"][0]["username"] == "carol"
    with pytest.raises(ApiError) as err:
        admin.call("createAccount", username="carol", password="x", email="e",
                   firstname="f", lastname="l")
    assert err.value.status == 431
    carol = Client(sim.endpoint)
    carol.login("carol", "secret1")
    assert carol.list("listVirtualMachines", "virtualmachine") == []
    vm = world.deploy(running=False)
    admin.run("destroyVirtualMachine", id=vm["id"])
    recovered = admin.call("recoverVirtualMachine", id=vm["id"])["virtualmachine"]
    assert recovered["state"] == "Stopped"
    assert world.snapshot(vm)["state"] == "Ready"
