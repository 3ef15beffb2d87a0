"""The kill -9 campaign, with a served simulator and a served driver whose host steps are slowed.

Each round starts one operation, kills the simulator, the driver or both (SIGKILL,
``--kill``) a random moment into it, starts them again on the same data and, once the
operation's job has ended, checks that records, host and job agree:

* within ``SETTLE`` seconds, no VM or VM snapshot record is left in a transitional state;
* the simulator's reconcile (records vs the host's reports) finds no difference;
* the driver's reconcile (its journal vs the hypervisor) finds no difference;
* no guest is left frozen;
* the job says what happened: a create that succeeded left its snapshot Ready and one that
  failed did not, a delete that succeeded left no snapshot and one that failed left it.

``python -m benchmarks.crash_campaign --rounds 300`` prints one line per round and a
summary; the exit status is 1 if any round diverged. CI runs a few rounds (a test does).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
from dataclasses import dataclass, field
from typing import Any

import requests

from contract_tests.client import ApiError, Client
from driver.http.auth import signed_headers
from tests.support.served import DriverProcess, Process

OPERATIONS = ("create", "revert", "delete", "stop", "start", "create-memory")
TRANSITIONAL_VM = {"Starting", "Stopping", "Expunging"}
TRANSITIONAL_SNAPSHOT = {"Allocated", "Creating", "Reverting", "Expunging"}


@dataclass
class Result:
    rounds: int = 0
    diverged: list[str] = field(default_factory=list)
    by_operation: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0


def slow_host(driver: DriverProcess, ms: int) -> None:
    """Slow every step of the served driver's simulated host (its fault file is shared)."""
    from driver.hypervisors.simulated.faults import Faults

    faults = Faults(os.path.join(driver.data_dir, "driver", "simhost.sqlite3-faults"))
    faults.clear()
    faults.add("*", "delay", ms=ms, count=1_000_000)
    faults.close()


def driver_differences(driver: DriverProcess) -> list[dict[str, Any]]:
    resp = requests.get(driver.url + "/v1/reconcile", timeout=60,
                        headers=signed_headers(driver.secret, "GET", "/v1/reconcile", b""))
    resp.raise_for_status()
    return list(resp.json()["differences"])


def check(client: Client, driver: DriverProcess) -> list[str]:
    """Every way the records and the host disagree after a restart (empty: they agree)."""
    problems = []
    vms = client.list("listVirtualMachines", "virtualmachine", listall=True)
    problems += [f"VM {v['instancename']} left {v['state']}" for v in vms
                 if v["state"] in TRANSITIONAL_VM]
    snaps = client.list("listVMSnapshot", "vmSnapshot", listall=True)
    problems += [f"snapshot {s['name']} left {s['state']}" for s in snaps
                 if s["state"] in TRANSITIONAL_SNAPSHOT]
    problems += [f"simulator reconcile: {json.dumps(d)}" for d in client.list(
        "reconcileVirtualMachineRecords", "reconciliation")]
    problems += [f"driver reconcile: {json.dumps(d)}" for d in driver_differences(driver)]
    for vm in vms:
        if vm["state"] == "Running" and _frozen(driver, vm["instancename"]):
            problems.append(f"guest {vm['instancename']} left frozen")
    return problems


def _frozen(driver: DriverProcess, name: str) -> bool:
    body = json.dumps([{"com.cloud.agent.api.FreezeThawVMCommand": {
        "vmName": name, "option": "status", "contextMap": {}}}]).encode()
    resp = requests.post(driver.url + "/v1/commands", data=body, timeout=60, headers={
        "Content-Type": "application/json",
        **signed_headers(driver.secret, "POST", "/v1/commands", body)})
    resp.raise_for_status()
    answer = next(iter(resp.json()[0].values()))
    return bool(answer["result"]) and answer["details"] == "frozen"


def _vm_and_snapshots(client: Client) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    vm = client.list("listVirtualMachines", "virtualmachine", listall=True)[0]
    snaps = client.list("listVMSnapshot", "vmSnapshot", virtualmachineid=vm["id"])
    return vm, snaps


def start_operation(client: Client, rng: random.Random) -> tuple[str, dict[str, Any], str | None]:
    """Start one operation that fits the VM's state; return its name, the API's answer (its
    job) and the VM snapshot it is about, if any."""
    vm, snaps = _vm_and_snapshots(client)
    ready = [s for s in snaps if s["state"] == "Ready"]
    errors = [s for s in snaps if s["state"] == "Error"]
    running = vm["state"] == "Running"
    choices = ["stop" if running else "start"]
    if len(snaps) < 6:
        choices += ["create", "create-memory"] if running else ["create"]
    fitting = [s for s in ready if (s["type"] == "DiskAndMemory") == running]
    if fitting:
        choices.append("revert")
    if ready or errors:
        choices.append("delete")
    op = rng.choice(choices)
    target = None
    if op == "stop":
        started = client.call("stopVirtualMachine", id=vm["id"])
    elif op == "start":
        started = client.call("startVirtualMachine", id=vm["id"])
    elif op in ("create", "create-memory"):
        started = client.call("createVMSnapshot", virtualmachineid=vm["id"],
                              snapshotmemory=op == "create-memory", quiescevm=True)
        target = started["id"]
    elif op == "revert":
        target = rng.choice(fitting)["id"]
        started = client.call("revertToVMSnapshot", vmsnapshotid=target)
    else:
        target = rng.choice(errors or ready)["id"]
        started = client.call("deleteVMSnapshot", vmsnapshotid=target)
    return op, started, target


def job_disagrees(client: Client, op: str, started: dict[str, Any],
                  target: str | None) -> list[str]:
    """Whether the operation's job, once ended, says what the records show."""
    deadline = time.monotonic() + 120
    while True:
        job = client.call("queryAsyncJobResult", jobid=started["jobid"])
        if job["jobstatus"] != 0:
            break
        if time.monotonic() > deadline:
            return [f"the {op} job never ended"]
        time.sleep(0.2)
    ok = job["jobstatus"] == 1
    states = {s["id"]: s["state"] for s in client.list(
        "listVMSnapshot", "vmSnapshot", listall=True)}
    if op in ("create", "create-memory") and ok != (states.get(target or "") == "Ready"):
        return [f"the create job {'succeeded' if ok else 'failed'}, its snapshot is "
                f"{states.get(target or '', 'gone')}"]
    if op == "delete" and ok != (target not in states):
        return [f"the delete job {'succeeded' if ok else 'failed'}, its snapshot is "
                f"{states.get(target or '', 'gone')}"]
    return []


KILLS = ("simulator", "driver", "both")
SETTLE = 10.0  # seconds after the restart for records and host to agree


def campaign(rounds: int, workdir: str, *, seed: int = 1, step_ms: int = 700,
             log: Any = None, kill: str = "simulator") -> Result:
    rng = random.Random(seed)
    result = Result()
    started = time.monotonic()
    sim_dir = os.path.join(workdir, "sim")
    os.makedirs(sim_dir, exist_ok=True)
    driver = DriverProcess(os.path.join(workdir, "host"), pool=os.path.join(sim_dir, "pool"))
    os.makedirs(driver.data_dir, exist_ok=True)
    driver.start()
    sim = Process(sim_dir, "--driver-url", driver.url, "--driver-secret", driver.secret)
    try:
        sim.start()
        client = sim.client()
        zone = client.list("listZones", "zone")[0]["id"]
        template = next(t["id"] for t in client.list("listTemplates", "template",
                                                     templatefilter="featured")
                        if t["guestagent"])
        offering = client.list("listServiceOfferings", "serviceoffering")[0]["id"]
        client.run("deployVirtualMachine", zoneid=zone, templateid=template,
                   serviceofferingid=offering)
        slow_host(driver, step_ms)
        for i in range(rounds):
            job: dict[str, Any] | None = None
            target = None
            try:
                op, job, target = start_operation(client, rng)
            except ApiError as exc:  # refused (e.g. a rule of the feature): not a crash round
                op = f"refused ({exc.errorcode})"
            delay = rng.uniform(0.1, 2.5)
            time.sleep(delay)
            killed = [p for name, p in (("simulator", sim), ("driver", driver))
                      if kill in (name, "both")]
            for served in killed:
                served.kill()
            for served in rng.sample(killed, len(killed)):  # back in either order
                served.start()
            client = sim.client()
            problems = job_disagrees(client, op, job, target) if job else []
            # A host still down when the simulator recovered is asked again within seconds
            # of being back: the records may take that long to follow it.
            settle = time.monotonic() + SETTLE
            while (found := check(client, driver)) and time.monotonic() < settle:
                time.sleep(0.5)
            problems += found
            result.rounds += 1
            result.by_operation[str(op)] = result.by_operation.get(str(op), 0) + 1
            line = f"round {i + 1}: {op}, {kill} killed after {delay:.2f} s: " + (
                "agree" if not problems else "; ".join(problems))
            if problems:
                result.diverged.append(line)
            if log is not None:
                print(line, file=log, flush=True)
    finally:
        sim.stop()
        driver.stop()
    result.seconds = time.monotonic() - started
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=300)
    parser.add_argument("--kill", choices=KILLS, default="simulator",
                        help="what is killed in each round")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workdir", help="where both services keep their data")
    args = parser.parse_args(argv)
    workdir = args.workdir or tempfile.mkdtemp(prefix="crash-campaign-")
    result = campaign(args.rounds, workdir, seed=args.seed, log=sys.stdout, kill=args.kill)
    print(json.dumps({"rounds": result.rounds, "diverged": len(result.diverged),
                      "by_operation": result.by_operation,
                      "seconds": round(result.seconds)}))
    return 1 if result.diverged else 0


if __name__ == "__main__":
    sys.exit(main())
