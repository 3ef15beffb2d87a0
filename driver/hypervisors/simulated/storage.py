"""Copy-on-write block storage for the simulated host, in SQLite.

Each VM has a chain of *layers*. The live layer holds what was written since the state it
started from (its ``parent``); a snapshot turns the live layer into a snapshot layer and
starts an empty live layer on top of it, so a snapshot stores exactly the blocks written
since its parent. Reading a block walks the chain up to the first layer that has it.
Reverting to S discards the live layer and starts an empty one on S. Deleting S merges
its blocks into each child that does not override them, so no other snapshot changes.

A key is ``b:<index>`` for a block of a volume, or ``f:<path>`` for a guest file (a file is
a whole value; a NULL value is a deletion), so files get the same copy-on-write history.
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from driver.sqlite import SQLiteFile

BLOCK = 4096

SCHEMA = """
CREATE TABLE IF NOT EXISTS vms (
    name TEXT PRIMARY KEY,
    power TEXT NOT NULL,
    agent INTEGER NOT NULL,
    frozen INTEGER NOT NULL DEFAULT 0,
    memory TEXT NOT NULL DEFAULT '{}',
    live_layer INTEGER,
    spec TEXT NOT NULL DEFAULT '{}'
);
CREATE TABLE IF NOT EXISTS volumes (
    path TEXT PRIMARY KEY,
    size INTEGER NOT NULL,
    vm TEXT,
    target TEXT,
    device INTEGER
);
CREATE TABLE IF NOT EXISTS layers (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    vm TEXT NOT NULL,
    name TEXT,
    parent INTEGER,
    memory TEXT,
    power TEXT,
    frozen INTEGER NOT NULL DEFAULT 0,
    created REAL
);
CREATE INDEX IF NOT EXISTS layers_vm ON layers (vm, name);
CREATE INDEX IF NOT EXISTS layers_parent ON layers (parent);
CREATE TABLE IF NOT EXISTS blocks (
    layer INTEGER NOT NULL,
    volume TEXT NOT NULL,
    key TEXT NOT NULL,
    data BLOB,
    PRIMARY KEY (layer, volume, key)
);
CREATE TABLE IF NOT EXISTS volume_snapshots (
    volume TEXT NOT NULL,
    name TEXT NOT NULL,
    key TEXT NOT NULL,
    data BLOB,
    PRIMARY KEY (volume, name, key)
);
CREATE TABLE IF NOT EXISTS faults (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    step TEXT NOT NULL,
    vm TEXT,
    action TEXT NOT NULL,
    ms INTEGER NOT NULL DEFAULT 0,
    remaining INTEGER NOT NULL DEFAULT 1
);
"""


class Storage(SQLiteFile):
    """The simulated host's SQLite file."""

    def __init__(self, path: str) -> None:
        super().__init__(path, SCHEMA)

    # --- chains -----------------------------------------------------------------------------

    @staticmethod
    def read_key(c: sqlite3.Connection, layer: int, volume: str, key: str) -> bytes | None:
        row = c.execute(
            "WITH RECURSIVE chain(id, depth) AS ("
            " SELECT ?, 0 UNION ALL"
            " SELECT layers.parent, chain.depth + 1 FROM layers JOIN chain"
            " ON layers.id = chain.id WHERE layers.parent IS NOT NULL)"
            " SELECT blocks.data FROM blocks JOIN chain ON blocks.layer = chain.id"
            " WHERE blocks.volume = ? AND blocks.key = ? ORDER BY chain.depth LIMIT 1",
            (layer, volume, key),
        ).fetchone()
        return None if row is None else row[0]

    @staticmethod
    def visible_keys(c: sqlite3.Connection, layer: int, volume: str,
                     prefix: str) -> dict[str, bytes | None]:
        """Every key under ``prefix`` as seen from ``layer`` (nearest layer wins)."""
        rows = c.execute(
            "WITH RECURSIVE chain(id, depth) AS ("
            " SELECT ?, 0 UNION ALL"
            " SELECT layers.parent, chain.depth + 1 FROM layers JOIN chain"
            " ON layers.id = chain.id WHERE layers.parent IS NOT NULL)"
            " SELECT blocks.key, blocks.data FROM blocks JOIN chain ON blocks.layer = chain.id"
            " WHERE blocks.volume = ? AND blocks.key LIKE ? ORDER BY chain.depth DESC",
            (layer, volume, prefix + "%"),
        ).fetchall()
        out: dict[str, bytes | None] = {}
        for row in rows:  # deepest first, so nearer layers overwrite
            out[row[0]] = row[1]
        return out

    @staticmethod
    def layer_bytes(c: sqlite3.Connection, layer: int) -> int:
        row = c.execute("SELECT COALESCE(SUM(LENGTH(data)), 0) FROM blocks WHERE layer=?",
                        (layer,)).fetchone()
        return int(row[0])

    @staticmethod
    def new_layer(c: sqlite3.Connection, vm: str, parent: int | None) -> int:
        cur = c.execute("INSERT INTO layers (vm, parent) VALUES (?, ?)", (vm, parent))
        return int(cur.lastrowid or 0)

    @staticmethod
    def merge_into_children(c: sqlite3.Connection, layer: int) -> None:
        """Give every child of ``layer`` the blocks it inherits from it, then re-parent."""
        row = c.execute("SELECT parent FROM layers WHERE id=?", (layer,)).fetchone()
        parent = row[0] if row else None
        for child in [r[0] for r in c.execute("SELECT id FROM layers WHERE parent=?", (layer,))]:
            c.execute("INSERT OR IGNORE INTO blocks (layer, volume, key, data)"
                      " SELECT ?, volume, key, data FROM blocks WHERE layer=?", (child, layer))
            c.execute("UPDATE layers SET parent=? WHERE id=?", (parent, child))
        c.execute("DELETE FROM blocks WHERE layer=?", (layer,))
        c.execute("DELETE FROM layers WHERE id=?", (layer,))


def dumps(value: Any) -> str:
    return json.dumps(value, sort_keys=True)
