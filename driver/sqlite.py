"""One SQLite file: WAL, synchronous writes, one writing connection behind a lock, and
transactions that nest (an inner block joins the outermost one); reads on a connection of
each thread's own, which WAL lets run beside a writer (they see the last commit, never
wait for the writer's fsync). The driver's journal, the simulated host and the simulator's
store all live in files like this."""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any


class SQLiteFile:
    def __init__(self, path: str, schema: str) -> None:
        if path != ":memory:":
            os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        self.path = path
        self._conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._conn.row_factory = sqlite3.Row
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=FULL")
        self._conn.executescript(schema)
        self._lock = threading.RLock()
        self._depth = 0
        self._writer: int | None = None  # the thread inside the open write transaction
        # Each thread's reading connection, by thread id. They are all closed by ``close``
        # (a connection must never outlive its file's close, nor cross a fork), and those of
        # finished threads whenever a new one opens.
        self._local = threading.local()
        self._readers: dict[int, sqlite3.Connection] = {}
        self._generation = 0

    @contextmanager
    def tx(self) -> Iterator[sqlite3.Connection]:
        """A transaction: committed when the outermost block ends, rolled back if it raises."""
        with self._lock:
            outer = self._depth == 0
            if outer:
                self._conn.execute("BEGIN IMMEDIATE")
                self._writer = threading.get_ident()
            self._depth += 1
            try:
                yield self._conn
            except BaseException:
                self._depth -= 1
                if outer:
                    self._writer = None
                    self._conn.execute("ROLLBACK")
                raise
            self._depth -= 1
            if outer:
                self._writer = None
                self._conn.execute("COMMIT")

    @contextmanager
    def read(self) -> Iterator[sqlite3.Connection]:
        """A consistent read that takes no lock: this thread's own connection in a read
        transaction; inside this thread's open write transaction, that transaction (so it
        sees its own writes); an in-memory database has only the one connection."""
        if self.path == ":memory:" or self._writer == threading.get_ident():
            with self.tx() as c:
                yield c
            return
        conn = self._reader()
        conn.execute("BEGIN")
        try:
            yield conn
        finally:
            conn.execute("COMMIT")  # ends the read snapshot; nothing was written

    def query(self, sql: str, args: Sequence[Any] = ()) -> list[sqlite3.Row]:
        """Every row of one statement, read as :meth:`read` does. One statement is its own
        consistent snapshot, so it needs no ``BEGIN``/``COMMIT`` around it (two statements
        that must agree use :meth:`read`)."""
        if self.path == ":memory:" or self._writer == threading.get_ident():
            with self.tx() as c:
                return c.execute(sql, args).fetchall()
        return self._reader().execute(sql, args).fetchall()

    def _reader(self) -> sqlite3.Connection:
        local = self._local
        if getattr(local, "generation", None) != self._generation:
            local.conn = self._open_reader()
            local.generation = self._generation
        conn: sqlite3.Connection = local.conn
        return conn

    def _open_reader(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        conn.row_factory = sqlite3.Row
        with self._lock:
            alive = {t.ident for t in threading.enumerate()}
            for ident in [i for i in self._readers if i not in alive]:
                self._readers.pop(ident).close()
            old = self._readers.pop(threading.get_ident(), None)
            if old is not None:
                old.close()
            self._readers[threading.get_ident()] = conn
        return conn

    def close(self) -> None:
        with self._lock:
            self._conn.close()
            for conn in self._readers.values():
                conn.close()
            self._readers.clear()
            self._generation += 1
