"""Fault injection for the simulated host: a fault makes one named step fail, hang, wait,
lose its guest agent or kill the process, for a VM or host-wide, a given number of times.

Faults live in a SQLite file of their own, so that using one up commits even when the step
it fails rolls its own transaction back.
"""

from __future__ import annotations

import os
import time
from typing import Any

from driver.core.errors import HypervisorError, InvalidRequest, QuiesceError
from driver.hypervisors.simulated.storage import Storage

# Steps where a fault can be injected (``capture.volume.N`` too).
STEPS = ("freeze", "thaw", "capture", "revert", "delete", "start", "stop", "attach",
         "detach", "resize", "volume_snapshot", "*")
ACTIONS = ("fail", "hang", "delay", "die", "no_agent")


class Faults:
    """The host's injected faults."""

    def __init__(self, path: str) -> None:
        self.store = Storage(path)

    def add(self, step: str, action: str, *, vm: str | None = None, ms: int = 0,
            count: int = 1) -> int:
        """Inject ``action`` at ``step`` (for ``vm``, or any VM) ``count`` times."""
        base = step.split(".")[0]
        if base not in STEPS or action not in ACTIONS or count < 1 or ms < 0:
            raise InvalidRequest(f"bad fault {step}/{action}")
        with self.store.tx() as c:
            cur = c.execute("INSERT INTO faults (step, vm, action, ms, remaining)"
                            " VALUES (?,?,?,?,?)", (step, vm, action, ms, count))
            return int(cur.lastrowid or 0)

    def all(self) -> list[dict[str, Any]]:
        """Every fault not used up yet, oldest first."""
        with self.store.read() as c:
            return [dict(r) for r in c.execute("SELECT * FROM faults ORDER BY id")]

    def clear(self) -> None:
        """Remove every fault."""
        with self.store.tx() as c:
            c.execute("DELETE FROM faults")

    def apply(self, step: str, vm: str | None) -> None:
        """Apply the oldest matching fault for ``step`` (and the host-wide ``*`` delay)."""
        query = ("SELECT * FROM faults WHERE step IN (?, '*') AND (vm IS NULL OR vm=?)"
                 " AND remaining > 0 ORDER BY id")
        if not self.store.query(query, (step, vm)):
            return  # the usual case: a read, without taking the file's write lock
        with self.store.tx() as c:
            rows = c.execute(query, (step, vm)).fetchall()  # again, now that nothing moves
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

    def close(self) -> None:
        self.store.close()
