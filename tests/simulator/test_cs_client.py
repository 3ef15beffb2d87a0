"""The wire format checked by code we did not write: the ``cs`` CloudStack client."""

from __future__ import annotations

import pytest

cs = pytest.importorskip("cs")


def client(sim, key, secret, **kw):
    return cs.CloudStack(endpoint=sim.endpoint, key=key, secret=secret, fetch_result=True,
                         job_timeout=60, poll_interval=0.05, **kw)


def test_the_cs_client_drives_the_whole_feature(sim, world):
    key, secret = sim.manager.accounts.admin_keys()
    api = client(sim, key, secret)
    vm = api.deployVirtualMachine(zoneid=world.zone, templateid=world.template,
                                  serviceofferingid=world.offering, name="cs-web")
    vm_id = vm["virtualmachine"]["id"]
    assert vm["virtualmachine"]["state"] == "Running"
    first = api.createVMSnapshot(virtualmachineid=vm_id, snapshotmemory=True, name="first",
                                 description="with spaces & symbols ~*[]", quiescevm=True)
    assert first["vmsnapshot"]["description"] == "with spaces & symbols ~*[]"
    second = api.createVMSnapshot(virtualmachineid=vm_id, snapshotmemory=True, name="second")
    listed = api.listVMSnapshot(virtualmachineid=vm_id)
    assert listed["count"] == 2 and listed["vmSnapshot"][0]["parentName"] == "first"
    assert api.revertToVMSnapshot(vmsnapshotid=first["vmsnapshot"]["id"])[
        "virtualmachine"]["id"] == vm_id
    assert api.deleteVMSnapshot(vmsnapshotid=second["vmsnapshot"]["id"])["success"] is True
    post = client(sim, key, secret, method="post")
    assert post.listVMSnapshot(virtualmachineid=vm_id, name="first")["count"] == 1
    with pytest.raises(cs.CloudStackApiException) as err:
        api.createVMSnapshot(virtualmachineid=vm_id, snapshotmemory=True,
                             name="x" * 256, fetch_result=False)
    assert err.value.error["errorcode"] == 431  # the declared length, checked first
    assert "max allowed length 255 for param: name" in err.value.error["errortext"]
    api.destroyVirtualMachine(id=vm_id, expunge=True)
    assert api.listVMSnapshot(virtualmachineid=vm_id) == {}


def test_the_cs_client_with_a_wrong_secret_gets_401(sim):
    key, _ = sim.manager.accounts.admin_keys()
    with pytest.raises(cs.CloudStackApiException) as err:
        client(sim, key, "wrong").listZones()
    assert err.value.error["errorcode"] == 401
