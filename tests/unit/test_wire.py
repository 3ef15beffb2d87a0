"""Agent JSON round trips on bodies shaped exactly as CloudStack's Gson writes them."""

from __future__ import annotations

import json

import pytest

from driver.wire.commands import Answer
from driver.wire.envelope import (
    EnvelopeError,
    decode_answers,
    decode_commands,
    encode_answers,
    encode_commands,
    unsupported_text,
)

SECTION_1_9 = """[{"com.cloud.agent.api.CreateVMSnapshotCommand":{
  "vmUuid":"9d1a3b52-0000-4000-8000-000000000003",
  "volumeTOs":[{"uuid":"5b1c","volumeType":"ROOT",
     "dataStore":{"org.apache.cloudstack.storage.to.PrimaryDataStoreTO":{"uuid":"p1",
       "name":"nfs1","id":1,"poolType":"NetworkFilesystem","host":"10.0.0.5",
       "path":"/export/primary","port":2049,"url":"nfs://10.0.0.5/export/primary",
       "details":{},"isManaged":false}},
     "name":"ROOT-3","size":8589934592,"path":"5b1c.qcow2","volumeId":5,"vmName":"i-2-3-VM",
     "accountId":2,"format":"QCOW2","provisioningType":"THIN","poolId":1,"id":5,"deviceId":0,
     "hypervisorType":"KVM","directDownload":false,"deployAsIs":false,"followRedirects":false,
     "bytesReadRate":1000}],
  "target":{"id":8,"snapshotName":"i-2-3-VM_VS_20250101120000","type":"DiskAndMemory",
     "current":false,"description":"before upgrade",
     "parent":{"id":7,"snapshotName":"i-2-3-VM_VS_20241231100000","type":"DiskAndMemory",
       "createTime":1735639200000,"current":true,"quiescevm":true,
       "parent":{"id":6,"snapshotName":"i-2-3-VM_VS_20241230100000","type":"Disk",
         "createTime":1735552800000,"current":false,"quiescevm":true}},
     "quiescevm":false},
  "vmName":"i-2-3-VM","guestOSType":"CentOS 7","platformEmulator":"CentOS 7.0",
  "contextMap":{"logcontextid":"abc"},"wait":1800,"bypassHostMaintenance":false}}]"""


def test_create_command_round_trips_unchanged():
    [item] = decode_commands(SECTION_1_9)
    assert item.error is None
    cmd = item.command
    assert cmd.vmName == "i-2-3-VM" and cmd.wait == 1800
    assert cmd.target.quiescevm is False and cmd.target.type == "DiskAndMemory"
    assert [p.snapshotName for p in cmd.target.chain()] == [
        "i-2-3-VM_VS_20241231100000", "i-2-3-VM_VS_20241230100000"]
    vol = cmd.volumeTOs[0]
    assert vol.dataStore.path == "/export/primary" and vol.extra["bytesReadRate"] == 1000
    again = json.loads(encode_commands([(item.class_name, cmd)]))
    assert again == json.loads(SECTION_1_9)


def test_quiescevm_defaults_to_true_as_the_java_constructor_does():
    body = json.dumps([{"com.cloud.agent.api.DeleteVMSnapshotCommand": {
        "vmName": "i-1", "target": {"snapshotName": "s"}}}])
    [item] = decode_commands(body)
    assert item.command.target.quiescevm is True
    assert item.command.contextMap == {} and item.command.wait == 0


def test_a_single_object_is_accepted_as_a_one_element_array():
    body = json.loads(SECTION_1_9)[0]
    assert len(decode_commands(json.dumps(body))) == 1


def test_unknown_class_gets_the_unsupported_text_and_others_still_decode():
    body = json.dumps([{"com.cloud.agent.api.MigrateCommand": {}},
                       json.loads(SECTION_1_9)[0]])
    first, second = decode_commands(body)
    assert first.error == (
        "Unsupported command issued: com.cloud.agent.api.MigrateCommand.  "
        "Are you sure you got the right type of server?"
    )
    assert first.error == unsupported_text("com.cloud.agent.api.MigrateCommand")
    assert second.error is None


@pytest.mark.parametrize("field,value", [
    ("vmName", 5), ("wait", "soon"), ("vmName", ""), ("target", "x"),
    ("volumeTOs", [{"volumeType": "FLOPPY"}]), ("volumeTOs", [{"dataStore": {"a": 1, "b": 2}}]),
])
def test_wrong_types_are_a_failed_answer_not_a_crash(field, value):
    body = json.loads(SECTION_1_9)
    body[0]["com.cloud.agent.api.CreateVMSnapshotCommand"][field] = value
    [item] = decode_commands(json.dumps(body))
    assert item.command is None
    assert item.error.startswith("Invalid CreateVMSnapshotCommand:")
    assert field in item.error


@pytest.mark.parametrize("body", [
    "", "not json", "[]", "3", "[1]", '[{"a": 1, "b": 2}]', '{"a": 1, "b": 2}', "[" * 5000,
])
def test_bad_envelopes_raise(body):
    with pytest.raises(EnvelopeError):
        decode_commands(body)


def test_deep_parent_chains_load_and_dump_iteratively():
    node: dict = {"snapshotName": "s0", "quiescevm": True}
    for i in range(1, 400):
        node = {"snapshotName": f"s{i}", "quiescevm": True, "parent": node}
    body = json.dumps([{"com.cloud.agent.api.DeleteVMSnapshotCommand": {
        "vmName": "vm", "target": node, "contextMap": {}, "wait": 0,
        "bypassHostMaintenance": False}}])
    [item] = decode_commands(body)
    assert len(item.command.target.chain()) == 399
    assert json.loads(encode_commands([(item.class_name, item.command)])) == json.loads(body)


def test_answers_omit_nulls_and_decode_back():
    ans = Answer(result=False, details="nope")
    text = encode_answers([("com.cloud.agent.api.DeleteVMSnapshotAnswer", ans)])
    data = json.loads(text)[0]["com.cloud.agent.api.DeleteVMSnapshotAnswer"]
    assert data == {"result": False, "details": "nope", "contextMap": {}, "wait": 0,
                    "bypassHostMaintenance": False}
    [(name, back)] = decode_answers(text)
    assert name.endswith("DeleteVMSnapshotAnswer") and back.details == "nope"
