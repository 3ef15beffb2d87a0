"""Commands exactly as CloudStack's management server sends them for the pools its KVM
agent mounts itself (NFS, Gluster: at ``<mount.parent>/<pool uuid>``, with the export on
the server in the pool's ``path``), for a volume not created yet (no path), and for a
command this driver does not implement."""

from __future__ import annotations

import json
import os

import pytest

from driver.app import create_app
from driver.hypervisors.libvirt import qemuimg
from tests import agentjson as aj
from tests.libvirt.conftest import TestVM as Domain
from tests.support.driver import AgentClient, make_disk

POOL_UUID = "5d3c3f0e-8b1a-4f7e-9d2c-1f0e2d3c4b5a"
STORE = "org.apache.cloudstack.storage.to.PrimaryDataStoreTO"
VOLUME = "org.apache.cloudstack.storage.to.VolumeObjectTO"


@pytest.fixture
def mounts(tmp_path):
    """The agent's mount parent, with one mounted NFS pool in it."""
    parent = tmp_path / "mnt"
    (parent / POOL_UUID).mkdir(parents=True)
    return parent


@pytest.fixture
def nfs_agent(settings, host, mounts):
    app = create_app(settings.with_overrides(
        libvirt_uri="test:///default", mount_parent=str(mounts),
        storage_pools=[str(mounts)]), host)
    return AgentClient(app.test_client())


def _on_nfs(volume: dict, uuid: str = POOL_UUID) -> dict:
    """The volume as CloudStack describes it on an NFS primary storage."""
    volume["dataStore"] = {STORE: {
        "uuid": uuid, "id": 3, "name": "nfs1", "poolType": "NetworkFilesystem",
        "host": "10.0.0.5", "path": "/export/primary", "port": 2049,
        "url": f"NetworkFilesystem://10.0.0.5/export/primary/?ROLE=Primary&STOREUUID={uuid}"}}
    return volume


def test_vm_snapshots_of_disks_on_an_nfs_pool_find_them_where_the_agent_mounted_it(
        nfs_agent, mounts, test_conn):
    vm = Domain(test_conn, str(mounts / POOL_UUID), running=False)
    try:
        volumes = [_on_nfs(v) for v in vm.volumes()]
        answer = nfs_agent.one(aj.create(vm.name, "s1", volumes))
        assert answer["result"] is True, answer["details"]
        assert "s1" in qemuimg.tags(vm.disks[0])
        assert nfs_agent.ok(aj.delete(vm.name, "s1", volumes))
        assert "s1" not in qemuimg.tags(vm.disks[0])
    finally:
        vm.remove()


def test_a_resize_on_an_nfs_pool_names_the_mounted_volume(nfs_agent, mounts):
    disk = make_disk(str(mounts / POOL_UUID), "data-7")
    resize = {"com.cloud.agent.api.storage.ResizeVolumeCommand": {
        "path": "data-7", "newSize": 128 << 20, "shrinkOk": False, "contextMap": {},
        "pool": {"id": 3, "uuid": POOL_UUID, "host": "10.0.0.5", "path": "/export/primary",
                 "port": 2049, "type": "NetworkFilesystem", "userInfo": ""}}}
    answer = nfs_agent.one(resize)
    assert answer["result"] is True, answer["details"]
    assert qemuimg.info(disk)["virtual-size"] == 128 << 20


@pytest.mark.parametrize("uuid", ["..", "../other", "a/b", "", ".hidden"])
def test_an_nfs_pool_uuid_that_is_not_a_plain_name_is_refused(nfs_agent, mounts, uuid,
                                                              tmp_path):
    volume = _on_nfs(aj.volume(str(mounts / POOL_UUID / "v"), str(mounts / POOL_UUID),
                               vm="i-2-1-VM"), uuid)
    answer = nfs_agent.one(aj.create_volume(volume))
    assert answer["result"] is False and "no valid uuid" in answer["details"]
    assert sorted(os.listdir(tmp_path / "mnt")) == [POOL_UUID]
    assert os.listdir(mounts / POOL_UUID) == []


def test_a_new_volume_without_a_path_is_named_by_its_uuid_and_the_answer_says_so(agent,
                                                                                   pool):
    volume = aj.volume(os.path.join(pool, "unused"), pool, vm="i-2-1-VM")
    del volume["path"]
    volume["uuid"] = "c0ffee00-0000-4000-8000-000000000007"
    raw = json.loads(agent.post(aj.create_volume(volume)).get_data())
    (name, answer), = raw[0].items()
    assert name.endswith("CreateObjectAnswer") and answer["result"] is True, answer
    assert answer["data"][VOLUME]["path"] == volume["uuid"]
    created = os.path.join(pool, volume["uuid"])
    assert qemuimg.info(created)["virtual-size"] == volume["size"]


def test_freezing_a_vm_the_host_does_not_have_says_so_as_the_agent_does(agent):
    answer = agent.one(aj.freeze_thaw("i-9-99-VM", "frozen"))
    assert answer["result"] is False
    assert answer["details"] == "Failed to frozen due to i-9-99-VM was not found"
