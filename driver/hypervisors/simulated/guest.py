"""A guest of the simulated host: power state, the guest agent (freeze and thaw), snapshots
as copy-on-write layers (every disk and the memory in one transaction), and the guest's
data (disk blocks, files, memory markers) that tests and the control plane read and write."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from driver.core.errors import InvalidRequest, NotFound, QuiesceError
from driver.core.model import PowerState, Snapshot
from driver.hypervisors.base import CapturePlan, CaptureReport, DiskInfo, Guest
from driver.hypervisors.simulated.storage import BLOCK

if TYPE_CHECKING:
    from driver.hypervisors.simulated.host import SimulatedHost

# How the simulated host says it captured memory (a real host says precopy,
# background-snapshot or savevm).
MEMORY_CAPTURE = "simulated"


@dataclass
class _Plan(CapturePlan):
    """A capture of the simulated host: what it measured, for ``finish``."""

    report: CaptureReport | None = None


class SimulatedGuest(Guest):
    """One VM of the simulated host: power, guest agent, snapshots and guest data."""

    def __init__(self, host: SimulatedHost, name: str) -> None:
        self.host = host
        self.name = name
        self.store = host.store

    def _vm(self) -> Any:
        return self.host._row(self.name)

    def power_state(self) -> PowerState:
        return PowerState(self._vm()["power"])

    def disks(self) -> list[DiskInfo]:
        with self.store.read() as c:
            rows = c.execute("SELECT * FROM volumes WHERE vm=? ORDER BY device",
                             (self.name,)).fetchall()
        return [DiskInfo(r["target"], r["path"]) for r in rows]

    def stop(self) -> None:
        self.host.faults.apply("stop", self.name)
        with self.store.tx() as c:
            c.execute("UPDATE vms SET power=?, memory='{}', frozen=0 WHERE name=?",
                      (PowerState.OFF.value, self.name))

    # --- agent ------------------------------------------------------------------------------

    def _agent(self) -> Any:
        vm = self._vm()
        if vm["power"] != PowerState.ON.value:
            raise QuiesceError(f"Requested operation is not valid: domain {self.name} is not "
                               "running")
        if not vm["agent"]:
            raise QuiesceError("argument unsupported: QEMU guest agent is not configured")
        return vm

    def freeze(self) -> int:
        self._agent()
        self.host.faults.apply("freeze", self.name)
        with self.store.tx() as c:
            c.execute("UPDATE vms SET frozen=1 WHERE name=?", (self.name,))
        return len(self.disks())

    def thaw(self) -> int:
        vm = self._agent()
        self.host.faults.apply("thaw", self.name)
        with self.store.tx() as c:
            c.execute("UPDATE vms SET frozen=0 WHERE name=?", (self.name,))
        return len(self.disks()) if vm["frozen"] else 0

    def freeze_status(self) -> str:
        return "frozen" if self._agent()["frozen"] else "thawed"

    # --- snapshots --------------------------------------------------------------------------

    def _layer(self, c: Any, name: str) -> Any:
        return c.execute("SELECT * FROM layers WHERE vm=? AND name=?",
                         (self.name, name)).fetchone()

    def preflight(self, name: str, *, memory: bool) -> CapturePlan:
        with self.store.read() as c:
            if self._layer(c, name) is not None:
                raise InvalidRequest(f"snapshot {name} already exists on {self.name}")
        return _Plan(name, memory)

    def capture(self, plan: CapturePlan, *, description: str) -> None:
        name, memory = plan.name, plan.memory
        self.host.faults.apply("capture", self.name)
        disks = self.disks()
        # The guest "stands still" while the capture transaction holds its VM row: the pause
        # figure, as a real host reports the time its vCPUs were stopped. The memory markers
        # are kept in the snapshot's layer row, apart from the disk blocks (as a real host
        # keeps a memory state file beside the disk images).
        paused = time.monotonic()
        with self.store.tx() as c:  # one transaction: every disk, or none
            vm = c.execute("SELECT * FROM vms WHERE name=?", (self.name,)).fetchone()
            if self._layer(c, name) is not None:
                raise InvalidRequest(f"snapshot {name} already exists on {self.name}")
            for i, _disk in enumerate(disks):
                self.host.faults.apply(f"capture.volume.{i}", self.name)
            live = vm["live_layer"]
            c.execute("UPDATE layers SET name=?, memory=?, power=?, frozen=?, created=?"
                      " WHERE id=?", (name, vm["memory"] if memory else None,
                                      vm["power"] if memory else PowerState.OFF.value,
                                      vm["frozen"] if memory else 0, time.time(), live))
            c.execute("UPDATE vms SET live_layer=? WHERE name=?",
                      (self.store.new_layer(c, self.name, live), self.name))
        if memory and isinstance(plan, _Plan):
            plan.report = CaptureReport(
                guest_pause_ms=round((time.monotonic() - paused) * 1000.0, 3),
                memory_capture=MEMORY_CAPTURE, memory_bytes=len(vm["memory"] or ""))

    def abandon(self, name: str, plan: CapturePlan | None = None) -> None:
        with self.store.tx() as c:
            layer = self._layer(c, name)
            if layer is not None:
                self.store.merge_into_children(c, layer["id"])

    def finish(self, plan: CapturePlan) -> CaptureReport:
        report = plan.report if isinstance(plan, _Plan) else None
        return report if plan.memory and report is not None else CaptureReport()

    def revert(self, snapshot: Snapshot) -> PowerState:
        self.host.faults.apply("revert", self.name)
        with self.store.tx() as c:
            layer = self._layer(c, snapshot.name)
            if layer is None:
                raise NotFound(f"Cannot find vmSnapshot with name: {snapshot.name}")
            vm = c.execute("SELECT * FROM vms WHERE name=?", (self.name,)).fetchone()
            if not snapshot.has_memory and vm["power"] != PowerState.OFF.value:
                raise InvalidRequest(f"{self.name} must be stopped to revert to disk snapshot "
                                     f"{snapshot.name}")
            c.execute("DELETE FROM blocks WHERE layer=?", (vm["live_layer"],))
            c.execute("DELETE FROM layers WHERE id=?", (vm["live_layer"],))
            live = self.store.new_layer(c, self.name, layer["id"])
            if snapshot.has_memory:
                c.execute("UPDATE vms SET live_layer=?, power=?, memory=?, frozen=? WHERE name=?",
                          (live, PowerState.ON.value, layer["memory"] or "{}", layer["frozen"],
                           self.name))
                return PowerState.ON
            c.execute("UPDATE vms SET live_layer=? WHERE name=?", (live, self.name))
            return PowerState.OFF

    def delete(self, snapshot: Snapshot) -> None:
        self.host.faults.apply("delete", self.name)
        with self.store.tx() as c:
            layer = self._layer(c, snapshot.name)
            if layer is not None:
                self.store.merge_into_children(c, layer["id"])

    def held_snapshots(self) -> dict[str, set[str]]:
        # A layer holds every disk of the VM at once (and the memory, in the same row).
        paths = {d.path for d in self.disks()}
        with self.store.read() as c:
            names = [r["name"] for r in c.execute(
                "SELECT name FROM layers WHERE vm=? AND name IS NOT NULL", (self.name,))]
        return {name: set(paths) for name in names}

    def has_snapshot(self, snapshot: Snapshot) -> bool:
        with self.store.read() as c:
            return self._layer(c, snapshot.name) is not None

    def stored_bytes(self, path: str) -> int | None:
        with self.store.read() as c:
            row = c.execute("SELECT COALESCE(SUM(LENGTH(data)), 0) FROM blocks WHERE volume=?"
                            " AND layer IN (SELECT id FROM layers WHERE vm=?)",
                            (path, self.name)).fetchone()
        return int(row[0])

    def snapshot_bytes(self, name: str) -> int:
        """Bytes one snapshot stores itself (what was written between its parent and it)."""
        with self.store.read() as c:
            layer = self._layer(c, name)
            if layer is None:
                raise NotFound(f"no snapshot {name}")
            return self.store.layer_bytes(c, layer["id"])

    # --- guest data -------------------------------------------------------------------------

    def _disk(self, c: Any, path: str) -> Any:
        row = c.execute("SELECT * FROM volumes WHERE path=? AND vm=?",
                        (path, self.name)).fetchone()
        if row is None:
            raise NotFound(f"{self.name} has no disk {path}")
        return row

    def _writable(self, c: Any) -> int:
        vm = c.execute("SELECT * FROM vms WHERE name=?", (self.name,)).fetchone()
        if vm["frozen"]:
            raise InvalidRequest(f"the filesystems of {self.name} are frozen")
        return int(vm["live_layer"])

    def write(self, path: str, offset: int, data: bytes) -> None:
        with self.store.tx() as c:
            disk = self._disk(c, path)
            if offset < 0 or offset + len(data) > disk["size"]:
                raise InvalidRequest("the write goes past the end of the disk")
            live = self._writable(c)
            pos = offset
            while pos < offset + len(data):
                index, start = divmod(pos, BLOCK)
                take = min(BLOCK - start, offset + len(data) - pos)
                old = self.store.read_key(c, live, path, f"b:{index}") or b""
                block = bytearray(old.ljust(BLOCK, b"\0"))
                block[start:start + take] = data[pos - offset:pos - offset + take]
                c.execute("INSERT OR REPLACE INTO blocks (layer, volume, key, data)"
                          " VALUES (?,?,?,?)", (live, path, f"b:{index}", bytes(block)))
                pos += take

    def read(self, path: str, offset: int, length: int) -> bytes:
        with self.store.read() as c:
            disk = self._disk(c, path)
            if offset < 0 or length < 0 or offset + length > disk["size"]:
                raise InvalidRequest("the read goes past the end of the disk")
            live = c.execute("SELECT live_layer FROM vms WHERE name=?",
                             (self.name,)).fetchone()[0]
            out = bytearray()
            pos = offset
            while pos < offset + length:
                index, start = divmod(pos, BLOCK)
                take = min(BLOCK - start, offset + length - pos)
                block = (self.store.read_key(c, live, path, f"b:{index}") or b"").ljust(
                    BLOCK, b"\0")
                out += block[start:start + take]
                pos += take
            return bytes(out)

    def write_file(self, path: str, name: str, data: bytes | None) -> None:
        with self.store.tx() as c:
            self._disk(c, path)
            live = self._writable(c)
            c.execute("INSERT OR REPLACE INTO blocks (layer, volume, key, data) VALUES (?,?,?,?)",
                      (live, path, f"f:{name}", data))

    def read_file(self, path: str, name: str) -> bytes | None:
        with self.store.read() as c:
            self._disk(c, path)
            live = c.execute("SELECT live_layer FROM vms WHERE name=?",
                             (self.name,)).fetchone()[0]
            return self.store.read_key(c, live, path, f"f:{name}")

    def list_files(self, path: str, prefix: str) -> list[str]:
        with self.store.read() as c:
            self._disk(c, path)
            live = c.execute("SELECT live_layer FROM vms WHERE name=?",
                             (self.name,)).fetchone()[0]
            # LIKE treats _ and % as wildcards: filter the exact prefix again below.
            found = self.store.visible_keys(c, live, path, f"f:{prefix}")
        return sorted(k[2:] for k, v in found.items()
                      if v is not None and k.startswith(f"f:{prefix}"))

    def set_memory(self, key: str, value: str) -> None:
        with self.store.tx() as c:
            vm = c.execute("SELECT * FROM vms WHERE name=?", (self.name,)).fetchone()
            if vm["power"] != PowerState.ON.value:
                raise InvalidRequest(f"{self.name} is not running")
            memory = json.loads(vm["memory"])
            memory[key] = value
            c.execute("UPDATE vms SET memory=? WHERE name=?", (json.dumps(memory), self.name))

    def memory(self) -> dict[str, str]:
        data: dict[str, str] = json.loads(self._vm()["memory"])
        return data
