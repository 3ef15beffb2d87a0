"""Freeze -> capture -> thaw, with a freeze timeout, a watchdog and an always-thaw.

The guest stays frozen only for the body of :meth:`Quiescer.frozen`; the window is measured
with a monotonic clock. A freeze that does not answer within ``freeze_timeout`` and a guest
frozen longer than ``max_window`` are both thawed and reported as failures, so a snapshot is
never silently taken without the quiesce that was asked for.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from driver.core.errors import DriverError, QuiesceError
from driver.hypervisors.base import Guest

log = logging.getLogger(__name__)


@dataclass
class FreezeWindow:
    """What happened while the guest was frozen."""

    started: float = 0.0
    ended: float = 0.0
    filesystems: int = 0
    expired: bool = False

    @property
    def ms(self) -> float:
        return round((self.ended - self.started) * 1000.0, 3)


def thaw_quietly(guest: Guest) -> bool:
    """Thaw with the no-argument thaw; return False (and log) if the guest could not be thawed."""
    try:
        guest.thaw()
        return True
    except DriverError as exc:
        log.error("thaw failed: %s", exc.details, extra={"vm": guest.name})
        return False


def ensure_thawed(guest: Guest, within: float) -> bool:
    """Thaw, retrying while the hypervisor is busy (a thaw during a memory capture fails
    until the capture ends); the no-argument thaw of a thawed guest is harmless."""
    deadline = time.monotonic() + within
    while not thaw_quietly(guest):
        if time.monotonic() > deadline:
            log.critical("guest may still be frozen", extra={"vm": guest.name})
            return False
        time.sleep(0.1)
    return True


class Quiescer:
    def __init__(self, freeze_timeout: float, max_window: float,
                 on_window: Callable[[FreezeWindow], None] | None = None) -> None:
        self.freeze_timeout = freeze_timeout
        self.max_window = max_window
        self.on_window = on_window

    def freeze(self, guest: Guest) -> int:
        """Freeze in a worker so a hung agent cannot hold us past the timeout."""
        outcome: dict[str, object] = {}
        done = threading.Event()
        abandoned = threading.Event()

        def work() -> None:
            try:
                outcome["count"] = guest.freeze()
            except DriverError as exc:
                outcome["error"] = exc
            finally:
                done.set()
                if abandoned.is_set() and "count" in outcome:
                    thaw_quietly(guest)  # the freeze landed after we gave up on it

        guest.set_agent_timeout(int(self.freeze_timeout) or 1)
        threading.Thread(target=work, name=f"freeze-{guest.name}", daemon=True).start()
        if not done.wait(self.freeze_timeout):
            abandoned.set()
            thaw_quietly(guest)
            raise QuiesceError(
                f"Quiesce of {guest.name} failed: the guest agent did not freeze the "
                f"filesystems within {self.freeze_timeout:g} s; the guest was thawed"
            )
        if "error" in outcome:
            err = outcome["error"]
            assert isinstance(err, DriverError)
            thaw_quietly(guest)  # a freeze can fail half-way with some filesystems frozen
            raise QuiesceError(
                f"Quiesce of {guest.name} failed: {err.details}. Is qemu-guest-agent "
                f"installed and running in the guest?"
            )
        return int(outcome["count"])  # type: ignore[call-overload]

    @contextmanager
    def frozen(self, guest: Guest) -> Iterator[FreezeWindow]:
        """Freeze ``guest`` for the body of the block; always thaw on the way out."""
        window = FreezeWindow()
        window.filesystems = self.freeze(guest)
        window.started = time.monotonic()
        lock = threading.Lock()
        closing = False

        def watchdog() -> None:
            with lock:
                if closing:
                    return
                window.expired = True
            log.error("freeze window exceeded; thawing", extra={"vm": guest.name})
            if thaw_quietly(guest):
                window.ended = time.monotonic()

        timer = threading.Timer(self.max_window, watchdog)
        timer.daemon = True
        timer.start()
        try:
            yield window
        finally:
            timer.cancel()
            with lock:
                closing = True
            # Thaw even after the watchdog did: its thaw may have failed while QEMU was busy.
            ensure_thawed(guest, max(self.freeze_timeout, 1.0))
            if not window.ended:
                window.ended = time.monotonic()
            if self.on_window is not None:
                self.on_window(window)
        if window.expired:
            raise QuiesceError(
                f"Quiesce of {guest.name} failed: the guest stayed frozen longer than "
                f"{self.max_window:g} s and was thawed by the watchdog"
            )
