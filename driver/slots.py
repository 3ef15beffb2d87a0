"""The per-VM slot: one operation at a time on a VM.

A different operation asked for while one runs is refused with CloudStack's busy text; a
resend of the very operation in progress (same kind, same snapshot) waits for it and gets
its answer, so a management server that retries after a lost answer never runs it twice.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from driver.core.errors import Busy
from driver.wire.commands import Answer


def busy_text(vm: str) -> str:
    """CloudStack's refusal of a second operation on a VM."""
    return f"There is other active vm snapshot tasks on the instance {vm}, please try again later"


@dataclass
class Slot:
    """The operation holding a VM, so a resend of the same command can wait for its answer."""

    kind: str
    snapshot: str
    done: threading.Event = field(default_factory=threading.Event)
    answer: Answer | None = None


class VmSlots:
    """Every VM's slot on this host."""

    def __init__(self) -> None:
        self._slots: dict[str, Slot] = {}
        self._guard = threading.Lock()

    @contextmanager
    def hold(self, vm: str, kind: str, snapshot: str) -> Iterator[Slot]:
        """Hold ``vm`` for one operation; set ``answer`` on the slot before leaving so a
        waiting resend gets it. Raises :class:`Busy` for a different concurrent operation."""
        while True:
            with self._guard:
                slot = self._slots.get(vm)
                if slot is None:
                    slot = self._slots[vm] = Slot(kind, snapshot)
                    break
                if (slot.kind, slot.snapshot) != (kind, snapshot):
                    raise Busy(busy_text(vm))
            slot.done.wait()
            if slot.answer is not None:
                yield slot
                return
            # the operation we waited for ended without an answer: run it ourselves
        try:
            yield slot
        finally:
            with self._guard:
                self._slots.pop(vm, None)
            slot.done.set()
