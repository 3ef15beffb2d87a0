"""Instance snapshots on Ceph RBD, on a one-node cluster started for the run (bluestore on
a sparse file, monitor batching at 0.05 s as in the tests) and the real libvirtd + QEMU.

1. disk operations of a stopped VM with one 256 MiB RBD disk (64 MiB written between two
   snapshots): create, revert and delete through the driver against the same ``rbd snap``
   calls made directly, alternating in one run;
2. memory snapshots of the agent guest booted from RBD, by RAM size (memory dirtied): the
   guest's pause with the driver's live path against the stop-the-world way that works
   without it (suspend, libvirt memory-only external snapshot into a file, ``rbd snap
   create``, resume), alternating; the whole create call; and the revert;
3. where the memory state goes, on the same guest, alternating: a file in
   ``rbd_memory_dir`` against an RBD image of ``rbd_memory_pool`` (streamed through
   ``rbd import -``), pause and whole create call and revert, with the raw cost of moving
   a state file onto the cluster afterwards (``rbd import`` of the file) beside them.

Pauses are QEMU's own STOP -> RESUME event timestamps. Results are printed as JSON; method
and figures are in ``docs/benchmarks.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable
from functools import partial
from typing import Any

import libvirt

from benchmarks.bench_memory import median, run
from driver.app import build_service, make_hypervisor
from driver.hypervisors.libvirt.monitor import PauseWatch, start_event_loop
from driver.settings import Settings
from tests import agentjson as aj
from tests.integration.qemu import URI, QemuVM, libvirtd_running
from tests.support.ceph import CephCluster


def timed(fn: Callable[[], Any]) -> float:
    t = time.perf_counter()
    fn()
    return (time.perf_counter() - t) * 1000


class RbdRig:
    """One domain on an RBD image, the driver's service for it, the raw tools beside."""

    def __init__(self, conn: Any, cluster: CephCluster, name: str, *, mib: int = 128,
                 guest_dir: str | None = None, disk_mib: int = 256) -> None:
        self.conn, self.cluster, self.name = conn, cluster, name
        self.tmp = tempfile.mkdtemp()
        self.pool = os.path.join(self.tmp, "pool")
        os.makedirs(os.path.join(self.pool, "memory"))
        host, port = cluster.monitor
        self.spec = f"{cluster.pool}/{name}-root"
        self.url = f"rbd:{self.spec}:mon_host={host}\\:{port}"
        if guest_dir:
            cluster.run("qemu-img", "convert", "-O", "raw",
                        os.path.join(guest_dir, "data.qcow2"), self.url, timeout=300)
            boot = (f"<kernel>{guest_dir}/vmlinuz</kernel><initrd>{guest_dir}/initrd.gz"
                    "</initrd><cmdline>console=ttyS0 panic=-1 quiet</cmdline>")
        else:
            cluster.run("rbd", "create", "--size", f"{disk_mib}M", self.spec)
            boot = ""
        self.dom = conn.defineXML(
            f"<domain type='qemu'><name>{name}</name><memory unit='MiB'>{mib}</memory>"
            f"<vcpu>1</vcpu><os><type arch='x86_64' machine='pc'>hvm</type>{boot}</os>"
            "<features><acpi/></features><devices>"
            "<disk type='network' device='disk'><driver name='qemu' type='raw' "
            f"cache='writeback'/><source protocol='rbd' name='{self.spec}'><host "
            f"name='{host}' port='{port}'/></source><target dev='vda' bus='virtio'/></disk>"
            "<channel type='unix'><target type='virtio' name='org.qemu.guest_agent.0'/>"
            "</channel><memballoon model='none'/></devices></domain>")
        settings = Settings(data_dir=os.path.join(self.tmp, "data"), storage_pools=[self.pool],
                            secret="bench", libvirt_uri=URI, log_json=False,
                            log_level="WARNING", rbd_pools=[cluster.pool],
                            ceph_monitors=f"{host}:{port}",
                            rbd_memory_dir=os.path.join(self.pool, "memory"))
        self.host = make_hypervisor(settings)
        self.service = build_service(settings, self.host)
        # The same host keeping its memory states as images of the pool (its own journal).
        in_pool = settings.with_overrides(data_dir=os.path.join(self.tmp, "data-pool"),
                                          rbd_memory_dir="", rbd_memory_pool=cluster.pool)
        self.pool_host = make_hypervisor(in_pool)
        self.pool_service = build_service(in_pool, self.pool_host)
        volume = aj.volume(os.path.join(self.pool, "x"), self.pool, vm=name)
        volume["dataStore"]["org.apache.cloudstack.storage.to.PrimaryDataStoreTO"].update(
            poolType="RBD", path=cluster.pool)
        volume["path"] = f"{name}-root"
        self.volumes = [volume]

    def write(self, mib: int, byte: int) -> None:
        subprocess.run(["qemu-io", "-f", "raw", "-c", f"write -P {byte} 0 {mib}M", self.url],
                       check=True, capture_output=True)

    def pause(self, fn: Callable[[], Any]) -> tuple[float, float]:
        watch = PauseWatch(self.conn, self.dom)
        wall = timed(fn)
        pause = watch.close(expect_running=True)
        return (pause if pause is not None else float("nan")), wall

    def close(self) -> None:
        try:
            if self.dom.isActive():
                self.dom.destroy()
            self.dom.undefine()
        except libvirt.libvirtError:
            pass
        self.host.close()
        self.pool_host.close()
        self.cluster.run("rbd", "snap", "purge", self.spec)
        self.cluster.run("rbd", "rm", self.spec)
        subprocess.run(["rm", "-rf", self.tmp], check=False)


def bench_disk(conn: Any, cluster: CephCluster, reps: int) -> dict[str, Any]:
    rig = RbdRig(conn, cluster, "bench-rbd-disk")
    rows: dict[str, list[float]] = {k: [] for k in (
        "driver create", "rbd snap create", "driver revert", "rbd snap rollback",
        "driver delete", "rbd snap rm")}
    try:
        for i in range(reps):
            ours, raw = f"d{i}", f"{rig.spec}@raw{i}"
            rig.write(64, 1 + i % 200)
            rows["driver create"].append(timed(partial(
                run, rig.service, aj.create(rig.name, ours, rig.volumes))))
            rows["rbd snap create"].append(timed(partial(cluster.run, "rbd", "snap", "create",
                                                         raw)))
            rig.write(64, 2 + i % 200)
            rows["driver revert"].append(timed(partial(
                run, rig.service, aj.revert(rig.name, ours, rig.volumes))))
            rows["rbd snap rollback"].append(timed(partial(cluster.run, "rbd", "snap",
                                                           "rollback", raw)))
            rows["driver delete"].append(timed(partial(
                run, rig.service, aj.delete(rig.name, ours, rig.volumes))))
            rows["rbd snap rm"].append(timed(partial(cluster.run, "rbd", "snap", "rm", raw)))
    finally:
        rig.close()
    out = {f"{k} ms": median(v) for k, v in rows.items()}
    for op, raw in (("create", "rbd snap create"), ("revert", "rbd snap rollback"),
                    ("delete", "rbd snap rm")):
        out[f"{op} ratio driver/rbd"] = round(statistics.median(rows[f"driver {op}"])
                                             / statistics.median(rows[raw]), 2)
    return out


def stop_the_world(rig: RbdRig, name: str) -> None:
    """What works on RBD without a live capture: suspend, save the memory into a file with
    a libvirt memory-only external snapshot, snapshot the disk, resume."""
    state = os.path.join(rig.pool, "memory", f"raw-{name}.save")
    rig.dom.suspend()
    try:
        rig.dom.snapshotCreateXML(
            f"<domainsnapshot><name>raw-{name}</name><memory snapshot='external' "
            f"file='{state}'/><disks><disk name='vda' snapshot='no'/></disks>"
            "</domainsnapshot>", libvirt.VIR_DOMAIN_SNAPSHOT_CREATE_NO_METADATA)
        rig.cluster.run("rbd", "snap", "create", f"{rig.spec}@raw-{name}")
    finally:
        rig.dom.resume()
    os.remove(state)
    rig.cluster.run("rbd", "snap", "rm", f"{rig.spec}@raw-{name}")


def booted(rig: RbdRig) -> QemuVM:
    """Start the rig's domain and wait for its guest agent; the guest, to run commands in."""
    rig.dom.create()
    vm = QemuVM.__new__(QemuVM)  # the domain is the rig's, not one QemuVM defined
    vm.dom, vm.name = rig.dom, rig.name
    vm.wait_for_agent()
    return vm


def fill(vm: QemuVM, mib: int) -> int:
    """Dirty the RAM of a guest of ``mib`` MiB with random data; the MiB it holds (/tmp is a
    tmpfs of half the RAM: dd stops when it is full, du says how much)."""
    return int(vm.sh(f"dd if=/dev/urandom of=/tmp/fill bs=1M count="
                     f"{max(8, int(0.7 * mib) - 48)} 2>/dev/null; du -m /tmp/fill",
                     timeout=600).split()[0])


def bench_memory(conn: Any, cluster: CephCluster, guest_dir: str, sizes: list[int],
                 reps: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for mib in sizes:
        rig = RbdRig(conn, cluster, f"bench-rbd-{mib}", mib=mib, guest_dir=guest_dir)
        try:
            vm = booted(rig)
            dirtied = fill(vm, mib)
            rows: dict[str, list[float]] = {k: [] for k in (
                "live pause", "live create", "stop-the-world pause", "revert")}
            for i in range(reps):
                t = time.perf_counter()
                answer = run(rig.service, aj.create(rig.name, f"m{i}", rig.volumes,
                                                    type="DiskAndMemory"))
                rows["live create"].append((time.perf_counter() - t) * 1000)
                rows["live pause"].append(answer.guestPauseMs)
                pause, _ = rig.pause(partial(stop_the_world, rig, f"m{i}"))
                rows["stop-the-world pause"].append(pause)
            rows["revert"].append(timed(partial(run, rig.service, aj.revert(
                rig.name, "m0", rig.volumes, type="DiskAndMemory"))))
            cell = {f"{k} ms": median(v) for k, v in rows.items()}
            cell["pause ratio stop-the-world/live"] = round(
                statistics.median(rows["stop-the-world pause"])
                / statistics.median(rows["live pause"]), 1)
            cell["mechanism"] = answer.memoryCapture
            cell["dirtied MiB"] = dirtied
            out[f"{mib} MiB"] = cell
        finally:
            rig.close()
    return out


def bench_state_place(conn: Any, cluster: CephCluster, guest_dir: str, sizes: list[int],
                      reps: int) -> dict[str, Any]:
    """Memory state in a file against in an RBD image, same guest, alternating."""
    out: dict[str, Any] = {}
    for mib in sizes:
        rig = RbdRig(conn, cluster, f"bench-rbdstate-{mib}", mib=mib, guest_dir=guest_dir)
        try:
            vm = booted(rig)
            fill(vm, mib)
            rows: dict[str, list[float]] = {k: [] for k in (
                "file pause", "file create", "image pause", "image create",
                "rbd import of the state file", "file revert", "image revert")}
            sizes_seen: list[int] = []
            for i in range(reps):
                t = time.perf_counter()
                answer = run(rig.service, aj.create(rig.name, f"f{i}", rig.volumes,
                                                    type="DiskAndMemory"))
                rows["file create"].append((time.perf_counter() - t) * 1000)
                rows["file pause"].append(answer.guestPauseMs)
                state = os.path.join(rig.pool, "memory", f"{rig.name}@f{i}.vmstate")
                sizes_seen.append(os.path.getsize(state))
                raw = f"{cluster.pool}/raw-state-{mib}-{i}"
                plain = os.path.join(rig.tmp, "state")  # rbd misreads the '@' in the name
                os.link(state, plain)
                rows["rbd import of the state file"].append(timed(partial(
                    cluster.run, "rbd", "import", "--no-progress", plain, raw, timeout=600)))
                os.remove(plain)
                cluster.run("rbd", "rm", "--no-progress", raw)
                t = time.perf_counter()
                answer = run(rig.pool_service, aj.create(rig.name, f"p{i}", rig.volumes,
                                                         type="DiskAndMemory"))
                rows["image create"].append((time.perf_counter() - t) * 1000)
                rows["image pause"].append(answer.guestPauseMs)
            for i in range(min(reps, 2)):
                rows["file revert"].append(timed(partial(run, rig.service, aj.revert(
                    rig.name, f"f{i}", rig.volumes, type="DiskAndMemory"))))
                rows["image revert"].append(timed(partial(run, rig.pool_service, aj.revert(
                    rig.name, f"p{i}", rig.volumes, type="DiskAndMemory"))))
            cell: dict[str, Any] = {f"{k} ms": median(v) for k, v in rows.items()}
            for what in ("pause", "create", "revert"):
                cell[f"{what} ratio image/file"] = round(
                    statistics.median(rows[f"image {what}"])
                    / statistics.median(rows[f"file {what}"]), 2)
            cell["state MiB"] = round(statistics.median(sizes_seen) / 2**20)
            out[f"{mib} MiB"] = cell
        finally:
            rig.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--sizes", default="256,1024")
    parser.add_argument("--guest-dir", default=".cache/guest")
    parser.add_argument("--only", choices=("disk", "memory", "state"), default=None)
    args = parser.parse_args()
    start_event_loop()
    results: dict[str, Any] = {"load before": os.getloadavg()}
    with libvirtd_running(), CephCluster(tempfile.mkdtemp(prefix="bench-ceph-")) as cluster:
        conn = libvirt.open(URI)
        try:
            guest_dir = os.path.abspath(args.guest_dir)
            sizes = [int(s) for s in args.sizes.split(",")]
            if args.only in (None, "disk"):
                results["disk operations, stopped VM"] = bench_disk(conn, cluster, args.reps)
            if args.only in (None, "memory"):
                results["memory snapshots"] = bench_memory(conn, cluster, guest_dir, sizes,
                                                           max(3, args.reps // 2))
            if args.only in (None, "state"):
                results["memory state: file vs RBD image"] = bench_state_place(
                    conn, cluster, guest_dir, sizes, max(3, args.reps // 2))
        finally:
            results["load after"] = os.getloadavg()
            conn.close()
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
