"""A restart loses nothing: the simulator as a real process, killed mid-operation and
started again on the same data directory."""

from __future__ import annotations

import requests

from contract_tests.client import ApiError, Client
from contract_tests.waiting import wait_until
from tests.support.served import Process


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
                         ignore=(requests.RequestException, ApiError))
        state = sim.control("GET", "/state")
        host_vm = next(v for v in state["host"]["vms"] if v["name"] == vm["instancename"])
        assert host_vm["frozen"] is False  # the driver thawed it on start-up
        # The create had reached the host: the restarted simulator resent it, and the record
        # follows the host's answer (the driver had rolled its half back, then made it anew).
        [snap] = client.list("listVMSnapshot", "vmSnapshot", virtualmachineid=vm["id"])
        assert snap["state"] == "Ready"
        # ... and so does the job: its work was done, so it succeeded (a client told it
        # failed would take another snapshot).
        assert job["jobstatus"] == 1, job
        assert job["jobresult"]["vmsnapshot"]["id"] == snap["id"] == started["id"]
        assert job["jobresult"]["vmsnapshot"]["state"] == "Ready"
        assert client.run("createVMSnapshot", virtualmachineid=vm["id"], quiescevm=True)[
            "vmsnapshot"]["parent"] == snap["id"]
    finally:
        sim.stop()
