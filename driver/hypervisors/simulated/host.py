"""The simulated host and its guests, over :mod:`storage`. Faults can be injected per step."""

from __future__ import annotations

import json
import os
import time
from typing import Any

from driver.core.errors import (
    DriverError,
    HypervisorError,
    InvalidRequest,
    NotFound,
    QuiesceError,
)
from driver.core.model import PowerState, Snapshot
from driver.hypervisors.base import DiskInfo, Guest, Hypervisor, VmSpec
from driver.hypervisors.simulated.storage import BLOCK, Storage

# Steps where a fault can be injected (``capture.volume.N`` too).
STEPS = ("freeze", "thaw", "capture", "revert", "delete", "start", "stop", "attach",
         "detach", "resize", "volume_snapshot", "*")
ACTIONS = ("fail", "hang", "delay", "die", "no_agent")


class SimulatedHost(Hypervisor):
    """A KVM host in a SQLite file: VMs, volumes, copy-on-write snapshots, guest agents."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.store = Storage(path)
        # Faults live in their own file: using one up must commit even when the step it
        # fails rolls its own transaction back.
        self.fault_store = Storage(path + "-faults" if path != ":memory:" else path)

    # --- faults -----------------------------------------------------------------------------

    def add_fault(self, step: str, action: str, *, vm: str | None = None, ms: int = 0,
                  count: int = 1) -> int:
        base = step.split(".")[0]
        if base not in STEPS or action not in ACTIONS or count < 1 or ms < 0:
            raise InvalidRequest(f"bad fault {step}/{action}")
        with self.fault_store.tx() as c:
            cur = c.execute("INSERT INTO faults (step, vm, action, ms, remaining)"
                            " VALUES (?,?,?,?,?)", (step, vm, action, ms, count))
            return int(cur.lastrowid or 0)

    def faults(self) -> list[dict[str, Any]]:
        with self.fault_store.tx() as c:
            return [dict(r) for r in c.execute("SELECT * FROM faults ORDER BY id")]

    def clear_faults(self) -> None:
        with self.fault_store.tx() as c:
            c.execute("DELETE FROM faults")

    def fault(self, step: str, vm: str | None) -> None:
        """Apply the oldest matching fault for ``step`` (and the host-wide ``*`` delay)."""
        with self.fault_store.tx() as c:
            rows = c.execute(
                "SELECT * FROM faults WHERE step IN (?, '*') AND (vm IS NULL OR vm=?)"
                " AND remaining > 0 ORDER BY id", (step, vm)).fetchall()
            hit = next((r for r in rows if r["step"] == step), None)
            slow = next((r for r in rows if r["step"] == "*"), None)
            for row in (hit, slow):
                if row is not None:
                    c.execute("UPDATE faults SET remaining = remaining - 1 WHERE id=?",
                              (row["id"],))
                    c.execute("DELETE FROM faults WHERE remaining <= 0")
        if slow is not None:
            time.sleep(slow["ms"] / 1000.0)
        if hit is None:
            return
        action, ms = hit["action"], hit["ms"]
        if action == "delay":
            time.sleep(ms / 1000.0)
        elif action == "hang":
            time.sleep((ms or 3_600_000) / 1000.0)
            raise HypervisorError(f"Simulated hang in {step} ended after {ms} ms")
        elif action == "fail":
            raise HypervisorError(f"Simulated failure in {step}")
        elif action == "no_agent":
            raise QuiesceError("Guest agent is not responding: QEMU guest agent is not connected")
        elif action == "die":
            os._exit(70)  # the process dies between two steps, as a crash would

    # --- VMs --------------------------------------------------------------------------------

    def _row(self, name: str) -> Any:
        with self.store.tx() as c:
            row = c.execute("SELECT * FROM vms WHERE name=?", (name,)).fetchone()
        if row is None:
            raise NotFound(f"can not find vm: {name}")
        return row

    def guest(self, name: str) -> SimulatedGuest:
        self._row(name)
        return SimulatedGuest(self, name)

    def ping(self) -> str:
        with self.store.tx() as c:
            count = c.execute("SELECT COUNT(*) FROM vms").fetchone()[0]
        return f"simulated KVM host ({count} VMs) in {self.path}"

    def vms(self) -> list[dict[str, Any]]:
        with self.store.tx() as c:
            return [{"name": r["name"], "power": r["power"], "agent": bool(r["agent"]),
                     "frozen": bool(r["frozen"])} for r in c.execute("SELECT * FROM vms")]

    def start(self, spec: VmSpec) -> None:
        self.fault("start", spec.name)
        with self.store.tx() as c:
            row = c.execute("SELECT * FROM vms WHERE name=?", (spec.name,)).fetchone()
            if row is None:
                live = self.store.new_layer(c, spec.name, None)
                c.execute("INSERT INTO vms (name, power, agent, live_layer, spec)"
                          " VALUES (?,?,?,?,?)",
                          (spec.name, PowerState.OFF.value, int(spec.agent), live,
                           json.dumps({"cpus": spec.cpus, "memory_mib": spec.memory_mib})))
                for i, disk in enumerate(spec.disks):
                    self._attach(c, spec.name, disk, i)
            if spec.power_on:
                c.execute("UPDATE vms SET power=?, memory='{}', frozen=0 WHERE name=?",
                          (PowerState.ON.value, spec.name))

    def reboot(self, name: str) -> None:
        self._row(name)
        with self.store.tx() as c:
            c.execute("UPDATE vms SET memory='{}', frozen=0 WHERE name=?", (name,))

    def undefine(self, name: str) -> None:
        row = self._row(name)
        if row["power"] == PowerState.ON.value:
            raise InvalidRequest(f"{name} is running")
        with self.store.tx() as c:
            for vol in c.execute("SELECT path FROM volumes WHERE vm=?", (name,)).fetchall():
                self._detach(c, name, vol[0])
            c.execute("DELETE FROM blocks WHERE layer IN (SELECT id FROM layers WHERE vm=?)",
                      (name,))
            c.execute("DELETE FROM layers WHERE vm=?", (name,))
            c.execute("DELETE FROM vms WHERE name=?", (name,))

    # --- volumes ----------------------------------------------------------------------------

    def _volume(self, c: Any, path: str) -> Any:
        row = c.execute("SELECT * FROM volumes WHERE path=?", (path,)).fetchone()
        if row is None:
            raise NotFound(f"no volume at {path}")
        return row

    def create_volume(self, path: str, size: int) -> None:
        if size <= 0:
            raise InvalidRequest("a volume needs a positive size")
        with self.store.tx() as c:
            if c.execute("SELECT 1 FROM volumes WHERE path=?", (path,)).fetchone():
                raise InvalidRequest(f"a volume already exists at {path}")
            c.execute("INSERT INTO volumes (path, size) VALUES (?, ?)", (path, size))

    def delete_volume(self, path: str) -> None:
        with self.store.tx() as c:
            row = c.execute("SELECT * FROM volumes WHERE path=?", (path,)).fetchone()
            if row is None:
                return
            if row["vm"]:
                raise InvalidRequest(f"volume {path} is attached to {row['vm']}")
            c.execute("DELETE FROM blocks WHERE layer IN (SELECT id FROM layers"
                      " WHERE vm='' AND name=?)", (path,))
            c.execute("DELETE FROM layers WHERE vm='' AND name=?", (path,))
            c.execute("DELETE FROM volume_snapshots WHERE volume=?", (path,))
            c.execute("DELETE FROM volumes WHERE path=?", (path,))

    def resize_volume(self, path: str, size: int) -> None:
        with self.store.tx() as c:
            row = self._volume(c, path)
            self.fault("resize", row["vm"])
            if size < row["size"]:
                c.execute("DELETE FROM blocks WHERE volume=? AND key LIKE 'b:%'"
                          " AND CAST(SUBSTR(key, 3) AS INTEGER) * ? >= ?", (path, BLOCK, size))
            c.execute("UPDATE volumes SET size=? WHERE path=?", (size, path))

    def _attach(self, c: Any, vm: str, disk: DiskInfo, device: int) -> None:
        row = c.execute("SELECT * FROM volumes WHERE path=?", (disk.path,)).fetchone()
        if row is None:
            raise NotFound(f"no volume at {disk.path}")
        if row["vm"] and row["vm"] != vm:
            raise InvalidRequest(f"volume {disk.path} is attached to {row['vm']}")
        live = c.execute("SELECT live_layer FROM vms WHERE name=?", (vm,)).fetchone()[0]
        # The volume's own data (kept while it was detached) moves into the VM's live layer.
        c.execute("UPDATE blocks SET layer=? WHERE layer IN (SELECT id FROM layers"
                  " WHERE vm='' AND name=?)", (live, disk.path))
        c.execute("DELETE FROM layers WHERE vm='' AND name=?", (disk.path,))
        c.execute("UPDATE volumes SET vm=?, target=?, device=? WHERE path=?",
                  (vm, disk.target, device, disk.path))

    def _detach(self, c: Any, vm: str, path: str) -> None:
        live = c.execute("SELECT live_layer FROM vms WHERE name=?", (vm,)).fetchone()[0]
        keep = self.store.visible_keys(c, live, path, "")
        c.execute("DELETE FROM blocks WHERE volume=? AND layer IN"
                  " (SELECT id FROM layers WHERE vm=?)", (path, vm))
        own = self.store.new_layer(c, "", None)
        c.execute("UPDATE layers SET name=? WHERE id=?", (path, own))
        c.executemany("INSERT INTO blocks (layer, volume, key, data) VALUES (?,?,?,?)",
                      [(own, path, k, v) for k, v in keep.items() if v is not None])
        c.execute("UPDATE volumes SET vm=NULL, target=NULL, device=NULL WHERE path=?", (path,))

    def attach(self, vm: str, disk: DiskInfo) -> None:
        self._row(vm)
        self.fault("attach", vm)
        with self.store.tx() as c:
            device = c.execute("SELECT COUNT(*) FROM volumes WHERE vm=?", (vm,)).fetchone()[0]
            self._attach(c, vm, disk, device)

    def detach(self, vm: str, path: str) -> None:
        self.fault("detach", vm)
        with self.store.tx() as c:
            row = self._volume(c, path)
            if row["vm"] != vm:
                raise InvalidRequest(f"volume {path} is not attached to {vm}")
            self._detach(c, vm, path)

    def snapshot_volume(self, path: str, name: str) -> int:
        with self.store.tx() as c:
            row = self._volume(c, path)
            self.fault("volume_snapshot", row["vm"])
            if c.execute("SELECT 1 FROM volume_snapshots WHERE volume=? AND name=? LIMIT 1",
                         (path, name)).fetchone():
                raise InvalidRequest(f"volume snapshot {name} already exists")
            layer = self._volume_layer(c, row)
            data = self.store.visible_keys(c, layer, path, "") if layer else {}
            c.executemany("INSERT INTO volume_snapshots (volume, name, key, data)"
                          " VALUES (?,?,?,?)",
                          [(path, name, k, v) for k, v in data.items() if v is not None]
                          or [(path, name, "", None)])
            return sum(len(v) for v in data.values() if v is not None)

    def delete_volume_snapshot(self, path: str, name: str) -> None:
        with self.store.tx() as c:
            c.execute("DELETE FROM volume_snapshots WHERE volume=? AND name=?", (path, name))

    @staticmethod
    def _volume_layer(c: Any, row: Any) -> int | None:
        if row["vm"]:
            return int(c.execute("SELECT live_layer FROM vms WHERE name=?",
                                 (row["vm"],)).fetchone()[0])
        own = c.execute("SELECT id FROM layers WHERE vm='' AND name=?",
                        (row["path"],)).fetchone()
        return int(own[0]) if own else None

    def delete_from_files(self, snapshot: Snapshot) -> None:
        """The VM is gone and its layers with it: nothing is left to clean."""

    def reset(self) -> None:
        """Forget every VM, volume, snapshot and fault."""
        with self.store.tx() as c:
            for table in ("blocks", "layers", "volume_snapshots", "volumes", "vms"):
                c.execute(f"DELETE FROM {table}")  # noqa: S608 - fixed table names
        self.clear_faults()

    def close(self) -> None:
        self.store.close()
        self.fault_store.close()


class SimulatedGuest(Guest):
    def __init__(self, host: SimulatedHost, name: str) -> None:
        self.host = host
        self.name = name
        self.store = host.store

    def _vm(self) -> Any:
        return self.host._row(self.name)

    def power_state(self) -> PowerState:
        return PowerState(self._vm()["power"])

    def disks(self) -> list[DiskInfo]:
        with self.store.tx() as c:
            rows = c.execute("SELECT * FROM volumes WHERE vm=? ORDER BY device",
                             (self.name,)).fetchall()
        return [DiskInfo(r["target"], r["path"]) for r in rows]

    def stop(self) -> None:
        self.host.fault("stop", self.name)
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
        self.host.fault("freeze", self.name)
        with self.store.tx() as c:
            c.execute("UPDATE vms SET frozen=1 WHERE name=?", (self.name,))
        return len(self.disks())

    def thaw(self) -> int:
        vm = self._agent()
        self.host.fault("thaw", self.name)
        with self.store.tx() as c:
            c.execute("UPDATE vms SET frozen=0 WHERE name=?", (self.name,))
        return len(self.disks()) if vm["frozen"] else 0

    def freeze_status(self) -> str:
        return "frozen" if self._agent()["frozen"] else "thawed"

    # --- snapshots --------------------------------------------------------------------------

    def _layer(self, c: Any, name: str) -> Any:
        return c.execute("SELECT * FROM layers WHERE vm=? AND name=?",
                         (self.name, name)).fetchone()

    def preflight(self, name: str, *, memory: bool) -> None:
        with self.store.tx() as c:
            if self._layer(c, name) is not None:
                raise InvalidRequest(f"snapshot {name} already exists on {self.name}")

    def capture(self, name: str, *, memory: bool, description: str) -> None:
        self.host.fault("capture", self.name)
        disks = self.disks()
        with self.store.tx() as c:  # one transaction: every disk, or none
            vm = c.execute("SELECT * FROM vms WHERE name=?", (self.name,)).fetchone()
            if self._layer(c, name) is not None:
                raise InvalidRequest(f"snapshot {name} already exists on {self.name}")
            for i, _disk in enumerate(disks):
                self.host.fault(f"capture.volume.{i}", self.name)
            live = vm["live_layer"]
            c.execute("UPDATE layers SET name=?, memory=?, power=?, frozen=?, created=?"
                      " WHERE id=?", (name, vm["memory"] if memory else None,
                                      vm["power"] if memory else PowerState.OFF.value,
                                      vm["frozen"] if memory else 0, time.time(), live))
            c.execute("UPDATE vms SET live_layer=? WHERE name=?",
                      (self.store.new_layer(c, self.name, live), self.name))

    def revert(self, snapshot: Snapshot) -> PowerState:
        self.host.fault("revert", self.name)
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
        self.host.fault("delete", self.name)
        with self.store.tx() as c:
            layer = self._layer(c, snapshot.name)
            if layer is not None:
                self.store.merge_into_children(c, layer["id"])

    def has_snapshot(self, snapshot: Snapshot) -> bool:
        with self.store.tx() as c:
            return self._layer(c, snapshot.name) is not None

    def stored_bytes(self, path: str) -> int | None:
        with self.store.tx() as c:
            row = c.execute("SELECT COALESCE(SUM(LENGTH(data)), 0) FROM blocks WHERE volume=?"
                            " AND layer IN (SELECT id FROM layers WHERE vm=?)",
                            (path, self.name)).fetchone()
        return int(row[0])

    def snapshot_bytes(self, name: str) -> int:
        """Bytes one snapshot stores itself (what was written between its parent and it)."""
        with self.store.tx() as c:
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
        with self.store.tx() as c:
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
        with self.store.tx() as c:
            self._disk(c, path)
            live = c.execute("SELECT live_layer FROM vms WHERE name=?",
                             (self.name,)).fetchone()[0]
            return self.store.read_key(c, live, path, f"f:{name}")

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


__all__ = ["SimulatedHost", "SimulatedGuest", "DriverError"]
