"""The dispatcher: one host's snapshot service. It owns the collaborators every use case
shares (:class:`~driver.usecases.context.Context`), maps each agent command to its use case
in :mod:`driver.usecases`, and turns anything a use case raises into a failed answer, so
nothing a client can send gets a trace back."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from functools import partial
from typing import Any

from driver.core.errors import DriverError
from driver.hypervisors.base import Hypervisor
from driver.journal import Journal
from driver.metrics import Metrics
from driver.quiesce import Quiescer
from driver.settings import Settings
from driver.slots import VmSlots
from driver.store import Database, SnapshotStore
from driver.usecases.context import Context, failure
from driver.usecases.create import create
from driver.usecases.delete import delete
from driver.usecases.freeze_thaw import FreezeThaw
from driver.usecases.lifecycle import Lifecycle
from driver.usecases.power import check_vm, host_report
from driver.usecases.restore import restore
from driver.usecases.revert import revert
from driver.wire.commands import Answer
from driver.wire.envelope import Decoded, answer_class

log = logging.getLogger(__name__)


class SnapshotService:
    """Every agent command on one hypervisor host."""

    def __init__(self, hypervisor: Hypervisor, db: Database, settings: Settings,
                 metrics: Metrics | None = None) -> None:
        metrics = metrics or Metrics()
        self.ctx = Context(
            hv=hypervisor, settings=settings, store=SnapshotStore(db), journal=Journal(db),
            metrics=metrics, slots=VmSlots(),
            quiescer=Quiescer(settings.freeze_timeout, settings.max_freeze_window,
                              on_window=metrics.observe_window))
        self.hv, self.settings, self.metrics = hypervisor, settings, metrics
        self.store, self.journal, self.slots = self.ctx.store, self.ctx.journal, self.ctx.slots
        self._handlers: dict[str, Callable[[Any, Any], Answer]] = {
            "CreateVMSnapshotCommand": partial(create, self.ctx),
            "RevertToVMSnapshotCommand": partial(revert, self.ctx),
            "DeleteVMSnapshotCommand": partial(delete, self.ctx),
            "RestoreVMSnapshotCommand": partial(restore, self.ctx),
            "FreezeThawVMCommand": FreezeThaw(self.ctx),
            "CheckVirtualMachineCommand": partial(check_vm, self.ctx),
            "HostVmStateReportCommand": partial(host_report, self.ctx),
            **Lifecycle(self.ctx).handlers(),
        }

    def execute(self, item: Decoded) -> tuple[str, Answer]:
        """Run one decoded command; return its answer class name and answer."""
        name = answer_class(item)
        if item.command_type is None:
            return name, failure(item.error or "Invalid command")
        short = item.command_type.short
        if item.error is not None:
            self.metrics.operations.labels(short, "failure").inc()
            self.metrics.failures.labels(short, "InvalidCommand").inc()
            return name, failure(item.error)
        started = time.monotonic()
        try:
            answer = self._handlers[short](item.command, item.raw)
        except DriverError as exc:  # raised before an operation began (validation, busy)
            answer = failure(exc.details)
            self.metrics.failures.labels(short, type(exc).__name__).inc()
        except Exception:  # a bug: log it, never send a trace to the client
            log.exception("unexpected error", extra={"command": short})
            answer = failure(f"Internal error in the driver while handling {short}")
            self.metrics.failures.labels(short, "Internal").inc()
        self.metrics.operations.labels(short, "success" if answer.result else "failure").inc()
        self.metrics.duration.labels(short).observe(time.monotonic() - started)
        return name, answer
