"""Structured logs: JSON lines that carry the VM and snapshot of the operation in progress."""

from __future__ import annotations

import contextvars
import logging
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from pythonjsonlogger.json import JsonFormatter

_vm: contextvars.ContextVar[str | None] = contextvars.ContextVar("vm", default=None)
_snapshot: contextvars.ContextVar[str | None] = contextvars.ContextVar("snapshot", default=None)


class ContextFilter(logging.Filter):
    """Adds ``vm`` and ``snapshot`` to every record (unless the call already set them)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "vm"):
            record.vm = _vm.get()
        if not hasattr(record, "snapshot"):
            record.snapshot = _snapshot.get()
        return True


class TextFormatter(logging.Formatter):
    """Plain lines; ``[vm=… snapshot=…]`` only for what the record concerns."""

    def format(self, record: logging.LogRecord) -> str:
        parts = [f"{k}={getattr(record, k, None)}" for k in ("vm", "snapshot")
                 if getattr(record, k, None) is not None]
        record.context = f"[{' '.join(parts)}] " if parts else ""
        return super().format(record)


class Throttle(logging.Filter):
    """At most one record per ``interval`` seconds; the next one let through says how many
    were held back. For messages that repeat with every request under load (waitress's
    "Task queue depth is N" when every request thread is busy): the condition stays in the
    log, the log is not flooded by it."""

    def __init__(self, interval: float = 10.0) -> None:
        super().__init__()
        self.interval = interval
        self._next = 0.0
        self._held = 0
        self._lock = threading.Lock()

    def filter(self, record: logging.LogRecord) -> bool:
        now = time.monotonic()
        with self._lock:
            if now < self._next:
                self._held += 1
                return False
            self._next = now + self.interval
            held, self._held = self._held, 0
        if held:
            record.msg = f"{record.msg} ({held} more such messages in the last " \
                         f"{self.interval:g} s held back)"
        return True


# Loggers whose every record is throttled: waitress's queue-depth warning comes with every
# request that waits for a thread.
THROTTLED = ("waitress.queue",)


@contextmanager
def log_context(vm: str | None, snapshot: str | None = None) -> Iterator[None]:
    tokens = (_vm.set(vm), _snapshot.set(snapshot))
    try:
        yield
    finally:
        _vm.reset(tokens[0])
        _snapshot.reset(tokens[1])


def configure(level: str = "INFO", as_json: bool = True) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(ContextFilter())
    if as_json:
        handler.setFormatter(JsonFormatter(
            "%(asctime)s %(levelname)s %(name)s %(message)s %(vm)s %(snapshot)s",
            rename_fields={"levelname": "level", "asctime": "time"},
        ))
    else:
        handler.setFormatter(TextFormatter(
            "%(asctime)s %(levelname)s %(name)s %(context)s%(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    for name in THROTTLED:
        logger = logging.getLogger(name)
        logger.filters[:] = [f for f in logger.filters if not isinstance(f, Throttle)]
        logger.addFilter(Throttle())
    root.setLevel(level.upper())
