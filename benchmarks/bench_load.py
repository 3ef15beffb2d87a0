"""The simulator under load (``make bench`` runs it after the other simulator benchmarks).

Many CI jobs share one simulator. ``--clients`` clients (48 by default), each with its own VM,
loop for ``--seconds``: createVMSnapshot, poll queryAsyncJobResult until the job ends,
deleteVMSnapshot, poll again. The simulator is served as users run it (``vmsnap-simulator``,
gunicorn, in-process driver on the simulated host) in its own process; the clients run in
``--procs`` processes of threads so that one client process's interpreter lock does not
become the bottleneck being measured. Reported: the latency of every API request (p50, p99),
jobs finished per second, create -> Ready per snapshot, and the CPU the server process used
per request and per job (robust to other load on the machine, unlike the latencies). Side
by side, the same clients calling ``listZones`` (a synchronous call that touches the store
once) give the floor of the served API on this machine at this moment, and one client alone
gives the cost of a job without queueing.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from typing import Any

import requests

from contract_tests.client import Client


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def pct(samples: list[float], p: float) -> float:
    ordered = sorted(samples)
    if not ordered:
        return 0.0
    return round(ordered[min(len(ordered) - 1, int(p * len(ordered)))] * 1000, 1)


class TimedClient(Client):
    """The project's client, recording the wall time of every API request."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.latencies: list[float] = []

    def raw(self, command: str, *, method: str = "GET", **params: Any) -> requests.Response:
        t = time.perf_counter()
        try:
            return super().raw(command, method=method, **params)
        finally:
            self.latencies.append(time.perf_counter() - t)


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) used so far by process ``pid`` and its children."""
    with open(f"/proc/{pid}/stat") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    ticks = sum(int(v) for v in fields[11:15])  # utime, stime, cutime, cstime
    return ticks / os.sysconf("SC_CLK_TCK")


def worker_pid(master: int) -> int:
    """The gunicorn worker (the master's one child), where requests and jobs run."""
    with open(f"/proc/{master}/task/{master}/children") as fh:
        return int(fh.read().split()[0])


def serve(data_dir: str, port: int, threads: int) -> tuple[subprocess.Popen[str], str, str]:
    """``vmsnap-simulator`` in its own process; its endpoint's admin key and secret."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "simulator.cli", "--port", str(port), "--data-dir", data_dir,
         "--threads", str(threads)],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    assert proc.stdout is not None
    banner = ""
    while "admin secret" not in banner:
        line = proc.stdout.readline()
        if not line:
            raise RuntimeError("the simulator exited before printing its banner")
        banner += line
    key = re.search(r"admin apikey:\s+(\S+)", banner)
    secret = re.search(r"admin secret:\s+(\S+)", banner)
    assert key and secret
    endpoint = f"http://127.0.0.1:{port}/client/api"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            requests.get(endpoint, timeout=2)
            break
        except requests.ConnectionError:
            time.sleep(0.1)
    return proc, key.group(1), secret.group(1)


def _client_loop(endpoint: str, key: str, secret: str, vm: str, start: float, seconds: float,
                 poll: float, work: str) -> dict[str, Any]:
    client = TimedClient(endpoint, key, secret, poll=poll)
    time.sleep(max(0.0, start - time.time()))
    stop = time.monotonic() + seconds
    jobs, ready = 0, []
    while time.monotonic() < stop:
        if work == "list":
            client.call("listZones")
            continue
        t = time.perf_counter()
        snap = client.run("createVMSnapshot", virtualmachineid=vm)["vmsnapshot"]
        ready.append(time.perf_counter() - t)
        client.run("deleteVMSnapshot", vmsnapshotid=snap["id"])
        jobs += 2
    return {"latencies": client.latencies, "jobs": jobs, "ready": ready}


def _group(endpoint: str, key: str, secret: str, vms: list[str], start: float, seconds: float,
           poll: float, work: str) -> dict[str, Any]:
    """One client process: a thread per client."""
    cpu = time.process_time()
    with ThreadPoolExecutor(len(vms)) as pool:
        results = list(pool.map(lambda vm: _client_loop(endpoint, key, secret, vm, start,
                                                        seconds, poll, work), vms))
    return {"latencies": [x for r in results for x in r["latencies"]],
            "jobs": sum(r["jobs"] for r in results),
            "ready": [x for r in results for x in r["ready"]],
            "cpu": time.process_time() - cpu}


def load(endpoint: str, key: str, secret: str, vms: list[str], procs: int, seconds: float,
         poll: float, work: str, server: int) -> dict[str, Any]:
    start = time.time() + 2.0  # every client begins together, after the processes are up
    groups = [vms[i::procs] for i in range(procs)]
    with ProcessPoolExecutor(procs) as pool:
        futures = [pool.submit(_group, endpoint, key, secret, g, start, seconds, poll, work)
                   for g in groups]
        time.sleep(max(0.0, start - time.time()))
        cpu = cpu_seconds(server)
        results = [f.result() for f in futures]
        cpu = cpu_seconds(server) - cpu
    latencies = [x for r in results for x in r["latencies"]]
    ready = [x for r in results for x in r["ready"]]
    jobs = sum(r["jobs"] for r in results)
    clients_cpu = sum(r["cpu"] for r in results)
    out = {"API requests": len(latencies), "API p50 ms": pct(latencies, 0.5),
           "API p99 ms": pct(latencies, 0.99),
           "requests/s": round(len(latencies) / seconds, 1),
           "server CPU s": round(cpu, 2), "server CPU share of one core": round(cpu / seconds, 2),
           "server CPU ms per request": round(1000 * cpu / max(1, len(latencies)), 2),
           "clients' CPU ms per request": round(1000 * clients_cpu / max(1, len(latencies)),
                                                2)}
    if work == "snapshots":
        out.update({"jobs/s": round(jobs / seconds, 1),
                    "server CPU ms per job (with its requests)": round(
                        1000 * cpu / max(1, jobs), 2),
                    "requests per job": round(len(latencies) / max(1, jobs), 2),
                    "clients' CPU ms per job": round(1000 * clients_cpu / max(1, jobs), 2),
                    "create -> Ready p50 ms": pct(ready, 0.5),
                    "create -> Ready p99 ms": pct(ready, 0.99)})
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", type=int, default=48)
    parser.add_argument("--procs", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--poll", type=float, default=0.05, help="job polling interval, s")
    parser.add_argument("--threads", type=int, default=8, help="the server's threads")
    args = parser.parse_args()
    data_dir = tempfile.mkdtemp()
    port = free_port()
    proc, key, secret = serve(data_dir, port, args.threads)
    try:
        endpoint = f"http://127.0.0.1:{port}/client/api"
        server = worker_pid(proc.pid)
        admin = Client(endpoint, key, secret, poll=0.01)
        zone = admin.list("listZones", "zone")[0]["id"]
        template = admin.list("listTemplates", "template", templatefilter="featured")[0]["id"]
        offering = admin.list("listServiceOfferings", "serviceoffering")[0]["id"]
        vms = [admin.run("deployVirtualMachine", zoneid=zone, templateid=template,
                         serviceofferingid=offering)["virtualmachine"]["id"]
               for _ in range(args.clients)]
        results = {
            "clients": args.clients, "seconds": args.seconds, "poll s": args.poll,
            "load before": os.getloadavg()[0],
            "floor: listZones": load(endpoint, key, secret, vms, args.procs, args.seconds / 2,
                                     args.poll, "list", server),
            "snapshot work": load(endpoint, key, secret, vms, args.procs, args.seconds,
                                  args.poll, "snapshots", server),
            # The same work by one client alone, polling every 2 ms: the cost of a job
            # itself, without the queueing and polling of the load.
            "one client alone": load(endpoint, key, secret, vms[:1], 1, args.seconds / 2,
                                     0.002, "snapshots", server),
            "load after": os.getloadavg()[0],
        }
    finally:
        proc.terminate()
        proc.wait(30)
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
