"""Lab mode: the simulator driving real QEMU domains on qcow2 volumes through the driver's
libvirt backend (deploy, guest data, snapshots, limitations, destroy)."""

from __future__ import annotations

import base64

import pytest

from contract_tests.client import Client, JobFailed
from simulator.app import ThreadedServer
from simulator.config import SimConfig
from tests.support.simulator import World, control

pytestmark = pytest.mark.qemu


@pytest.fixture
def lab(libvirtd, tmp_path):
    config = SimConfig(data_dir=str(tmp_path / "sim"), driver_backend="libvirt",
                       libvirt_uri=libvirtd, libvirt_domain_type="qemu")
    server = ThreadedServer(config).start()
    key, secret = server.manager.accounts.admin_keys()
    client = Client(server.endpoint, key, secret, poll=0.05)
    made = []
    yield server, client, World(client), made
    for vm in made:
        try:
            client.run("destroyVirtualMachine", id=vm["id"], expunge=True)
        except JobFailed:
            pass
    server.stop()


def guest(server, vm, op, **fields):
    return control(server, "POST", f"/vms/{vm['id']}/guest", {"op": op, **fields})


def test_the_simulator_drives_real_qemu(lab, qemu_conn):
    server, client, world, made = lab
    vm = world.deploy()
    made.append(vm)
    dom = qemu_conn.lookupByName(vm["instancename"])
    assert dom.isActive()
    guest(server, vm, "write", data=base64.b64encode(b"first").decode())
    first = world.snapshot(vm, snapshotmemory=True)
    guest(server, vm, "write", data=base64.b64encode(b"later").decode())
    disk_only = world.snapshot(vm)
    # a live memory snapshot: its memory is a file beside the disks, nothing in libvirt
    assert dom.listAllSnapshots() == [] and first["guestpausems"] > 0
    client.run("revertToVMSnapshot", vmsnapshotid=first["id"])
    assert dom.isActive()
    out = guest(server, vm, "read", length=5)
    assert base64.b64decode(out["data"]) == b"first"
    client.run("stopVirtualMachine", id=vm["id"])
    client.run("revertToVMSnapshot", vmsnapshotid=disk_only["id"])
    assert base64.b64decode(guest(server, vm, "read", length=5)["data"]) == b"later"
    extra = client.run("createVolume", name="x", zoneid=world.zone,
                       diskofferingid=world.disk_offering)["volume"]
    with pytest.raises(JobFailed):
        client.run("attachVolume", id=extra["id"], virtualmachineid=vm["id"])
    client.run("destroyVirtualMachine", id=vm["id"], expunge=True)
    made.remove(vm)
    assert vm["instancename"] not in [d.name() for d in qemu_conn.listAllDomains()]
