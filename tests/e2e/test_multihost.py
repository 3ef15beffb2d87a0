"""One simulator, a zone of three hosts, each a real ``vmsnap-driver serve`` process (on the
simulated host) on its own loopback port: VMs and their snapshots spread across the hosts,
and a host whose driver is killed fails its own VMs' operations while the others carry on."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from contract_tests.client import Client, JobFailed
from driver.http.auth import signed_headers
from simulator.app import ThreadedServer
from simulator.config import load_config
from simulator.orchestrator.resync import sync_power

SECRETS = {"kvm1": "secret-one", "kvm2": "secret-two", "kvm3": "secret-three"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Driver:
    """A served driver on the simulated host, with its own data directory."""

    def __init__(self, tmp: Path, name: str, pool: str) -> None:
        self.name, self.tmp, self.pool = name, tmp, pool
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Driver:
        env = dict(os.environ, VMSNAP_SECRET=SECRETS[self.name], VMSNAP_BACKEND="simulated",
                   VMSNAP_STORAGE_POOLS=self.pool, VMSNAP_DATA_DIR=str(self.tmp / self.name),
                   VMSNAP_PORT=str(self.port), VMSNAP_GUEST_DATA_COMMAND="true",
                   VMSNAP_LOG_LEVEL="WARNING")
        log = open(self.tmp / f"{self.name}.log", "ab")  # noqa: SIM115
        self.proc = subprocess.Popen([sys.executable, "-m", "driver.cli", "serve"], env=env,
                                     stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while True:
            try:
                if requests.get(self.url + "/readyz", timeout=1).status_code == 200:
                    return self
            except requests.ConnectionError:
                pass
            assert self.proc.poll() is None, (self.tmp / f"{self.name}.log").read_text()
            assert time.monotonic() < deadline, f"{self.name} did not become ready"
            time.sleep(0.1)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)

    def snapshots(self, instance: str) -> list[str]:
        """The snapshot names the driver itself holds for a VM (its read-only view)."""
        path = f"/v1/vms/{instance}/snapshots"
        resp = requests.get(self.url + path, timeout=10,
                            headers=signed_headers(SECRETS[self.name], "GET", path, b""))
        if resp.status_code == 404:
            return []
        assert resp.status_code == 200, resp.text
        return sorted(s["name"] for s in resp.json()["snapshots"])


@pytest.fixture
def zone(tmp_path: Path) -> Iterator[tuple[ThreadedServer, Client, dict[str, Driver]]]:
    data_dir = tmp_path / "sim"
    pool = str(data_dir / "pool")
    os.makedirs(pool)
    drivers = {name: Driver(tmp_path, name, pool).start() for name in SECRETS}
    ini = tmp_path / "world.ini"
    ini.write_text("[zone:zone1]\n[pod:pod1]\nzone = zone1\n[cluster:cluster1]\npod = pod1\n"
                   + "".join(f"[host:{name}]\ncluster = cluster1\nurl = {d.url}\n"
                             f"secret = {SECRETS[name]}\n" for name, d in drivers.items()))
    sim = ThreadedServer(load_config(str(ini), data_dir=str(data_dir))).start()
    key, secret = sim.manager.accounts.admin_keys()
    try:
        yield sim, Client(sim.endpoint, key, secret, poll=0.02), drivers
    finally:
        sim.stop()
        for d in drivers.values():
            d.stop()


def deploy(client: Client) -> dict[str, Any]:
    zone = client.list("listZones", "zone")[0]["id"]
    template = client.list("listTemplates", "template", templatefilter="featured")[0]["id"]
    offering = client.list("listServiceOfferings", "serviceoffering")[0]["id"]
    return client.run("deployVirtualMachine", zoneid=zone, templateid=template,
                      serviceofferingid=offering)["virtualmachine"]


def test_vms_and_snapshots_spread_across_three_served_drivers(zone: Any) -> None:
    sim, client, drivers = zone
    hosts = client.list("listHosts", "host")
    assert sorted(h["name"] for h in hosts) == ["kvm1", "kvm2", "kvm3"]
    assert {(h["state"], h["type"], h["clustername"], h["podname"], h["zonename"])
            for h in hosts} == {("Up", "Routing", "cluster1", "pod1", "zone1")}
    [cluster] = client.list("listClusters", "cluster")
    assert (cluster["name"], cluster["podname"], cluster["hypervisortype"]) == (
        "cluster1", "pod1", "KVM")
    [pod] = client.list("listPods", "pod", zoneid=hosts[0]["zoneid"])
    assert pod["name"] == "pod1"
    assert client.list("listHosts", "host", clusterid=cluster["id"]) == hosts

    vms = [deploy(client) for _ in range(6)]
    by_host = Counter(vm["hostname"] for vm in vms)
    assert by_host == {"kvm1": 2, "kvm2": 2, "kvm3": 2}  # the least-loaded host each time
    for vm in vms:
        snap = client.run("createVMSnapshot", virtualmachineid=vm["id"])["vmsnapshot"]
        assert snap["state"] == "Ready"
        # The snapshot is on the VM's own host, and on no other.
        for name, driver in drivers.items():
            held = driver.snapshots(vm["instancename"])
            assert held == ([snap["name"]] if name == vm["hostname"] else [])
        [again] = client.list("listVirtualMachines", "virtualmachine", id=vm["id"])
        assert again["hostname"] == vm["hostname"]  # VMs stay on their host


def test_a_killed_driver_fails_its_vms_operations_while_others_carry_on(zone: Any) -> None:
    sim, client, drivers = zone
    vms = [deploy(client) for _ in range(3)]
    on = {vm["hostname"]: vm for vm in vms}
    assert set(on) == {"kvm1", "kvm2", "kvm3"}
    drivers["kvm2"].stop()

    with pytest.raises(JobFailed) as failed:
        client.run("createVMSnapshot", virtualmachineid=on["kvm2"]["id"])
    kvm2 = client.list("listHosts", "host", name="kvm2")[0]
    assert failed.value.errorcode == 530
    assert "is unreachable" in failed.value.errortext
    assert kvm2["state"] == "Down"
    assert [s["state"] for s in client.list("listVMSnapshot", "vmSnapshot",
                                            virtualmachineid=on["kvm2"]["id"])] == ["Error"]

    for name in ("kvm1", "kvm3"):  # the other hosts carry on
        snap = client.run("createVMSnapshot", virtualmachineid=on[name]["id"])["vmsnapshot"]
        assert snap["state"] == "Ready"
        assert drivers[name].snapshots(on[name]["instancename"]) == [snap["name"]]
        client.run("deleteVMSnapshot", vmsnapshotid=snap["id"])
    new = deploy(client)  # nothing is placed on a Down host
    assert new["hostname"] in ("kvm1", "kvm3")

    drivers["kvm2"].start()  # back on the same port and data: the host is Up again
    # The host's next report says so, before any command reaches one of its VMs (and so
    # new VMs may go to it again).
    sync_power(sim.app.extensions["sim.manager"])
    assert client.list("listHosts", "host", name="kvm2")[0]["state"] == "Up"
    snap = client.run("createVMSnapshot", virtualmachineid=on["kvm2"]["id"])["vmsnapshot"]
    assert snap["state"] == "Ready"
    assert client.list("listHosts", "host", name="kvm2")[0]["state"] == "Up"
