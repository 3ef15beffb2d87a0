"""The HTTP surface: authentication, malformed bodies, size limits, open endpoints."""

from __future__ import annotations

import json
import os

from driver.http.auth import signed_headers
from tests import agentjson as aj
from tests.support.driver import SECRET


def test_commands_need_a_valid_signature(agent, vm_factory):
    vm = vm_factory()
    data = aj.body(aj.create(vm.name, "s1", vm.volumes(), type="DiskAndMemory"))
    client = agent.client
    for headers in ({}, signed_headers("wrong", "POST", "/v1/commands", data),
                    signed_headers(SECRET, "POST", "/v1/commands", b"other body")):
        resp = client.post("/v1/commands", data=data, headers=headers)
        assert resp.status_code == 401
        assert resp.get_json()["error"]["message"].startswith("unauthenticated")
    assert vm.dom.listAllSnapshots() == []
    assert client.get(f"/v1/vms/{vm.name}/snapshots").status_code == 401


def test_bad_envelopes_are_400_json(agent):
    for data in (b"not json", b"[]", b'[{"a":1,"b":2}]', b"\xff\xfe"):
        resp = agent.client.post("/v1/commands", data=data,
                                 headers=signed_headers(SECRET, "POST", "/v1/commands", data))
        assert resp.status_code == 400, data
        assert "error" in resp.get_json()


def test_huge_body_is_413_json(agent, settings):
    data = b"[" + b" " * (settings.max_body_bytes + 1) + b"]"
    resp = agent.client.post("/v1/commands", data=data,
                             headers=signed_headers(SECRET, "POST", "/v1/commands", data))
    assert resp.status_code == 413
    assert resp.get_json()["error"]["code"] == 413


def test_unsupported_and_invalid_commands_answer_in_order_without_stopping_others(agent,
                                                                                  vm_factory):
    vm = vm_factory()
    answers = agent.run(
        {"com.cloud.agent.api.MigrateCommand": {"vmName": vm.name}},
        {"com.cloud.agent.api.FreezeThawVMCommand": {"vmName": vm.name, "option": "melt"}},
        aj.create(vm.name, "s1", vm.volumes(), type="DiskAndMemory"),
    )
    assert answers[0]["result"] is False
    assert answers[0]["details"] == ("Unsupported command issued: com.cloud.agent.api."
                                     "MigrateCommand.  Are you sure you got the right type of "
                                     "server?")
    assert answers[1]["result"] is False and "option" in answers[1]["details"]
    assert answers[2]["result"] is True
    raw = json.loads(agent.post(aj.freeze_thaw(vm.name, "thawed")).get_data())
    assert list(raw[0]) == ["com.cloud.agent.api.FreezeThawVMAnswer"]
    # The management server tells "not supported here" from "failed" by the answer's class.
    raw = json.loads(agent.post({"com.cloud.agent.api.MigrateCommand": {}}).get_data())
    assert list(raw[0]) == ["com.cloud.agent.api.UnsupportedAnswer"]


def test_open_endpoints(agent):
    client = agent.client
    assert client.get("/healthz").get_json()["status"] == "ok"
    ready = client.get("/readyz").get_json()
    assert ready["status"] == "ready" and "TEST" in ready["hypervisor"]
    assert b"vmsnap_freeze_window_seconds" in client.get("/metrics").get_data()
    doc = client.get("/v1/openapi.json").get_json()
    assert "/v1/commands" in doc["paths"]
    missing = client.get("/nowhere")
    assert missing.status_code in (401, 404) and "error" in missing.get_json()


def test_readiness_fails_when_the_hypervisor_cannot_be_reached(settings, tmp_path):
    from driver.app import create_app
    from driver.hypervisors.libvirt import LibvirtHost

    app = create_app(settings, LibvirtHost("test:///" + str(tmp_path / "missing.xml")))
    resp = app.test_client().get("/readyz")
    assert resp.status_code == 503
    assert "not reachable" in resp.get_json()["error"]["message"]


def test_metrics_count_operations(agent, vm_factory):
    vm = vm_factory()
    agent.ok(aj.create(vm.name, "s1", vm.volumes(), type="DiskAndMemory"))
    bad = aj.create(vm.name, "m", vm.volumes())
    next(iter(bad.values()))["target"]["type"] = "Nope"  # malformed on purpose
    agent.one(bad)
    text = agent.client.get("/metrics").get_data(as_text=True)
    assert 'vmsnap_operations_total{command="CreateVMSnapshotCommand",result="success"} 1.0' in text
    assert 'vmsnap_operations_total{command="CreateVMSnapshotCommand",result="failure"} 1.0' in text


def test_bad_vm_name_in_the_tree_view(agent):
    assert agent.get("/v1/vms/a%22b/snapshots").status_code == 400
    assert agent.get("/v1/vms/i-1-1-VM/snapshots").get_json()["count"] == 0


def test_sizes_past_a_java_long_and_nul_in_names_are_refused_by_the_schema(agent, vm_factory,
                                                                          pool):
    vm = vm_factory()
    huge = 2**63
    # Valid commands, then the hostile values written into their JSON (the builders refuse
    # them, as a well-behaved management server would).
    create_volume = aj.create_volume(aj.volume(os.path.join(pool, "big.qcow2"), pool,
                                               vm=vm.name))
    next(iter(create_volume.values()))["data"][
        "org.apache.cloudstack.storage.to.VolumeObjectTO"]["size"] = huge
    resize = {"com.cloud.agent.api.storage.ResizeVolumeCommand": {
        "path": vm.volumes()[0]["path"], "pool": {"path": pool}, "newSize": huge,
        "shrinkOk": False, "vmInstance": vm.name, "contextMap": {}}}
    stop = aj.stop(vm.name)
    next(iter(stop.values()))["vmName"] = vm.name + "\x00x"
    create_bad_vm = aj.create(vm.name, "s1", vm.volumes())
    next(iter(create_bad_vm.values()))["vmName"] = vm.name + "\x00"
    create_bad_name = aj.create(vm.name, "s1", vm.volumes())
    next(iter(create_bad_name.values()))["target"]["snapshotName"] = "s\x00"
    answers = agent.run(create_volume, resize, stop, create_bad_vm, create_bad_name)
    for answer, field in zip(answers, ("size", "newSize", "vmName", "vmName", "snapshotName"),
                             strict=True):
        assert answer["result"] is False
        assert answer["details"].startswith("Invalid "), answer["details"]
        assert field in answer["details"]
        assert "Internal error" not in answer["details"]
    assert vm.dom.listAllSnapshots() == []
    assert not os.path.exists(os.path.join(pool, "big.qcow2"))
