"""Records and hosts agree after a crash: the simulator killed (SIGKILL) one second into a
command a slowed served driver is carrying out, restarted on the same data; power states
that follow the host; reconcile finding and repairing each divergence made on purpose."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from benchmarks.crash_campaign import KILLS, campaign, check, slow_host
from contract_tests.client import Client
from contract_tests.waiting import wait_until
from driver.core.model import Snapshot, SnapshotType
from driver.wire.objects import VMSnapshotTO
from simulator.app import ThreadedServer
from simulator.models import VM
from simulator.orchestrator import wire
from tests.support.served import DriverProcess, Process
from tests.support.simulator import World


@pytest.fixture
def pair(tmp_path) -> Iterator[tuple[Process, DriverProcess]]:
    sim_dir = str(tmp_path / "sim")
    os.makedirs(sim_dir)
    driver = DriverProcess(str(tmp_path / "host"), pool=os.path.join(sim_dir, "pool"))
    os.makedirs(driver.data_dir)
    driver.start()
    sim = Process(sim_dir, "--driver-url", driver.url, "--driver-secret", driver.secret)
    try:
        yield sim.start(), driver
    finally:
        sim.stop()
        driver.stop()


def _killed_one_second_into(sim: Process, driver: DriverProcess, command: str,
                            **params: Any) -> Client:
    slow_host(driver, 1500)
    sim.client().call(command, **params)
    time.sleep(1)
    sim.kill()
    sim.start()
    client = sim.client()
    assert check(client, driver) == []
    slow_host(driver, 0)
    return client


@pytest.mark.parametrize("op", ["create", "revert", "stop", "start"])
def test_a_simulator_killed_mid_command_restarts_agreeing_with_the_host(pair, op: str) -> None:
    sim, driver = pair
    client = sim.client()
    vm = World(client).deploy(running=op != "start")
    if op == "create":
        client = _killed_one_second_into(sim, driver, "createVMSnapshot",
                                         virtualmachineid=vm["id"])
        [snap] = client.list("listVMSnapshot", "vmSnapshot", virtualmachineid=vm["id"])
        assert snap["state"] == "Ready" and snap["current"] is True
    elif op == "revert":
        first = client.run("createVMSnapshot", virtualmachineid=vm["id"],
                           snapshotmemory=True)["vmsnapshot"]
        client.run("createVMSnapshot", virtualmachineid=vm["id"], snapshotmemory=True)
        client = _killed_one_second_into(sim, driver, "revertToVMSnapshot",
                                         vmsnapshotid=first["id"])
        snaps = {s["id"]: s for s in client.list("listVMSnapshot", "vmSnapshot",
                                                 virtualmachineid=vm["id"])}
        assert snaps[first["id"]]["current"] is True  # the disks hold it: so do the records
        assert {s["state"] for s in snaps.values()} == {"Ready"}
    else:
        client = _killed_one_second_into(
            sim, driver, "stopVirtualMachine" if op == "stop" else "startVirtualMachine",
            id=vm["id"])
        [record] = client.list("listVirtualMachines", "virtualmachine", id=vm["id"])
        assert record["state"] == ("Stopped" if op == "stop" else "Running")


@pytest.mark.parametrize("op", ["attach", "detach", "resize"])
def test_a_simulator_killed_mid_volume_command_restarts_agreeing_with_the_host(
        pair, op: str) -> None:
    sim, driver = pair
    client = sim.client()
    world = World(client)
    vm = world.deploy(running=False)
    volume = client.run("createVolume", name="extra", zoneid=world.zone,
                        diskofferingid=world.disk_offering)["volume"]
    if op != "attach":
        client.run("attachVolume", id=volume["id"], virtualmachineid=vm["id"])
    command, params = {
        "attach": ("attachVolume", {"virtualmachineid": vm["id"]}),
        "detach": ("detachVolume", {}),
        "resize": ("resizeVolume", {"size": 7}),
    }[op]
    client = _killed_one_second_into(sim, driver, command, id=volume["id"], **params)
    [record] = client.list("listVolumes", "volume", id=volume["id"])
    assert record["state"] == "Ready"
    if op == "resize":
        assert record["size"] == 7 << 30  # the host resized it: so do the records
    else:
        assert record.get("virtualmachineid") == (vm["id"] if op == "attach" else None)
    # The host holds the disks the records name: a snapshot of the VM's volumes is taken.
    snap = client.run("createVMSnapshot", virtualmachineid=vm["id"])["vmsnapshot"]
    assert snap["state"] == "Ready"


@pytest.mark.parametrize("kill", KILLS)
def test_a_short_kill_campaign_ends_with_records_host_and_jobs_agreeing(tmp_path,
                                                                        kill: str) -> None:
    result = campaign(4, str(tmp_path), seed=7, kill=kill)
    assert result.rounds == 4
    assert result.diverged == []


# --- in-process: power sync and reconcile -------------------------------------------------


@pytest.fixture(scope="module")
def sim_overrides() -> dict[str, Any]:
    return {"power_sync_interval": 0.2}


def _host(sim: ThreadedServer) -> Any:
    return sim.app.extensions["sim.host"]


def test_power_states_follow_the_host(sim: ThreadedServer, admin: Client) -> None:
    vm = World(admin).deploy()
    _host(sim).simulated.guest(vm["instancename"]).stop()  # powered off behind our back
    wait_until(lambda: admin.list("listVirtualMachines", "virtualmachine", id=vm["id"])[0][
        "state"] == "Stopped", 30, message="the record to follow the host")


def test_reconcile_reports_and_repairs_each_divergence(sim: ThreadedServer,
                                                       admin: Client) -> None:
    sim.manager.close()  # no background sync: reconcile alone must find the power difference
    world = World(admin)
    vm = world.deploy()
    kept = world.snapshot(vm)
    lost = world.snapshot(vm)
    local = _host(sim)
    service, guest = local.service, local.simulated.guest(vm["instancename"])
    # The host lost one snapshot (its driver record and data are gone) ...
    disks = [d.as_disk() for d in guest.disks()]
    guest.delete(Snapshot(vm["instancename"], lost["name"], SnapshotType.DISK, disks=disks))
    tree = service.store.tree(vm["instancename"])
    tree.remove(lost["name"])
    service.store.save_tree(vm["instancename"], tree, removed=lost["name"])
    # ... holds one no record names ...
    record = sim.manager.store.by_uuid(VM, vm["id"])
    stray = sim.manager.send(wire.vm_snapshot_command(
        "CreateVMSnapshotCommand", record, VMSnapshotTO(id=9999, snapshotName="stray",
                                                        type="Disk", quiescevm=False),
        sim.manager.vm_snapshots.volume_tos(record)))
    assert stray.result, stray.details
    # ... and powered the VM off.
    guest.stop()
    found = {(d["kind"], d["vmsnapshotname"]) for d in admin.list(
        "reconcileVirtualMachineRecords", "reconciliation")}
    assert found == {("power", None), ("missing-on-host", lost["name"]),
                     ("orphan-on-host", "stray")}
    user_refused = admin.raw("reconcileVirtualMachineRecords", repair="maybe")
    assert user_refused.status_code == 431
    repaired = admin.list("reconcileVirtualMachineRecords", "reconciliation", repair=True)
    assert all(d["repaired"] for d in repaired)
    assert admin.list("reconcileVirtualMachineRecords", "reconciliation") == []
    states = {s["id"]: s["state"] for s in world.snapshots(vm)}
    assert states == {kept["id"]: "Ready", lost["id"]: "Error"}
    assert admin.list("listVirtualMachines", "virtualmachine", id=vm["id"])[0][
        "state"] == "Stopped"


def test_reconcile_is_for_admins_only(user: Client) -> None:
    assert user.raw("reconcileVirtualMachineRecords").status_code == 432


def test_no_guest_stays_frozen_when_the_host_dies_before_the_thaw_of_a_revert(tmp_path) -> None:
    """A revert to a quiesced memory snapshot resumes the guest frozen; the driver dies
    (the thaw step kills the process) before it thaws. After the restart (the driver's
    recovery, the simulator's resend of the revert) the guest is thawed."""
    sim = Process(str(tmp_path)).start()
    try:
        client = sim.client()
        vm = World(client).deploy()
        snap = client.run("createVMSnapshot", virtualmachineid=vm["id"], snapshotmemory=True,
                          quiescevm=True)["vmsnapshot"]
        sim.control("POST", "/faults", {"step": "thaw", "action": "die", "vm": vm["id"]})
        client.call("revertToVMSnapshot", vmsnapshotid=snap["id"])

        def thawed() -> bool:
            host = sim.control("GET", "/state")["host"]
            [guest] = [v for v in host["vms"] if v["name"] == vm["instancename"]]
            return not host["faults"] and guest["frozen"] is False

        # Any request may be cut short, its answer half sent, when the worker dies.
        wait_until(thawed, 60, interval=0.2, message="the restarted driver to thaw the guest",
                   ignore=(requests.RequestException, AssertionError))
    finally:
        sim.stop()
