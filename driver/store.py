"""Durable state in SQLite: snapshot records and the journal's table.

Every statement is short; the hypervisor work that takes time happens outside them.
"""

from __future__ import annotations

import json
import sqlite3

from driver.core.model import Disk, Snapshot, SnapshotType
from driver.core.tree import SnapshotTree
from driver.sqlite import SQLiteFile

SCHEMA = """
CREATE TABLE IF NOT EXISTS snapshots (
    vm TEXT NOT NULL,
    name TEXT NOT NULL,
    type TEXT NOT NULL,
    parent TEXT,
    current INTEGER NOT NULL DEFAULT 0,
    created REAL NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    quiesced INTEGER NOT NULL DEFAULT 0,
    freeze_window_ms REAL,
    disks TEXT NOT NULL DEFAULT '[]',
    PRIMARY KEY (vm, name)
);
CREATE TABLE IF NOT EXISTS operations (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL,
    vm TEXT NOT NULL,
    snapshot TEXT NOT NULL,
    status TEXT NOT NULL,
    frozen INTEGER NOT NULL DEFAULT 0,
    request TEXT,
    answer TEXT,
    started REAL NOT NULL,
    finished REAL
);
CREATE INDEX IF NOT EXISTS operations_target ON operations (vm, snapshot, id);
CREATE INDEX IF NOT EXISTS operations_status ON operations (status);
"""


class Database(SQLiteFile):
    """A SQLite file shared by the snapshot records and the operation journal."""

    def __init__(self, path: str) -> None:
        super().__init__(path, SCHEMA)

    def reset(self) -> None:
        """Forget every snapshot record and operation (the simulator's reset)."""
        with self.tx() as c:
            c.execute("DELETE FROM snapshots")
            c.execute("DELETE FROM operations")


def _snapshot(row: sqlite3.Row) -> Snapshot:
    return Snapshot(
        vm=row["vm"], name=row["name"], type=SnapshotType(row["type"]), parent=row["parent"],
        current=bool(row["current"]), created=row["created"], description=row["description"],
        quiesced=bool(row["quiesced"]), freeze_window_ms=row["freeze_window_ms"],
        disks=[Disk(**d) for d in json.loads(row["disks"])],
    )


class SnapshotStore:
    """The driver's record of every snapshot it holds, per VM, with the tree links."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def all(self, vm: str) -> list[Snapshot]:
        with self.db.read() as c:
            rows = c.execute("SELECT * FROM snapshots WHERE vm=? ORDER BY created, rowid",
                             (vm,)).fetchall()
        return [_snapshot(r) for r in rows]

    def get(self, vm: str, name: str) -> Snapshot | None:
        with self.db.read() as c:
            row = c.execute("SELECT * FROM snapshots WHERE vm=? AND name=?", (vm, name)).fetchone()
        return _snapshot(row) if row else None

    def vms(self) -> list[str]:
        with self.db.read() as c:
            return [r[0] for r in c.execute("SELECT DISTINCT vm FROM snapshots ORDER BY vm")]

    def tree(self, vm: str) -> SnapshotTree[str]:
        snaps = self.all(vm)
        current = next((s.name for s in snaps if s.current), None)
        return SnapshotTree.build(((s.name, s.parent) for s in snaps), current)

    def save_tree(self, vm: str, tree: SnapshotTree[str], added: Snapshot | None = None,
                  removed: str | None = None) -> None:
        """Write a changed tree in one transaction: the new record, the deletion, the links."""
        with self.db.tx() as c:
            if added is not None:
                c.execute(
                    "INSERT INTO snapshots (vm, name, type, parent, current, created, description,"
                    " quiesced, freeze_window_ms, disks) VALUES (?,?,?,?,?,?,?,?,?,?)",
                    (vm, added.name, added.type.value, added.parent, 0, added.created,
                     added.description, int(added.quiesced), added.freeze_window_ms,
                     json.dumps([d.__dict__ for d in added.disks])),
                )
            if removed is not None:
                c.execute("DELETE FROM snapshots WHERE vm=? AND name=?", (vm, removed))
            stored = {r["name"]: (r["parent"], r["current"]) for r in c.execute(
                "SELECT name, parent, current FROM snapshots WHERE vm=?", (vm,))}
            for name, parent in tree.links().items():
                wanted = (parent, int(name == tree.current))
                if stored.get(name) != wanted:
                    c.execute("UPDATE snapshots SET parent=?, current=? WHERE vm=? AND name=?",
                              (*wanted, vm, name))
