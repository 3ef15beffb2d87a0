"""Memory snapshot benchmarks on a real libvirtd + QEMU with the booted agent guest.

1. guest pause vs RAM (memory dirtied, then a guest that keeps dirtying): the driver's live
   path against raw libvirt ``savevm`` on the same domain, alternating in one run; the whole
   create call, and how long a delete takes;
2. revert: in place (``loadvm``) vs libvirt's revert of the same internal snapshot vs the
   restore of a live snapshot, by RAM size;
3. freeze window vs the bare capture, with memory;
4. how long a delete holds the guest: the driver's delete of a live snapshot (its state file
   freed in steps, and freed at once) and libvirt's delete of a ``savevm`` snapshot,
   against the same window with no delete;
5. where the ``background-snapshot`` pause goes: QEMU's STOP, MIGRATION (``setup``,
   ``active``) and RESUME event timestamps around the driver's capture.

Every pause is QEMU's own STOP -> RESUME event timestamps (``PauseWatch``), for the driver
and for raw libvirt alike. 1 also records where the time of every live pause above 30 ms
(and of the first two of each series, for comparison) went: its split at QEMU's events, the
driver's monitor calls inside it, the machine's stolen time, QEMU's page faults and its
migration thread's state and CPU time (``/proc``, sampled every 2 ms), and the huge-page
share of guest RAM when the driver's preparation ended; 4 records the split and the monitor
calls of every capture. Results are printed as JSON; method and figures are in
``docs/benchmarks.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from functools import partial
from typing import Any

import libvirt
import libvirt_qemu

from driver import files
from driver.app import build_service, make_hypervisor
from driver.hypervisors.libvirt import hugepages, live
from driver.hypervisors.libvirt.monitor import PauseWatch, start_event_loop
from driver.settings import Settings
from driver.wire.envelope import decode_commands
from tests import agentjson as aj
from tests.integration.qemu import URI, QemuVM, copy_image, libvirtd_running, monitor_calls

DIRTY_LOOP = ("while [ ! -e /tmp/stop ]; do dd if=/dev/urandom of=/tmp/dirty bs=1M count=16 "
              "2>/dev/null; done")


def median(samples: list[float]) -> float:
    return round(statistics.median(samples), 1)


def run(service: Any, command: dict[str, Any]) -> Any:
    [item] = decode_commands(aj.body(command))
    answer = service.execute(item)[1]
    assert answer.result, answer.details
    return answer


class Rig:
    """One agent guest of a given RAM size, the driver's service on it, a raw connection."""

    def __init__(self, conn: Any, guest_dir: str, mib: int, **settings: Any) -> None:
        self.tmp = tempfile.mkdtemp()
        self.pool = os.path.join(self.tmp, "pool")
        os.mkdir(self.pool)
        disk = copy_image(os.path.join(guest_dir, "data.qcow2"), self.pool, "data.qcow2")
        self.conn = conn
        self.vm = QemuVM(conn, self.pool, [disk], agent_channel=True, memory_mib=mib,
                         kernel=os.path.join(guest_dir, "vmlinuz"),
                         initrd=os.path.join(guest_dir, "initrd.gz"))
        self.vm.start()
        self.vm.wait_for_agent()
        self.services: dict[str, Any] = {}
        self.hosts: list[Any] = []
        self.settings = Settings(data_dir=os.path.join(self.tmp, "data"),
                                 storage_pools=[self.pool], secret="bench", libvirt_uri=URI,
                                 log_json=False, log_level="WARNING", **settings)

    def service(self, mechanism: str = "auto") -> Any:
        if mechanism not in self.services:
            tuned = self.settings.with_overrides(memory_capture=mechanism)
            self.hosts.append(make_hypervisor(tuned))
            self.services[mechanism] = build_service(tuned, self.hosts[-1])
        return self.services[mechanism]

    def fill(self, mib: int) -> int:
        """Write ``mib`` MiB of random data into the guest's RAM (its initramfs root);
        return the MiB really written (the root filesystem may hold less)."""
        out = self.vm.sh(f"dd if=/dev/urandom of=/tmp/fill bs=1M count={mib} 2>/dev/null; "
                         "du -m /tmp/fill", timeout=600)
        return int(out.split()[0])

    def pause(self, fn: Callable[[], Any]) -> tuple[float, float]:
        """(guest pause ms from QEMU's events, wall ms) of ``fn``."""
        watch = PauseWatch(self.conn, self.vm.dom)
        t = time.perf_counter()
        fn()
        wall = (time.perf_counter() - t) * 1000
        pause = watch.close(expect_running=True)
        return (pause if pause is not None else float("nan")), wall

    def close(self) -> None:
        self.vm.remove()
        for host in self.hosts:
            host.close()
        subprocess.run(["rm", "-rf", self.tmp], check=False)


def bench_pause(conn: Any, guest_dir: str, sizes: list[int], reps: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for mib in sizes:
        rig = Rig(conn, guest_dir, mib)
        dirtied = rig.fill(max(8, int(0.7 * mib) - 48))
        vm, service = rig.vm, rig.service()
        vm.qmp("migrate-set-capabilities", capabilities=[
            {"capability": "events", "state": True}])  # QEMU's MIGRATION events
        for mode in ("dirtied", "dirtying"):
            if mode == "dirtying":
                vm.sh(DIRTY_LOOP, wait=False)
            rows: dict[str, list[float]] = {k: [] for k in (
                "live pause", "live create", "live delete", "savevm pause",
                "savevm create", "savevm delete")}
            mechanism = ""
            slow = []
            for i in range(reps):
                name = f"{mode}-{i}"
                t = time.perf_counter()
                parts = PauseParts(conn, vm.dom)
                sampler = HostSampler(vm.qemu_pid())
                shares: list[float] = []
                live.HOOKS[:] = [partial(_note_share, shares, vm.qemu_pid(), mib << 20)]
                with monitor_calls() as calls:
                    answer = run(service, aj.create(vm.name, name, vm.volumes(),
                                                    type="DiskAndMemory"))
                rows["live create"].append((time.perf_counter() - t) * 1000)
                vm.wait_running()
                sampler.close()
                live.HOOKS.clear()
                split = parts.close()
                rows.setdefault("huge share", []).append(shares[0] if shares else -1)
                if answer.guestPauseMs > 30 or i < 2:  # where a pause's time went
                    slow.append({**{k: round(v, 1) for k, v in split.items()},
                                 "monitor calls in the pause": parts.inside(calls),
                                 **sampler.between(*parts.window())})
                rows["live pause"].append(answer.guestPauseMs)
                mechanism = answer.memoryCapture
                # QEMU deletes under its big lock without a STOP event: the call is timed
                _, wall = rig.pause(partial(run, service, aj.delete(
                    vm.name, name, vm.volumes(), type="DiskAndMemory")))
                rows["live delete"].append(wall)
                xml = (f"<domainsnapshot><name>raw-{name}</name>"
                       "<memory snapshot='internal'/></domainsnapshot>")
                pause, wall = rig.pause(partial(vm.dom.snapshotCreateXML, xml,
                                                libvirt.VIR_DOMAIN_SNAPSHOT_CREATE_ATOMIC))
                rows["savevm pause"].append(pause)
                rows["savevm create"].append(wall)
                snap = vm.dom.snapshotLookupByName(f"raw-{name}")
                _, wall = rig.pause(partial(snap.delete, 0))
                rows["savevm delete"].append(wall)
            if mode == "dirtying":
                vm.sh("touch /tmp/stop")
            cell = {f"{k} ms": median(v) for k, v in rows.items()}
            cell["live pause max ms"] = round(max(rows["live pause"]), 1)
            cell["live pauses ms"] = [round(v, 1) for v in rows["live pause"]]
            cell["huge share of RAM before each pause"] = rows.pop("huge share")
            cell["live pauses above 30 ms, split"] = slow
            cell["pause ratio savevm/live"] = round(
                statistics.median(rows["savevm pause"]) / statistics.median(rows["live pause"]), 1)
            cell["mechanism"] = mechanism
            cell["dirtied MiB"] = dirtied
            out[f"{mib} MiB, {mode}"] = cell
        rig.close()
    return out


def bench_revert(conn: Any, guest_dir: str, sizes: list[int], reps: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for mib in sizes:
        rig = Rig(conn, guest_dir, mib)
        rig.fill(max(8, int(0.7 * mib) - 48))
        vm = rig.vm
        live, internal = rig.service(), rig.service("savevm")
        run(internal, aj.create(vm.name, "inside", vm.volumes(), type="DiskAndMemory"))
        run(live, aj.create(vm.name, "live", vm.volumes(), type="DiskAndMemory"))
        rows: dict[str, list[float]] = {"in place": [], "libvirt": [], "restore": []}
        for _ in range(reps):
            t = time.perf_counter()
            run(internal, aj.revert(vm.name, "inside", vm.volumes(), type="DiskAndMemory"))
            rows["in place"].append((time.perf_counter() - t) * 1000)
            snap = vm.dom.snapshotLookupByName("inside")
            t = time.perf_counter()
            vm.dom.revertToSnapshot(snap, libvirt.VIR_DOMAIN_SNAPSHOT_REVERT_RUNNING)
            rows["libvirt"].append((time.perf_counter() - t) * 1000)
            t = time.perf_counter()
            run(live, aj.revert(vm.name, "live", vm.volumes(), type="DiskAndMemory"))
            rows["restore"].append((time.perf_counter() - t) * 1000)
        out[f"{mib} MiB"] = {f"{k} ms": median(v) for k, v in rows.items()}
        rig.close()
    return out


def bench_freeze(conn: Any, guest_dir: str, reps: int) -> dict[str, Any]:
    rig = Rig(conn, guest_dir, 256)
    rig.fill(64)
    vm, service = rig.vm, rig.service()
    host = rig.hosts[-1]
    out: dict[str, Any] = {}
    for memory in (False, True):
        kind = "DiskAndMemory" if memory else "Disk"
        windows, bare, pauses = [], [], []
        for i in range(reps):
            answer = run(service, aj.create(vm.name, f"q{kind}{i}", vm.volumes(), type=kind,
                                            quiesce=True))
            windows.append(answer.freezeWindowMs)
            if memory:
                pauses.append(answer.guestPauseMs)
            guest = host.guest(vm.name)
            plan = guest.preflight(f"b{kind}{i}", memory=memory)
            t = time.perf_counter()
            guest.capture(plan, description="")
            bare.append((time.perf_counter() - t) * 1000)
            guest.finish(plan)
            for name in (f"q{kind}{i}", f"b{kind}{i}"):
                run(service, aj.delete(vm.name, name, vm.volumes(), type=kind))
        cell = {"freeze window ms": median(windows), "bare capture ms": median(bare),
                "ratio": round(statistics.median(windows) / statistics.median(bare), 2)}
        if memory:
            cell["guest pause ms"] = median(pauses)
        out[kind] = cell
    rig.close()
    return out


WRITE_LOOP = ("rm -f /mnt/data/ticks; while [ ! -e /tmp/stopw ]; do dd if=/dev/urandom "
              "of=/mnt/data/w bs=4k count=1 conv=fsync 2>/dev/null; cut -d' ' -f1 /proc/uptime"
              " >> /mnt/data/ticks; done; rm /tmp/stopw")


class AgentPings:
    """A guest-agent round trip every 2 ms from a thread of its own: QEMU's main loop and
    the guest's virtio channel answer it, so a stall of either shows as a long round trip.
    libvirt runs agent commands beside a domain's other jobs."""

    def __init__(self, dom: Any) -> None:
        self.dom, self.samples, self.stopped = dom, [], threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self.stopped.is_set():
            t = time.perf_counter()
            try:
                libvirt_qemu.qemuAgentCommand(self.dom, '{"execute":"guest-ping"}', 30, 0)
            except libvirt.libvirtError:
                pass
            self.samples.append((t, time.perf_counter() - t))
            self.stopped.wait(0.002)

    def longest(self, start: float, end: float) -> float:
        return round(max((d for t, d in self.samples if start <= t <= end), default=0) * 1000, 1)

    def close(self) -> None:
        self.stopped.set()
        self.thread.join()


def bench_delete(conn: Any, guest_dir: str, sizes: list[int], reps: int) -> dict[str, Any]:
    """How long a delete holds the guest: the longest guest-agent round trip during the call
    and the longest gap in a guest loop of 4 KiB writes each followed by an fsync (the
    guest's own clock, 10 ms steps), for the driver's delete of a live snapshot (its state
    file freed in steps), the same with the file freed at once, and libvirt's delete of a
    ``savevm`` snapshot; the same window with no delete gives the baseline."""
    out: dict[str, Any] = {}
    for mib in sizes:
        rig = Rig(conn, guest_dir, mib)
        dirtied = rig.fill(max(8, int(0.7 * mib) - 48))
        vm, service = rig.vm, rig.service()
        pings = AgentPings(vm.dom)
        rows: dict[str, dict[str, list[float]]] = {}
        for i in range(reps):
            for k, how in enumerate(("no delete", "driver, freed in steps",
                                     "driver, freed at once", "libvirt savevm delete")):
                name = f"d{i}-{k}"
                if how.startswith("driver"):
                    run(service, aj.create(vm.name, name, vm.volumes(), type="DiskAndMemory"))
                    fn: Callable[[], Any] = partial(run, service, aj.delete(
                        vm.name, name, vm.volumes(), type="DiskAndMemory"))
                elif how.startswith("libvirt"):
                    vm.dom.snapshotCreateXML(
                        f"<domainsnapshot><name>{name}</name><memory snapshot='internal'/>"
                        "</domainsnapshot>", libvirt.VIR_DOMAIN_SNAPSHOT_CREATE_ATOMIC)
                    fn = partial(vm.dom.snapshotLookupByName(name).delete, 0)
                else:
                    fn = partial(time.sleep, 0.5)
                vm.wait_running()
                vm.sh(WRITE_LOOP, wait=False)
                time.sleep(1.5)
                step = files.RELEASE_STEP
                if how.endswith("at once"):
                    files.RELEASE_STEP = 1 << 62
                t = time.perf_counter()
                try:
                    fn()
                finally:
                    files.RELEASE_STEP = step
                end = time.perf_counter()
                time.sleep(1.0)
                vm.sh("touch /tmp/stopw")
                time.sleep(0.5)
                ticks = [float(x) for x in vm.sh("cat /mnt/data/ticks").split()]
                row = rows.setdefault(how, {"call ms": [], "longest agent round trip ms": [],
                                            "longest gap between guest writes ms": []})
                row["call ms"].append(round((end - t) * 1000, 1))
                row["longest agent round trip ms"].append(pings.longest(t, end))
                row["longest gap between guest writes ms"].append(
                    round(max(b - a for a, b in zip(ticks, ticks[1:], strict=False)) * 1000))
        pings.close()
        out[f"{mib} MiB"] = {"dirtied MiB": dirtied, **{
            how: {**{f"{k}, median": median(v) for k, v in row.items()},
                  **{f"{k}, largest": max(v) for k, v in row.items()}, "all": row}
            for how, row in rows.items()}}
        rig.close()
    return out


class PauseParts:
    """QEMU's STOP / MIGRATION / RESUME event timestamps during one capture, split into the
    driver's steps (STOP -> ``setup``: stop returned, disk transaction, ``migrate``),
    QEMU's set-up (``setup`` -> ``active``: it reads every RAM page to pre-fault it, then
    prepares the stream) and the rest (``active`` -> RESUME: device state, write-protection
    of all RAM, the resume)."""

    def __init__(self, conn: Any, dom: Any) -> None:
        self.conn = conn
        self.events: list[tuple[str, float]] = []
        self.ids = [libvirt_qemu.qemuMonitorEventRegister(conn, dom, name, self._on, None, 0)
                    for name in ("STOP", "RESUME", "MIGRATION")]

    def _on(self, _conn: Any, _dom: Any, event: str, seconds: int, micros: int,
            details: Any, _opaque: Any) -> None:
        if event == "MIGRATION":
            data = json.loads(details) if isinstance(details, str) else details
            event = str(data.get("status"))
        self.events.append((event, seconds + micros / 1e6))

    def inside(self, calls: list[tuple[str, float, float]]) -> list[str]:
        """The monitor calls that overlapped the pause: name, start and end in ms after
        QEMU's STOP."""
        stop, resume = self.window()
        if not stop or not resume:
            return []
        return [f"{name} {1000 * (a - stop):.1f}..{1000 * (b - stop):.1f}"
                for name, a, b in calls if b >= stop - 0.001 and a <= resume]

    def window(self) -> tuple[float, float]:
        """QEMU's STOP and RESUME timestamps (0 for one not seen)."""
        at: dict[str, float] = dict(reversed(self.events))  # the first of each kind
        return at.get("STOP", 0.0), at.get("RESUME", 0.0)

    def close(self) -> dict[str, float]:
        for cb in self.ids:
            libvirt_qemu.qemuMonitorEventDeregister(self.conn, cb)
        at = {}
        for event, when in self.events:
            at.setdefault(event, when)
        return {"driver's steps": (at["setup"] - at["STOP"]) * 1000,
                "QEMU set-up (RAM pre-fault)": (at["active"] - at["setup"]) * 1000,
                "device state + write-protect": (at["RESUME"] - at["active"]) * 1000,
                "pause": (at["RESUME"] - at["STOP"]) * 1000}


class HostSampler:
    """Every 2 ms: the machine's stolen CPU time (``/proc/stat``, in ticks) and QEMU's minor
    page faults, so that a long pause can be told apart: the hypervisor under this machine
    took the CPU, or QEMU's walk faulted pages in."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.samples: list[tuple[float, int, int]] = []
        self.migration: list[tuple[float, str, int, int, str]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            with open("/proc/stat") as fh:
                steal = int(fh.readline().split()[8])
            try:
                with open(f"/proc/{self.pid}/stat") as fh:
                    minflt = int(fh.read().rsplit(")", 1)[1].split()[7])
            except OSError:
                minflt = 0
            self.samples.append((time.time(), steal, minflt))
            self._threads()
            time.sleep(0.002)

    def _threads(self) -> None:
        """QEMU's migration thread: its state, and its time on and waiting for a CPU."""
        try:
            tasks = os.listdir(f"/proc/{self.pid}/task")
        except OSError:
            return
        for tid in tasks:
            try:
                with open(f"/proc/{self.pid}/task/{tid}/stat") as fh:
                    head, tail = fh.read().rsplit(")", 1)
                if not head.endswith(("live_migration", "bg_snapshot")):
                    continue
                with open(f"/proc/{self.pid}/task/{tid}/schedstat") as fh:
                    on_cpu, waiting, _ = (int(x) for x in fh.read().split())
                with open(f"/proc/{self.pid}/task/{tid}/wchan") as fh:
                    wchan = fh.read()
            except OSError:
                continue
            self.migration.append((time.time(), tail.split()[0], on_cpu, waiting, wchan))

    def between(self, start: float, end: float) -> dict[str, Any]:
        inside = [s for s in self.samples if start - 0.003 <= s[0] <= end + 0.003]
        if len(inside) < 2:
            return {}
        out: dict[str, Any] = {"stolen ticks": inside[-1][1] - inside[0][1],
                               "QEMU minor faults": inside[-1][2] - inside[0][2]}
        mig = [m for m in self.migration if start <= m[0] <= end]
        if mig:
            states: dict[str, int] = {}
            for m in mig:
                key = f"{m[1]}:{m[4]}"
                states[key] = states.get(key, 0) + 1
            out["migration thread samples (state:wchan)"] = states
            out["migration thread on CPU ms"] = round((mig[-1][2] - mig[0][2]) / 1e6, 1)
            out["migration thread waiting for a CPU ms"] = round((mig[-1][3] - mig[0][3]) / 1e6, 1)
        return out

    def close(self) -> None:
        self._stop.set()
        self._thread.join()


def _note_share(shares: list[float], pid: int, ram_bytes: int, step: str) -> None:
    if step == "ram-prepared":
        shares.append(round(hugepages.huge_share(pid, ram_bytes), 3))


def bench_parts(conn: Any, guest_dir: str, sizes: list[int], reps: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for mib in sizes:
        rig = Rig(conn, guest_dir, mib)
        rig.fill(max(8, int(0.7 * mib) - 48))
        vm, service = rig.vm, rig.service("background-snapshot")
        vm.qmp("migrate-set-capabilities", capabilities=[
            {"capability": "events", "state": True}])  # QEMU's MIGRATION events
        vm.sh(DIRTY_LOOP, wait=False)
        first: dict[str, float] = {}
        rows: dict[str, list[float]] = {}
        captures = []
        for i in range(reps + 1):
            parts = PauseParts(conn, vm.dom)
            with monitor_calls() as calls:
                run(service, aj.create(vm.name, f"p{i}", vm.volumes(), type="DiskAndMemory"))
            vm.wait_running()
            split = parts.close()
            captures.append({**{k: round(v, 1) for k, v in split.items()},
                             "monitor calls in the pause": parts.inside(calls)})
            run(service, aj.delete(vm.name, f"p{i}", vm.volumes(), type="DiskAndMemory"))
            if i == 0:  # the first capture of a guest also faults in RAM it never touched
                first = {f"{k} ms": round(v, 1) for k, v in split.items()}
                continue
            for k, v in split.items():
                rows.setdefault(k, []).append(v)
        vm.sh("touch /tmp/stop")
        later = {f"{k} ms": median(v) for k, v in rows.items()}
        later["pause max ms"] = round(max(rows["pause"]), 1)
        out[f"{mib} MiB, dirtying"] = {"first capture": first, "later captures": later,
                                       "every capture": captures}
        rig.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--sizes", default="128,512,1024,2048")
    parser.add_argument("--guest-dir", default=".cache/guest")
    parser.add_argument("--only", choices=["pause", "revert", "freeze", "parts", "delete"])
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    guest_dir = os.path.abspath(args.guest_dir)
    start_event_loop()  # before any connection: the pauses come from QEMU's events
    results: dict[str, Any] = {"load before": os.getloadavg()}
    with libvirtd_running():
        conn = libvirt.open(URI)
        try:
            if args.only in (None, "pause"):
                results["guest pause vs RAM"] = bench_pause(conn, guest_dir, sizes, args.reps)
            if args.only in (None, "revert"):
                results["revert"] = bench_revert(conn, guest_dir, sizes, args.reps)
            if args.only in (None, "parts"):
                results["background-snapshot pause, parts"] = bench_parts(
                    conn, guest_dir, sizes, args.reps)
            if args.only in (None, "delete"):
                results["how long a delete holds the guest"] = bench_delete(
                    conn, guest_dir, sizes, args.reps)
            if args.only in (None, "freeze"):
                results["freeze window with memory"] = bench_freeze(conn, guest_dir,
                                                                    max(args.reps, 5))
        finally:
            results["load after"] = os.getloadavg()
            conn.close()
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
