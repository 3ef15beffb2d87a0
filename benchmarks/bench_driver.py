"""Driver benchmarks. Run with ``make bench``; results go to docs/benchmarks.md by hand.

1. freeze window vs the bare disk capture, 1 and 4 disks, on the agent guest (real QEMU);
2. create/revert/delete over HTTP (the served driver) vs the same libvirt calls made
   directly on the same real domain;
3. operation cost at chain depth 1, 100 and 1000 on libvirt's test driver.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from typing import Any

import libvirt
import requests

from contract_tests.waiting import wait_until
from driver.app import build_service
from driver.http.auth import signed_headers
from driver.hypervisors.libvirt import LibvirtHost
from driver.settings import Settings
from driver.wire.envelope import decode_commands
from tests import agentjson as aj
from tests.integration.qemu import URI, QemuVM, copy_image, libvirtd_running
from tests.support.driver import make_disk


def median_ms(samples: list[float]) -> float:
    return round(statistics.median(samples) * 1000, 2)


def timed(fn: Callable[[], Any]) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def settings_for(tmp: str, pool: str, uri: str) -> Settings:
    return Settings(data_dir=os.path.join(tmp, "data"), storage_pools=[pool], secret="bench",
                    libvirt_uri=uri, log_json=False, log_level="WARNING")


def run(service: Any, command: dict[str, Any]) -> Any:
    [item] = decode_commands(aj.body(command))
    answer = service.execute(item)[1]
    assert answer.result, answer.details
    return answer


def timed_run(service: Any, command: dict[str, Any]) -> float:
    t = time.perf_counter()
    run(service, command)
    return time.perf_counter() - t


def bench_freeze_window(reps: int, guest_dir: str) -> dict[str, Any]:
    out = {}
    conn = libvirt.open(URI)
    for ndisks in (1, 4):
        tmp = tempfile.mkdtemp()
        pool = os.path.join(tmp, "pool")
        os.mkdir(pool)
        disks = [copy_image(os.path.join(guest_dir, "data.qcow2"), pool, "data.qcow2")]
        disks += [make_disk(pool, f"extra{i}.qcow2") for i in range(ndisks - 1)]
        vm = QemuVM(conn, pool, disks, agent_channel=True, memory_mib=256,
                    kernel=os.path.join(guest_dir, "vmlinuz"),
                    initrd=os.path.join(guest_dir, "initrd.gz"))
        vm.start()
        vm.wait_for_agent()
        host = LibvirtHost(URI)
        service = build_service(settings_for(tmp, pool, URI), host)
        windows, captures, totals = [], [], []
        for i in range(reps):
            t = time.perf_counter()
            answer = run(service, aj.create(vm.name, f"q{i}", vm.volumes(), quiesce=True))
            totals.append(time.perf_counter() - t)
            windows.append(answer.freezeWindowMs / 1000)
            guest = host.guest(vm.name)
            plan = guest.preflight(f"b{i}", memory=False)
            t = time.perf_counter()
            guest.capture(plan, description="")
            captures.append(time.perf_counter() - t)
        out[f"{ndisks} disk(s)"] = {
            "freeze window ms (median)": median_ms(windows),
            "bare capture ms (median)": median_ms(captures),
            "whole quiesced create ms (median)": median_ms(totals),
        }
        vm.remove()
        host.close()
    conn.close()
    return out


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def bench_http_vs_direct(reps: int) -> dict[str, Any]:
    tmp = tempfile.mkdtemp()
    pool = os.path.join(tmp, "pool")
    os.mkdir(pool)
    conn = libvirt.open(URI)
    vm = QemuVM(conn, pool, [make_disk(pool, "root.qcow2")])
    vm.start()
    port = free_port()
    env = dict(os.environ, VMSNAP_SECRET="bench", VMSNAP_STORAGE_POOLS=pool,
               VMSNAP_DATA_DIR=os.path.join(tmp, "data"), VMSNAP_LIBVIRT_URI=URI,
               VMSNAP_PORT=str(port), VMSNAP_LOG_LEVEL="WARNING",
               # the same mechanism as the direct calls: savevm (bench_memory covers the live
               # path against it)
               VMSNAP_MEMORY_CAPTURE="savevm")
    proc = subprocess.Popen([sys.executable, "-m", "driver.cli", "serve"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    wait_until(lambda: requests.get(base + "/readyz", timeout=1).ok, 60, interval=0.1,
               ignore=(requests.ConnectionError, requests.Timeout),
               message="the driver to become ready")

    def post(command: dict[str, Any]) -> None:
        data = aj.body(command)
        resp = requests.post(base + "/v1/commands", data=data, timeout=120,
                             headers=signed_headers("bench", "POST", "/v1/commands", data))
        assert next(iter(resp.json()[0].values()))["result"], resp.text

    driver: dict[str, list[float]] = {"create": [], "revert": [], "delete": []}
    direct: dict[str, list[float]] = {"create": [], "revert": [], "delete": []}
    vols = vm.volumes()
    for i in range(reps):
        name = f"h{i}"
        driver["create"].append(timed(partial(post, aj.create(vm.name, name, vols,
                                                              type="DiskAndMemory"))))
        driver["revert"].append(timed(partial(post, aj.revert(vm.name, name, vols,
                                                              type="DiskAndMemory"))))
        driver["delete"].append(timed(partial(post, aj.delete(vm.name, name, vols,
                                                              type="DiskAndMemory"))))
        xml = f"<domainsnapshot><name>d{i}</name><memory snapshot='internal'/></domainsnapshot>"
        direct["create"].append(timed(partial(vm.dom.snapshotCreateXML, xml,
                                              libvirt.VIR_DOMAIN_SNAPSHOT_CREATE_ATOMIC)))
        snap = vm.dom.snapshotLookupByName(f"d{i}")
        direct["revert"].append(timed(partial(vm.dom.revertToSnapshot, snap, 0)))
        direct["delete"].append(timed(partial(snap.delete, 0)))
    proc.terminate()
    proc.wait(10)
    vm.remove()
    conn.close()
    return {op: {"driver over HTTP ms": median_ms(driver[op]),
                 "libvirt direct ms": median_ms(direct[op]),
                 "ratio": round(statistics.median(driver[op]) / statistics.median(direct[op]), 2)}
            for op in driver}


def bench_depth(reps: int) -> dict[str, Any]:
    out = {}
    for depth in (1, 100, 1000):
        tmp = tempfile.mkdtemp()
        pool = os.path.join(tmp, "pool")
        os.mkdir(pool)
        conn = libvirt.open("test:///default")
        disk = make_disk(pool, "root.qcow2")
        name = f"depth-{depth}"
        dom = conn.defineXML(
            f"<domain type='test'><name>{name}</name><memory unit='MiB'>64</memory><vcpu>1"
            f"</vcpu><os><type arch='x86_64'>hvm</type></os><devices><disk type='file' "
            f"device='disk'><driver name='qemu' type='qcow2'/><source file='{disk}'/><target "
            f"dev='vda' bus='virtio'/></disk></devices></domain>")
        dom.create()
        host = LibvirtHost("test:///default")
        service = build_service(settings_for(tmp, pool, "test:///default"), host)
        vols = [aj.volume(disk, pool, vm=name)]
        for i in range(depth - 1):
            run(service, aj.create(name, f"c{i}", vols, type="DiskAndMemory"))
        create, revert, delete = [], [], []
        for i in range(reps):
            snap = f"x{i}"
            create.append(timed_run(service, aj.create(name, snap, vols, type="DiskAndMemory")))
            revert.append(timed_run(service, aj.revert(name, snap, vols, type="DiskAndMemory")))
            delete.append(timed_run(service, aj.delete(name, snap, vols, type="DiskAndMemory")))
        out[f"depth {depth}"] = {"create ms": median_ms(create), "revert ms": median_ms(revert),
                                 "delete ms": median_ms(delete)}
        dom.destroy()
        dom.undefineFlags(libvirt.VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA)
        host.close()
        conn.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--reps", type=int, default=10)
    parser.add_argument("--guest-dir", default=".cache/guest")
    parser.add_argument("--only", choices=["freeze", "http", "depth"])
    args = parser.parse_args()
    results: dict[str, Any] = {}
    with libvirtd_running(needed=args.only != "depth"):
        if args.only in (None, "depth"):
            results["chain depth (test driver)"] = bench_depth(args.reps)
        if args.only in (None, "http"):
            results["HTTP vs direct libvirt (real QEMU, memory snapshots)"] = \
                bench_http_vs_direct(args.reps)
        if args.only in (None, "freeze"):
            results["freeze window (real QEMU + agent)"] = bench_freeze_window(
                args.reps, os.path.abspath(args.guest_dir))
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
