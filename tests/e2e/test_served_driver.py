"""``vmsnap-driver serve`` as a real process on a real port, driven with requests."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys

import pytest
import requests

from contract_tests.waiting import wait_until
from driver.http.auth import signed_headers
from tests import agentjson as aj

pytest.importorskip("libvirt")
SECRET = "e2e-secret"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def served(tmp_path, pool):
    disk = os.path.join(pool, "root.qcow2")
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", disk, "64M"], check=True)
    node = tmp_path / "host.xml"
    node.write_text(
        "<node><domain type='test'><name>i-2-10-VM</name><memory unit='MiB'>128</memory>"
        "<vcpu>1</vcpu><os><type arch='x86_64'>hvm</type></os><devices>"
        f"<disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='{disk}'/>"
        "<target dev='vda' bus='virtio'/></disk></devices></domain></node>")
    port = free_port()
    env = dict(os.environ, VMSNAP_SECRET=SECRET, VMSNAP_STORAGE_POOLS=pool,
               VMSNAP_DATA_DIR=str(tmp_path / "data"), VMSNAP_LIBVIRT_URI=f"test:///{node}",
               VMSNAP_PORT=str(port), VMSNAP_LOG_JSON="true",
               VMSNAP_GUEST_DATA_COMMAND="true")
    log = open(tmp_path / "driver.log", "wb")  # noqa: SIM115
    proc = subprocess.Popen([sys.executable, "-m", "driver.cli", "serve"], env=env,
                            stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"

    def ready() -> bool:
        assert proc.poll() is None, (tmp_path / "driver.log").read_text()
        return requests.get(base + "/readyz", timeout=1).status_code == 200

    wait_until(ready, 30, interval=0.1, ignore=(requests.ConnectionError, requests.Timeout),
               message="the driver to become ready")
    yield base, pool, disk, tmp_path / "driver.log"
    proc.terminate()
    proc.wait(10)


def post(base, *commands):
    data = aj.body(*commands)
    return requests.post(base + "/v1/commands", data=data, timeout=30,
                         headers={"Content-Type": "application/json",
                                  **signed_headers(SECRET, "POST", "/v1/commands", data)})


def test_served_driver_snapshots_over_real_http(served):
    base, pool, disk, log = served
    vm = "i-2-10-VM"
    volumes = [aj.volume(disk, pool, vm=vm)]
    resp = post(base, aj.create(vm, "s1", volumes, type="DiskAndMemory", description="<b>&"))
    assert resp.status_code == 200
    [answer] = resp.json()
    body = answer["com.cloud.agent.api.CreateVMSnapshotAnswer"]
    assert body["result"] is True and body["vmSnapshotTo"]["description"] == "<b>&"
    post(base, aj.create(vm, "s2", volumes, type="DiskAndMemory"))
    path = f"/v1/vms/{vm}/snapshots"
    tree = requests.get(base + path, headers=signed_headers(SECRET, "GET", path, b""),
                        timeout=10).json()
    assert [(s["name"], s["parent"]) for s in tree["snapshots"]] == [("s1", None), ("s2", "s1")]
    assert requests.post(base + "/v1/commands", data=b"[]", timeout=10).status_code == 401
    assert requests.post(base + "/v1/commands", data=b"x" * (5 * 1024 * 1024),
                         timeout=10).status_code == 413
    metrics = requests.get(base + "/metrics", timeout=10).text
    assert "vmsnap_operations_total" in metrics
    lines = [json.loads(line) for line in log.read_text().splitlines()
             if line.startswith("{")]
    tagged = [line for line in lines if line.get("snapshot") == "s1"]
    assert tagged and all(line["vm"] == vm for line in tagged)
