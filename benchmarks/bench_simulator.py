"""Simulator benchmarks (``make bench`` runs them after the driver's):

1. createVMSnapshot -> job Ready latency (p50/p99) and sustained create+delete cycles/s;
2. listVMSnapshot throughput with 10,000 snapshots vs a bare Flask JSON endpoint on the same
   server (the cost of the API itself);
3. bytes stored per snapshot vs bytes written since its parent, on the simulated host;
4. operation cost at chain depth 1 vs 1000 on the simulated host.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import statistics
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import requests
from flask import jsonify

from contract_tests.client import Client
from simulator.app import ThreadedServer
from simulator.config import SimConfig
from simulator.models import VM, VMSnapshot


def pct(samples: list[float], p: float) -> float:
    ordered = sorted(samples)
    return round(ordered[min(len(ordered) - 1, int(p * len(ordered)))] * 1000, 2)


BARE = [{"id": f"x{i}", "name": f"snapshot {i}", "state": "Ready"} for i in range(100)]


def bare() -> Any:
    """The floor: a Flask view that returns a ready-made list of 100 items."""
    return jsonify({"listvmsnapshotresponse": {"count": 10_000, "vmSnapshot": BARE}})


def setup(reps: int) -> tuple[ThreadedServer, Client, dict[str, Any]]:
    sim = ThreadedServer(SimConfig(data_dir=tempfile.mkdtemp()))
    sim.app.add_url_rule("/bench/bare", "bench_bare", bare)
    sim.start()
    key, secret = sim.manager.accounts.admin_keys()
    client = Client(sim.endpoint, key, secret, poll=0.002)
    zone = client.list("listZones", "zone")[0]["id"]
    template = client.list("listTemplates", "template", templatefilter="featured")[0]["id"]
    offering = client.list("listServiceOfferings", "serviceoffering")[0]["id"]
    vm = client.run("deployVirtualMachine", zoneid=zone, templateid=template,
                    serviceofferingid=offering)["virtualmachine"]
    return sim, client, vm


def bench_latency(client: Client, vm: dict[str, Any], reps: int) -> dict[str, Any]:
    latencies = []
    for _ in range(reps):
        t = time.perf_counter()
        snap = client.run("createVMSnapshot", virtualmachineid=vm["id"])["vmsnapshot"]
        latencies.append(time.perf_counter() - t)
        client.run("deleteVMSnapshot", vmsnapshotid=snap["id"])
    return {"create -> Ready p50 ms": pct(latencies, 0.5),
            "create -> Ready p99 ms": pct(latencies, 0.99), "samples": reps}


def bench_cycles(client: Client, seconds: float) -> dict[str, Any]:
    """Create+delete cycles on 4 VMs at once for ``seconds``."""
    zone = client.list("listZones", "zone")[0]["id"]
    template = client.list("listTemplates", "template", templatefilter="featured")[0]["id"]
    offering = client.list("listServiceOfferings", "serviceoffering")[0]["id"]
    vms = [client.run("deployVirtualMachine", zoneid=zone, templateid=template,
                      serviceofferingid=offering)["virtualmachine"] for _ in range(4)]
    stop = time.monotonic() + seconds
    counts = [0] * len(vms)

    def loop(i: int) -> None:
        c = Client(client.endpoint, client.api_key, client.secret, poll=0.002)
        while time.monotonic() < stop:
            snap = c.run("createVMSnapshot", virtualmachineid=vms[i]["id"])["vmsnapshot"]
            c.run("deleteVMSnapshot", vmsnapshotid=snap["id"])
            counts[i] += 1

    with ThreadPoolExecutor(len(vms)) as pool:
        list(pool.map(loop, range(len(vms))))
    return {"create+delete cycles/s (4 VMs in parallel)": round(sum(counts) / seconds, 1)}


def bench_list(sim: ThreadedServer, client: Client, vm: dict[str, Any], total: int,
               seconds: float) -> dict[str, Any]:
    store = sim.manager.store
    vm_obj = store.by_uuid(VM, vm["id"])
    assert vm_obj is not None
    with store.tx():
        for i in range(total):
            store.add(VMSnapshot(name=f"{vm_obj.instance_name}_VS_bulk{i}", display_name=f"b{i}",
                                 vm_id=vm_obj.id, account_id=vm_obj.account_id,
                                 domain_id=vm_obj.domain_id,
                                 service_offering_id=vm_obj.service_offering_id,
                                 state="Ready", current=False))

    def rate(fn: Any) -> float:
        n, stop = 0, time.monotonic() + seconds
        while time.monotonic() < stop:
            fn()
            n += 1
        return n / seconds

    session = requests.Session()
    api = rate(lambda: client.call("listVMSnapshot", virtualmachineid=vm["id"], page=1,
                                   pagesize=100))
    raw = rate(lambda: session.get(sim.url + "/bench/bare", timeout=10).json())
    return {f"listVMSnapshot (page of 100 of {total}) req/s": round(api, 1),
            "bare Flask JSON endpoint (100 items) req/s": round(raw, 1),
            "ratio bare/API": round(raw / api, 1)}


def bench_storage(reps: int) -> dict[str, Any]:
    """Bytes a snapshot stores vs the bytes written since its parent, on the simulated host."""
    sim, client, vm = setup(reps)
    control = {"X-Vmsnap-Sim-Token": sim.control_token}
    try:
        host = sim.host.simulated
        client.call("updateConfiguration", name="vmsnapshot.max", value="2000")
        ratios = []
        for i in range(reps):
            written = 4096 * (1 + i % 8)
            requests.post(f"{sim.url}/_sim/vms/{vm['id']}/guest", headers=control, json={
                "op": "write", "offset": 4096 * 16 * i,
                "data": base64.b64encode(os.urandom(written)).decode()}, timeout=10)
            snap = client.run("createVMSnapshot", virtualmachineid=vm["id"])["vmsnapshot"]
            stored = host.guest(vm["instancename"]).snapshot_bytes(snap["name"])
            ratios.append(stored / written)
        depth = {}
        for n in (1, 1000):
            vm2 = client.run("deployVirtualMachine", zoneid=vm["zoneid"],
                             templateid=vm["templateid"],
                             serviceofferingid=vm["serviceofferingid"])["virtualmachine"]
            for _ in range(n - 1):
                client.run("createVMSnapshot", virtualmachineid=vm2["id"])
            times = []
            for _ in range(5):
                t = time.perf_counter()
                snap = client.run("createVMSnapshot", virtualmachineid=vm2["id"])["vmsnapshot"]
                client.run("deleteVMSnapshot", vmsnapshotid=snap["id"])
                times.append(time.perf_counter() - t)
            read = []
            for _ in range(5):
                t = time.perf_counter()
                requests.post(f"{sim.url}/_sim/vms/{vm2['id']}/guest", headers=control, json={
                    "op": "read", "offset": 0, "length": 4096}, timeout=10)
                read.append(time.perf_counter() - t)
            depth[f"depth {n}"] = {"create+delete ms": round(statistics.median(times) * 1000, 2),
                                   "guest read of a block ms": round(
                                       statistics.median(read) * 1000, 2)}
        return {"stored/written ratio (median)": round(statistics.median(ratios), 3),
                "stored/written ratio (max)": round(max(ratios), 3), **depth}
    finally:
        sim.stop()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--reps", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--snapshots", type=int, default=10_000)
    args = parser.parse_args()
    results: dict[str, Any] = {}
    sim, client, vm = setup(args.reps)
    try:
        results["latency"] = bench_latency(client, vm, args.reps)
        results["throughput"] = bench_cycles(client, args.seconds)
        results["list"] = bench_list(sim, client, vm, args.snapshots, args.seconds)
    finally:
        sim.stop()
    results["storage and depth"] = bench_storage(20)
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    threading.stack_size(4 << 20)
    main()
