"""The simulated host: its VMs and volumes over :mod:`storage`; its guests are in
:mod:`guest` and its injected faults in :mod:`faults`."""

from __future__ import annotations

import json
from typing import Any

from driver.core.errors import InvalidRequest, NotFound
from driver.core.model import PowerState, Snapshot
from driver.hypervisors.base import DiskInfo, Hypervisor, VmSpec
from driver.hypervisors.simulated.faults import Faults
from driver.hypervisors.simulated.guest import SimulatedGuest
from driver.hypervisors.simulated.storage import BLOCK, Storage


class SimulatedHost(Hypervisor):
    """A KVM host in a SQLite file: VMs, volumes, copy-on-write snapshots, guest agents."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.store = Storage(path)
        self.faults = Faults(path + "-faults" if path != ":memory:" else path)

    # --- VMs --------------------------------------------------------------------------------

    def _row(self, name: str) -> Any:
        with self.store.read() as c:
            row = c.execute("SELECT * FROM vms WHERE name=?", (name,)).fetchone()
        if row is None:
            raise NotFound(f"can not find vm: {name}")
        return row

    def guest(self, name: str) -> SimulatedGuest:
        self._row(name)
        return SimulatedGuest(self, name)

    def ping(self) -> str:
        with self.store.read() as c:
            count = c.execute("SELECT COUNT(*) FROM vms").fetchone()[0]
        return f"simulated KVM host ({count} VMs) in {self.path}"

    def guest_names(self) -> list[str]:
        with self.store.read() as c:
            return [r["name"] for r in c.execute("SELECT name FROM vms ORDER BY name")]

    def disk_owners(self) -> dict[str, str]:
        with self.store.read() as c:
            return {r["path"]: r["vm"] for r in c.execute(
                "SELECT path, vm FROM volumes WHERE vm IS NOT NULL AND vm != ''")}

    def vms(self) -> list[dict[str, Any]]:
        with self.store.read() as c:
            return [{"name": r["name"], "power": r["power"], "agent": bool(r["agent"]),
                     "frozen": bool(r["frozen"])} for r in c.execute("SELECT * FROM vms")]

    def start(self, spec: VmSpec) -> None:
        self.faults.apply("start", spec.name)
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
            # Its volume snapshots are copies of their own (CloudStack's live on secondary
            # storage): they outlive the volume until they are deleted.
            c.execute("DELETE FROM volumes WHERE path=?", (path,))

    def resize_volume(self, path: str, size: int) -> None:
        with self.store.tx() as c:
            row = self._volume(c, path)
            self.faults.apply("resize", row["vm"])
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
        self.faults.apply("attach", vm)
        with self.store.tx() as c:
            device = c.execute("SELECT COUNT(*) FROM volumes WHERE vm=?", (vm,)).fetchone()[0]
            self._attach(c, vm, disk, device)

    def detach(self, vm: str, path: str) -> None:
        self.faults.apply("detach", vm)
        with self.store.tx() as c:
            row = self._volume(c, path)
            if row["vm"] != vm:
                raise InvalidRequest(f"volume {path} is not attached to {vm}")
            self._detach(c, vm, path)

    def snapshot_volume(self, path: str, name: str, *, source: str | None = None) -> int:
        with self.store.tx() as c:
            row = self._volume(c, path)
            self.faults.apply("volume_snapshot", row["vm"])
            if c.execute("SELECT 1 FROM volume_snapshots WHERE volume=? AND name=? LIMIT 1",
                         (path, name)).fetchone():
                raise InvalidRequest(f"volume snapshot {name} already exists")
            layer = self._volume_layer(c, row)
            if source is not None:
                # The VM snapshot's layer holds the volume as it was when it was taken.
                found = c.execute("SELECT id FROM layers WHERE vm=? AND name=?",
                                  (row["vm"], source)).fetchone() if row["vm"] else None
                if found is None:
                    raise InvalidRequest(f"volume {path} has no VM snapshot {source}")
                layer = int(found[0])
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
        self.faults.clear()

    def close(self) -> None:
        self.store.close()
        self.faults.close()


__all__ = ["SimulatedHost", "SimulatedGuest"]
