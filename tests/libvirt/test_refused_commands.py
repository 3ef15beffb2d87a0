"""Commands a careless or hostile caller can send the driver, on the test driver with real
qcow2 images: each is refused with a clear answer and changes nothing."""

from __future__ import annotations

import os

from driver.http.auth import signed_headers
from driver.hypervisors.libvirt import qemuimg
from tests import agentjson as aj
from tests.support.driver import make_disk

STORAGE = "org.apache.cloudstack.storage.command."
SNAPSHOT_OBJECT = "org.apache.cloudstack.storage.to.SnapshotObjectTO"
VOLUME_OBJECT = "org.apache.cloudstack.storage.to.VolumeObjectTO"
STORE = "org.apache.cloudstack.storage.to.PrimaryDataStoreTO"


def _store(pool: str) -> dict:
    return {STORE: {"path": pool}}


def _delete(data: dict) -> dict:
    return {STORAGE + "DeleteCommand": {"data": data}}


def _delete_volume_snapshot(pool: str, volume: str, name: str) -> dict:
    return _delete({SNAPSHOT_OBJECT: {"name": name, "path": name, "volume": {
        "path": volume, "dataStore": _store(pool)}}})


def _delete_volume(pool: str, path: str) -> dict:
    return _delete({VOLUME_OBJECT: {"path": path, "dataStore": _store(pool)}})


def test_a_volume_snapshot_name_cannot_climb_out_of_the_pool(agent, pool, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    victim = make_disk(str(outside), "victim.qcow2")
    neighbour = make_disk(pool, "neighbour.qcow2")
    make_disk(pool, "v.qcow2")
    for name in ("x/../../../outside/victim", "../neighbour", "a/b", ""):
        answer = agent.one(_delete_volume_snapshot(pool, "v.qcow2", name))
        assert answer["result"] is False
        assert "snapshot name" in answer["details"]
    assert os.path.exists(victim) and os.path.exists(neighbour)
    # Refused, and no folder was made on the way.
    assert not os.path.exists(os.path.join(pool, ".volume-snapshots"))


def test_a_folder_in_the_pool_is_not_deleted_as_a_volume(agent, pool):
    folder = os.path.join(pool, "sub")
    os.mkdir(folder)
    inside = make_disk(folder, "kept.qcow2")
    answer = agent.one(_delete_volume(pool, "sub"))
    assert answer["result"] is False and "folder" in answer["details"]
    assert os.path.exists(inside)
    assert sorted(os.listdir(pool)) == ["sub"]  # not renamed to a hidden name either


def test_a_volume_a_vm_is_defined_with_is_neither_deleted_nor_resized_under_it(
        agent, pool, vm_factory):
    vm = vm_factory(running=False)
    disk = vm.disks[0]
    size = qemuimg.info(disk)["virtual-size"]
    assert agent.ok(aj.create(vm.name, "held", vm.volumes()))
    answer = agent.one(_delete_volume(pool, os.path.basename(disk)))
    assert answer["result"] is False and vm.name in answer["details"]
    assert os.path.exists(disk)
    resize = {"com.cloud.agent.api.storage.ResizeVolumeCommand": {
        "path": os.path.basename(disk), "pool": {"path": pool}, "newSize": 128 << 20}}
    answer = agent.one(resize)  # no vmInstance given: the driver finds the VM itself
    assert answer["result"] is False and "cannot be resized" in answer["details"]
    assert qemuimg.info(disk)["virtual-size"] == size
    assert "held" in qemuimg.tags(disk)


def test_a_signature_is_one_request_whatever_its_case(agent):
    path = "/v1/commands"
    body = aj.body(aj.freeze_thaw("no-such-vm", "thawed"))
    headers = signed_headers(agent.secret, "POST", path, body)
    first = agent.client.post(path, data=body, headers=headers)
    assert first.status_code == 200
    for variant in (str.upper, str.swapcase, lambda s: " " + s):
        again = {**headers}
        name = next(k for k in headers if k.lower().endswith("signature"))
        again[name] = variant(headers[name])
        resp = agent.client.post(path, data=body, headers=again)
        assert resp.status_code == 401, variant
        assert "replayed" in resp.get_data(as_text=True)


def test_a_lone_surrogate_is_refused_as_invalid_input(agent):
    body = b'[{"com.cloud.agent.api.CheckVirtualMachineCommand": {"vmName": "\\ud800"}}]'
    resp = agent.client.post("/v1/commands", data=body,
                             headers=signed_headers(agent.secret, "POST", "/v1/commands", body))
    assert resp.status_code == 200
    [answer] = resp.get_json()
    answer = next(iter(answer.values()))
    assert answer["result"] is False
    assert "Unicode" in answer["details"] and "Internal" not in answer["details"]


def _restore(vm, snapshots, parents=None):
    return aj.command("RestoreVMSnapshotCommand", vm.name, None, vm.volumes(),
                      snapshots=snapshots, snapshotAndParents=parents or {})


def test_a_refused_restore_registers_nothing(agent, vm_factory):
    vm = vm_factory()
    x, y, z = (aj.snapshot_to(n, type="DiskAndMemory") for n in ("x", "y", "z"))
    cycle = _restore(vm, [x, y, z], {str(y["id"]): z, str(z["id"]): y})
    answer = agent.one(cycle)
    assert answer["result"] is False and "cycle" in answer["details"]
    twice = _restore(vm, [aj.snapshot_to("d", type="DiskAndMemory"), aj.snapshot_to("d")])
    answer = agent.one(twice)
    assert answer["result"] is False and "twice" in answer["details"]
    assert vm.dom.listAllSnapshots() == []
    assert agent.get(f"/v1/vms/{vm.name}/snapshots").get_json()["snapshots"] == []


def test_each_restore_registers_what_it_names_even_after_an_earlier_one(agent, vm_factory):
    vm = vm_factory()
    a = aj.snapshot_to("a")
    assert agent.ok(_restore(vm, [a]))
    b = aj.snapshot_to("b", current=True)
    assert agent.ok(_restore(vm, [a, b], {str(b["id"]): a}))
    view = agent.get(f"/v1/vms/{vm.name}/snapshots").get_json()
    assert {s["name"]: s["parent"] for s in view["snapshots"]} == {"a": None, "b": "a"}


def test_a_stale_definition_is_not_started_with_its_old_disks(settings, pool, test_conn,
                                                              vm_factory):
    """A domain left defined under a name (an aborted run, say) with other disks: a start
    defines it again with the disks it is given, instead of booting the old ones."""
    from driver.app import create_app
    from driver.hypervisors.libvirt import LibvirtHost
    from tests.support.driver import AgentClient

    stale = vm_factory(running=False)
    fresh = make_disk(pool, "fresh.qcow2")
    host = LibvirtHost("test:///default", domain_type="test")
    try:
        agent = AgentClient(create_app(settings, host).test_client())
        volume = aj.volume(fresh, pool, vm=stale.name)
        agent.ok(aj.start(stale.name, [volume], agent=False))
        dom = test_conn.lookupByName(stale.name)
        assert fresh in dom.XMLDesc() and stale.disks[0] not in dom.XMLDesc()
    finally:
        host.close()


def test_no_volume_is_named_like_the_drivers_own_files(agent, pool, vm_factory):
    vm = vm_factory(running=False)
    state = os.path.join(pool, f"{vm.name}@s1.vmstate")
    for name in (f"{vm.name}@s1.vmstate", ".hidden.qcow2", ".volume-snapshots"):
        volume = aj.volume(os.path.join(pool, name), pool, vm=vm.name)
        volume["size"] = 1 << 20
        answer = agent.one(aj.create_volume(volume))
        assert answer["result"] is False and "driver's own files" in answer["details"]
    assert not os.path.exists(state)
    assert sorted(os.listdir(pool)) == sorted(os.path.basename(d) for d in vm.disks)


def test_a_disk_of_one_vm_is_not_started_in_another(settings, pool, test_conn, vm_factory):
    from driver.app import create_app
    from driver.hypervisors.libvirt import LibvirtHost
    from tests.support.driver import AgentClient

    owner = vm_factory(running=False)
    host = LibvirtHost("test:///default", domain_type="test")
    try:
        agent = AgentClient(create_app(settings, host).test_client())
        other = "i-2-999-VM"
        answer = agent.one(aj.start(other, [aj.volume(owner.disks[0], pool, vm=other)],
                                    agent=False))
        assert answer["result"] is False and owner.name in answer["details"]
        assert other not in [d.name() for d in test_conn.listAllDomains()]
    finally:
        host.close()
