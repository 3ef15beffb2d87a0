"""The durable operation journal: idempotent retries and crash recovery.

Every create, revert and delete is written here before the hypervisor is touched and
finished with its answer. A resent command whose latest operation on the same snapshot
is the same kind and succeeded is answered from here instead of acting twice. Rows left
``running`` by a crash are what start-up recovery works on.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

from driver.store import Database

RUNNING, DONE, FAILED, RECOVERED = "running", "done", "failed", "recovered"


@dataclass
class Operation:
    id: int
    kind: str
    vm: str
    snapshot: str
    status: str
    frozen: bool
    request: dict[str, Any] | None
    answer: dict[str, Any] | None


def _op(row: Any) -> Operation:
    return Operation(
        id=row["id"], kind=row["kind"], vm=row["vm"], snapshot=row["snapshot"],
        status=row["status"], frozen=bool(row["frozen"]),
        request=json.loads(row["request"]) if row["request"] else None,
        answer=json.loads(row["answer"]) if row["answer"] else None,
    )


class Journal:
    def __init__(self, db: Database) -> None:
        self.db = db

    def begin(self, kind: str, vm: str, snapshot: str, request: dict[str, Any]) -> int:
        with self.db.tx() as c:
            cur = c.execute(
                "INSERT INTO operations (kind, vm, snapshot, status, request, started)"
                " VALUES (?,?,?,?,?,?)",
                (kind, vm, snapshot, RUNNING, json.dumps(request), time.time()),
            )
            return int(cur.lastrowid or 0)

    def set_frozen(self, op_id: int, frozen: bool) -> None:
        with self.db.tx() as c:
            c.execute("UPDATE operations SET frozen=? WHERE id=?", (int(frozen), op_id))

    def finish(self, op_id: int, ok: bool, answer: dict[str, Any]) -> None:
        with self.db.tx() as c:
            c.execute(
                "UPDATE operations SET status=?, answer=?, finished=? WHERE id=?",
                (DONE if ok else FAILED, json.dumps(answer), time.time(), op_id),
            )

    def mark_recovered(self, op_id: int, note: str) -> None:
        with self.db.tx() as c:
            c.execute(
                "UPDATE operations SET status=?, frozen=0, answer=?, finished=? WHERE id=?",
                (RECOVERED, json.dumps({"result": False, "details": note}), time.time(), op_id),
            )

    def replay(self, kind: str, vm: str, snapshot: str) -> dict[str, Any] | None:
        """The stored answer if the latest operation on this snapshot is a finished ``kind``."""
        with self.db.read() as c:
            row = c.execute(
                "SELECT * FROM operations WHERE vm=? AND snapshot=? AND status != ?"
                " ORDER BY id DESC LIMIT 1", (vm, snapshot, RUNNING),
            ).fetchone()
        if row is None or row["kind"] != kind or row["status"] != DONE:
            return None
        return _op(row).answer

    def unfinished(self) -> list[Operation]:
        with self.db.read() as c:
            rows = c.execute("SELECT * FROM operations WHERE status=? ORDER BY id",
                             (RUNNING,)).fetchall()
        return [_op(r) for r in rows]

    def vms(self) -> list[str]:
        """Every VM an operation of this driver ever touched."""
        with self.db.read() as c:
            return [r[0] for r in c.execute("SELECT DISTINCT vm FROM operations ORDER BY vm")]

    def history(self, vm: str, limit: int = 50) -> list[dict[str, Any]]:
        with self.db.read() as c:
            rows = c.execute(
                "SELECT id, kind, snapshot, status, started, finished FROM operations"
                " WHERE vm=? ORDER BY id DESC LIMIT ?", (vm, limit),
            ).fetchall()
        return [dict(r) for r in rows]
