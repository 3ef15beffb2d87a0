"""Prometheus metrics: operations, durations, freeze windows, failures. One registry per app."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram

from driver.hypervisors.base import CaptureReport
from driver.quiesce import FreezeWindow

_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.operations = Counter("vmsnap_operations", "Agent commands handled",
                                  ["command", "result"], registry=self.registry)
        self.duration = Histogram("vmsnap_operation_seconds", "Time to handle a command",
                                  ["command"], buckets=_BUCKETS, registry=self.registry)
        self.freeze_window = Histogram("vmsnap_freeze_window_seconds",
                                       "Time a guest stayed frozen for a quiesced snapshot",
                                       buckets=_BUCKETS, registry=self.registry)
        self.freeze_expired = Counter("vmsnap_freeze_watchdog_thaws",
                                      "Guests thawed by the freeze watchdog",
                                      registry=self.registry)
        self.guest_pause = Histogram("vmsnap_guest_pause_seconds",
                                     "Time a guest's vCPUs stood still for a memory snapshot",
                                     ["mechanism"], buckets=_BUCKETS, registry=self.registry)
        self.failures = Counter("vmsnap_failures", "Failed commands by error kind",
                                ["command", "kind"], registry=self.registry)

    def observe_window(self, window: FreezeWindow) -> None:
        self.freeze_window.observe(window.ms / 1000.0)
        if window.expired:
            self.freeze_expired.inc()

    def observe_capture(self, report: CaptureReport) -> None:
        if report.guest_pause_ms is not None:
            self.guest_pause.labels(report.memory_capture or "none").observe(
                report.guest_pause_ms / 1000.0)
