"""A restart loses nothing: the simulator as a real process, killed mid-operation and
started again on the same data directory."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time

import requests

from contract_tests.client import ApiError, Client
from contract_tests.waiting import wait_until


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Process:
    def __init__(self, data_dir: str) -> None:
        self.data_dir = data_dir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Process:
        log = open(os.path.join(self.data_dir, f"sim-{time.time()}.log"), "wb")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "simulator.cli", "--data-dir", self.data_dir, "--port",
             str(self.port)], stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        proc = self.proc

        def answering() -> bool:
            assert proc.poll() is None, "the simulator exited"
            return requests.get(self.url + "/client/api", timeout=1) is not None

        # The port listens before the app is loaded: an early request waits, or times out.
        wait_until(answering, 30, interval=0.1,
                   ignore=(requests.ConnectionError, requests.Timeout),
                   message="the simulator to answer")
        return self

    def token(self) -> str:
        with open(os.path.join(self.data_dir, "control-token")) as fh:
            return fh.read().strip()

    def control(self, method: str, path: str, body: object = None) -> dict:
        resp = requests.request(method, self.url + "/_sim" + path, json=body, timeout=10,
                                headers={"X-Vmsnap-Sim-Token": self.token()})
        assert resp.status_code == 200, resp.text
        return resp.json()

    def client(self) -> Client:
        state = self.control("GET", "/state")
        admin = next(u for u in state["objects"]["User"] if u["username"] == "admin")
        return Client(self.url + "/client/api", admin["api_key"], admin["secret_key"],
                      poll=0.02)

    def kill(self) -> None:
        assert self.proc is not None
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(10)


def deploy(client: Client) -> dict:
    zone = client.list("listZones", "zone")[0]["id"]
    template = client.list("listTemplates", "template", templatefilter="featured")[0]["id"]
    offering = client.list("listServiceOfferings", "serviceoffering")[0]["id"]
    return client.run("deployVirtualMachine", zoneid=zone, templateid=template,
                      serviceofferingid=offering)["virtualmachine"]


def test_a_killed_simulator_fails_its_running_jobs_cleanly_on_restart(tmp_path):
    sim = Process(str(tmp_path)).start()
    try:
        client = sim.client()
        vm = deploy(client)
        done = client.run("createVMSnapshot", virtualmachineid=vm["id"])["vmsnapshot"]
        sim.control("POST", "/jobs", {"delay_ms": 5000})
        started = client.call("createVMSnapshot", virtualmachineid=vm["id"])
        wait_until(lambda: any(s["state"] == "Creating" for s in client.list(
            "listVMSnapshot", "vmSnapshot", virtualmachineid=vm["id"])), 30,
            message="the snapshot job to start")
        sim.kill()
        sim.start()
        client = sim.client()
        job = client.call("queryAsyncJobResult", jobid=started["jobid"])
        assert job["jobstatus"] == 2 and "restart" in job["jobresult"]["errortext"]
        snaps = {s["id"]: s["state"] for s in client.list(
            "listVMSnapshot", "vmSnapshot", virtualmachineid=vm["id"])}
        assert snaps == {done["id"]: "Ready", started["id"]: "Error"}
        client.run("deleteVMSnapshot", vmsnapshotid=started["id"])
        sim.control("POST", "/jobs", {"delay_ms": 0})
        again = client.run("createVMSnapshot", virtualmachineid=vm["id"])["vmsnapshot"]
        assert again["parent"] == done["id"]
    finally:
        sim.stop()


def test_the_host_dying_between_two_steps_is_recovered(tmp_path):
    sim = Process(str(tmp_path)).start()
    try:
        client = sim.client()
        vm = deploy(client)
        sim.control("POST", "/faults", {"step": "capture", "action": "die", "vm": vm["id"]})
        started = client.call("createVMSnapshot", virtualmachineid=vm["id"], quiescevm=True)
        # The in-process host took the worker down; gunicorn starts a new one, which
        # recovers the driver and the management state before it serves.
        def finished() -> dict | None:
            job = client.call("queryAsyncJobResult", jobid=started["jobid"])
            return job if job["jobstatus"] != 0 else None

        job = wait_until(finished, 60, interval=0.2, message="a worker to come back",
                         ignore=(requests.ConnectionError, requests.Timeout, ApiError))
        assert job["jobstatus"] == 2 and "restart" in job["jobresult"]["errortext"]
        state = sim.control("GET", "/state")
        host_vm = next(v for v in state["host"]["vms"] if v["name"] == vm["instancename"])
        assert host_vm["frozen"] is False  # the driver thawed it on start-up
        [snap] = client.list("listVMSnapshot", "vmSnapshot", virtualmachineid=vm["id"])
        assert snap["state"] == "Error"
        client.run("deleteVMSnapshot", vmsnapshotid=snap["id"])
        assert client.run("createVMSnapshot", virtualmachineid=vm["id"], quiescevm=True)[
            "vmsnapshot"]["state"] == "Ready"
    finally:
        sim.stop()
