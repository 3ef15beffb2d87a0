"""Durable state in SQLite (WAL, synchronous writes): every model object is a row keyed by
kind and id, with its uuid, owner, VM and state in indexed columns and the rest as JSON."""

from __future__ import annotations

import functools
import json
import uuid as uuidlib
from dataclasses import asdict, fields, is_dataclass
from typing import Any, TypeVar

from driver.sqlite import SQLiteFile

SCHEMA = """
CREATE TABLE IF NOT EXISTS objects (
    kind TEXT NOT NULL,
    id INTEGER NOT NULL,
    uuid TEXT NOT NULL,
    account_id INTEGER,
    vm_id INTEGER,
    state TEXT,
    removed INTEGER NOT NULL DEFAULT 0,
    data TEXT NOT NULL,
    PRIMARY KEY (kind, id)
);
CREATE UNIQUE INDEX IF NOT EXISTS objects_uuid ON objects (kind, uuid);
CREATE INDEX IF NOT EXISTS objects_vm ON objects (kind, vm_id, removed);
CREATE INDEX IF NOT EXISTS objects_account ON objects (kind, account_id, removed);
-- Callers are found by API key or session key on every request.
CREATE INDEX IF NOT EXISTS objects_api_key ON objects (kind, json_extract(data, '$.api_key'));
CREATE INDEX IF NOT EXISTS objects_key ON objects (kind, json_extract(data, '$.key'));
-- A new VM snapshot's internal name must not repeat any earlier one (removed included).
CREATE INDEX IF NOT EXISTS objects_name ON objects (kind, json_extract(data, '$.name'));
-- Every agent command is routed to the host of the VM it names.
CREATE INDEX IF NOT EXISTS objects_instance_name ON objects
    (kind, json_extract(data, '$.instance_name'));
CREATE TABLE IF NOT EXISTS counters (kind TEXT PRIMARY KEY, next INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS settings (name TEXT PRIMARY KEY, value TEXT NOT NULL);
"""

T = TypeVar("T")


def _field_names(cls: Any) -> frozenset[str]:
    """A model's field names (asked for every row loaded, so worked out once)."""
    return _names_of(cls)


@functools.cache
def _names_of(cls: Any) -> frozenset[str]:
    return frozenset(f.name for f in fields(cls))


@functools.cache
def _ordered_names(cls: Any) -> tuple[str, ...]:
    return tuple(f.name for f in fields(cls))


def _nested(value: Any) -> Any:
    if is_dataclass(value) and not isinstance(value, type):
        return asdict(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def _json(obj: Any) -> str:
    """A model as its stored JSON: its fields, as ``asdict`` gives them, without the deep
    copy ``asdict`` makes of every value (the text is all that is kept)."""
    names: tuple[str, ...] = _ordered_names(type(obj))  # type: ignore[arg-type]
    return json.dumps({name: getattr(obj, name) for name in names}, default=_nested)


class Store(SQLiteFile):
    def __init__(self, path: str) -> None:
        super().__init__(path, SCHEMA)

    # --- objects ----------------------------------------------------------------------------

    @staticmethod
    def _columns(obj: Any) -> tuple[Any, ...]:
        return (getattr(obj, "account_id", None), getattr(obj, "vm_id", None),
                getattr(obj, "state", None), int(bool(getattr(obj, "removed", None))))

    def add(self, obj: T) -> T:
        """Give ``obj`` an id and a uuid (unless set) and store it."""
        kind = type(obj).__name__
        with self.tx() as c:
            row = c.execute("SELECT next FROM counters WHERE kind=?", (kind,)).fetchone()
            next_id = row[0] if row else 1
            c.execute("INSERT OR REPLACE INTO counters (kind, next) VALUES (?, ?)",
                      (kind, next_id + 1))
            obj.id = next_id  # type: ignore[attr-defined]
            if not getattr(obj, "uuid", None):
                obj.uuid = str(uuidlib.uuid4())  # type: ignore[attr-defined]
            c.execute("INSERT INTO objects (kind, id, uuid, account_id, vm_id, state, removed,"
                      " data) VALUES (?,?,?,?,?,?,?,?)",
                      (kind, next_id, obj.uuid, *self._columns(obj),  # type: ignore[attr-defined]
                       _json(obj)))
        return obj

    def save(self, obj: Any) -> None:
        with self.tx() as c:
            c.execute("UPDATE objects SET account_id=?, vm_id=?, state=?, removed=?, data=?"
                      " WHERE kind=? AND id=?",
                      (*self._columns(obj), _json(obj), type(obj).__name__,
                       obj.id))

    def delete(self, obj: Any) -> None:
        with self.tx() as c:
            c.execute("DELETE FROM objects WHERE kind=? AND id=?", (type(obj).__name__, obj.id))

    @staticmethod
    def _load(cls: type[T], data: str) -> T:
        values = json.loads(data)
        names = _field_names(cls)
        return cls(**{k: v for k, v in values.items() if k in names})

    def get(self, cls: type[T], id: int | None) -> T | None:
        if id is None:
            return None
        rows = self.query("SELECT data FROM objects WHERE kind=? AND id=?", (cls.__name__, id))
        return self._load(cls, rows[0][0]) if rows else None

    def load(self, cls: type[T], id: int | None) -> T:
        """Like :meth:`get`, for an object that must exist."""
        obj = self.get(cls, id)
        if obj is None:
            raise LookupError(f"{cls.__name__} {id} does not exist")
        return obj

    def by_uuid(self, cls: type[T], uuid: str) -> T | None:
        rows = self.query("SELECT data FROM objects WHERE kind=? AND uuid=?",
                          (cls.__name__, uuid))
        return self._load(cls, rows[0][0]) if rows else None

    def find(self, cls: type[T], *, account_id: int | None = None, vm_id: int | None = None,
             state: str | None = None, include_removed: bool = False) -> list[T]:
        sql = "SELECT data FROM objects WHERE kind=?"
        args: list[Any] = [cls.__name__]
        for column, value in (("account_id", account_id), ("vm_id", vm_id), ("state", state)):
            if value is not None:
                sql += f" AND {column}=?"
                args.append(value)
        if not include_removed:
            sql += " AND removed=0"
        sql += " ORDER BY id"
        return [self._load(cls, r[0]) for r in self.query(sql, args)]

    def find_by(self, cls: type[T], name: str, value: Any) -> list[T]:
        """Non-removed objects whose field ``name`` equals ``value`` (indexed for ``api_key``,
        ``key`` and ``instance_name``, the look-ups every request or agent command makes)."""
        if name not in _field_names(cls):
            raise ValueError(f"{cls.__name__} has no field {name}")
        # No ORDER BY in SQL: with it the planner prefers the primary key to the index.
        rows = self.query(f"SELECT id, data FROM objects WHERE kind=?"  # noqa: S608
                          f" AND json_extract(data, '$.{name}')=? AND removed=0",
                          (cls.__name__, value))
        return [self._load(cls, r[1]) for r in sorted(rows, key=lambda r: r[0])]

    def name_taken(self, cls: type[Any], name: str, vm_id: int) -> bool:
        """Whether any object of ``cls`` of VM ``vm_id``, removed ones included, ever had
        ``name`` (indexed: the cost does not grow with the history)."""
        return bool(self.query("SELECT 1 FROM objects WHERE kind=?"
                               " AND json_extract(data, '$.name')=? AND vm_id=? LIMIT 1",
                               (cls.__name__, name, vm_id)))

    def page(self, cls: type[T], *, vm_id: int | None = None,
             account_id: int | None = None, states: set[str] | None = None,
             newest_first: bool = True, limit: int | None = None, offset: int = 0
             ) -> tuple[list[T], int]:
        """One page of non-removed objects filtered in SQL, and how many match in all."""
        where = "kind=? AND removed=0"
        args: list[Any] = [cls.__name__]
        for column, value in (("vm_id", vm_id), ("account_id", account_id)):
            if value is not None:
                where += f" AND {column}=?"
                args.append(value)
        if states is not None:
            where += f" AND state IN ({','.join('?' * len(states))})"
            args.extend(sorted(states))
        order = "DESC" if newest_first else "ASC"
        with self.read() as c:
            total = c.execute(f"SELECT COUNT(*) FROM objects WHERE {where}",  # noqa: S608
                              args).fetchone()[0]
            rows = c.execute(
                f"SELECT data FROM objects WHERE {where} ORDER BY id {order}"  # noqa: S608
                " LIMIT ? OFFSET ?", [*args, -1 if limit is None else limit, offset]).fetchall()
        return [self._load(cls, r[0]) for r in rows], int(total)

    # --- settings ---------------------------------------------------------------------------

    def setting(self, name: str) -> str | None:
        rows = self.query("SELECT value FROM settings WHERE name=?", (name,))
        return rows[0][0] if rows else None

    def set_setting(self, name: str, value: str) -> None:
        with self.tx() as c:
            c.execute("INSERT OR REPLACE INTO settings (name, value) VALUES (?, ?)",
                      (name, value))

    def settings_under(self, prefix: str) -> list[tuple[str, str]]:
        """Every setting whose name starts with ``prefix``, by name."""
        rows = self.query("SELECT name, value FROM settings WHERE name >= ? AND name < ?"
                          " ORDER BY name", (prefix, prefix + "\U0010ffff"))
        return [(r[0], r[1]) for r in rows]

    def delete_setting(self, name: str) -> None:
        with self.tx() as c:
            c.execute("DELETE FROM settings WHERE name=?", (name,))

    def reset(self) -> None:
        with self.tx() as c:
            c.execute("DELETE FROM objects")
            c.execute("DELETE FROM counters")
            c.execute("DELETE FROM settings")

    def dump(self) -> dict[str, list[dict[str, Any]]]:
        out: dict[str, list[dict[str, Any]]] = {}
        with self.read() as c:
            for row in c.execute("SELECT kind, data FROM objects ORDER BY kind, id"):
                out.setdefault(row[0], []).append(json.loads(row[1]))
        return out
