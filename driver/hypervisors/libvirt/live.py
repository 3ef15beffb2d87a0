"""Live memory capture: QEMU's migration stream into the memory state file, with every disk
captured at the instant the memory is.

Two mechanisms, both with QMP through libvirt (libvirt 9.0 offers neither for a snapshot it
could revert):

* ``precopy``: a migration to the file with ``pause-before-switchover``. RAM is copied while
  the guest runs; QEMU pauses the guest only for the last pass, and waits there while the
  disks are captured (one action, see ``tags.py``); the snapshot is the switchover instant.
  The pause is the last pass (bounded by ``downtime-limit``), not the RAM size. A guest
  dirtying memory faster than the file absorbs it may never converge: the wait is bounded
  and the capture falls back.
  Under TCG, QEMU before 9.0 may miss pages the guest writes during the copy (a QEMU bug,
  see :func:`choose`).
* ``background-snapshot``: the driver pauses the guest, captures the disks and starts the
  migration; QEMU saves the device state, write-protects RAM (userfaultfd) and resumes the
  guest itself, then saves each page before the guest first changes it. The snapshot is
  the instant of the pause, which therefore ends before the save does: a quiesced snapshot
  is thawed while RAM is still being written. The pause grows with RAM (QEMU walks and
  write-protects it all inside the pause), much less when RAM is mapped with huge pages,
  which :meth:`LiveCapture.prepare` restores first, mapping every page too (see
  ``hugepages.py``).

:func:`choose` picks one; :class:`CannotGoLive` tells the caller to fall back to ``savevm``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from driver.core.errors import DriverError, HypervisorError
from driver.hypervisors.libvirt import userfault
from driver.hypervisors.libvirt.hugepages import prepare_guest_ram
from driver.hypervisors.libvirt.monitor import Monitor
from driver.hypervisors.libvirt.states import StateSink
from driver.settings import MEMORY_CAPTURES

log = logging.getLogger(__name__)

PRECOPY = "precopy"
BACKGROUND = "background-snapshot"
SAVEVM = "savevm"
MECHANISMS = MEMORY_CAPTURES  # "auto", PRECOPY, BACKGROUND, SAVEVM

_FD_NAME = "vmsnap-state"
_ACTIVE = {"setup", "active", "pre-switchover", "device", "wait-unplug", "cancelling"}
_OUR_CAPABILITIES = ("pause-before-switchover", "background-snapshot")

# Named points of a capture. Tests append callables here to act at a precise moment (change
# guest memory while RAM is copied, kill the driver); production code never does.
HOOKS: list[Callable[[str], None]] = []


def checkpoint(step: str) -> None:
    for hook in list(HOOKS):
        hook(step)


class CannotGoLive(DriverError):
    """A live capture is impossible here or now; nothing of it is left behind."""


@dataclass(frozen=True)
class LiveOptions:
    """The settings of the live path (see ``docs/configuration.rst``)."""

    mechanism: str = "auto"
    converge_timeout: float = 30.0
    finish_timeout: float = 600.0
    bandwidth_mib: int = 8192
    downtime_ms: int = 20
    prepare_ram: bool = True


def choose(options: LiveOptions, *, running: bool, capabilities: set[str]) -> str:
    """The choice rule: ``background-snapshot`` for a running guest when QEMU can (its
    snapshot is the instant of a short pause whatever the guest does afterwards, and a
    quiesced guest is thawed when the pause ends, not when the save does); ``savevm``
    otherwise. ``precopy`` only when configured: under TCG, QEMU before 9.0 loses guest
    writes made during the copy (its dirty bitmap sync does not reset the TCG TLB, fixed
    upstream by commit 03bfc2188f), so its snapshot may restore a corrupted guest (see
    ``docs/driver-design.rst``); it is never chosen on its own."""
    wanted = options.mechanism
    if wanted == "auto":
        wanted = BACKGROUND
    if wanted == BACKGROUND and (BACKGROUND not in capabilities or not running):
        wanted = SAVEVM  # QEMU resumes the guest itself at the end of a background pause
    if wanted == PRECOPY and "pause-before-switchover" not in capabilities:
        wanted = SAVEVM
    return wanted


def capabilities(monitor: Monitor) -> set[str]:
    """Migration capabilities this QEMU knows."""
    return {c["capability"] for c in monitor.qmp("query-migrate-capabilities")}


class LiveCapture:
    """One capture: :meth:`prepare` before the freeze (QEMU's settings, the file handed
    over), :meth:`start` up to the instant (guest running again), :meth:`finish` after it
    (stream complete, file committed), :meth:`abort` on any failure."""

    def __init__(self, monitor: Monitor, writer: StateSink, at_instant: Callable[[], None],
                 mechanism: str, options: LiveOptions,
                 resumed: Callable[[float], bool] | None = None) -> None:
        self.monitor = monitor
        # Waits (bounded) for QEMU's RESUME event, so that inside the guest's pause the
        # driver sends QEMU nothing but the capture itself.
        self.resumed = resumed
        self.writer = writer
        self.at_instant = at_instant
        self.mechanism = mechanism
        self.options = options
        self._saved_parameters: dict[str, Any] = {}
        self._was_running = False
        self._started = False

    # --- the instant ------------------------------------------------------------------------

    def prepare(self) -> None:
        """Everything that need not happen at the instant. Raises CannotGoLive (nothing
        left behind but the writer, which :meth:`abort` drops) when QEMU refuses."""
        try:
            self._set_capabilities(**{"pause-before-switchover": self.mechanism == PRECOPY,
                                      "background-snapshot": self.mechanism == BACKGROUND})
        except HypervisorError as exc:  # QEMU checks here whether it can
            self._reset()
            raise CannotGoLive(userfault.explain(exc.details)) from None
        # Only once QEMU has accepted the capture; before the parameters, so that a crash
        # during it leaves only the capabilities, which recovery turns off.
        if self.mechanism == BACKGROUND and self.options.prepare_ram:
            self._prepare_ram()
        try:
            self._set_parameters()
        except HypervisorError as exc:
            self._reset()
            raise CannotGoLive(exc.details) from None
        self.monitor.qmp_with_fd("getfd", {"fdname": _FD_NAME}, self.writer.fd,
                                 doing=f"Handing the memory state file to {self.monitor.name}")

    def start(self) -> None:
        """Run the capture until memory and disks are captured and the guest may run.
        Raises CannotGoLive (nothing left behind) when the live path cannot be used."""
        self._was_running = self.monitor.running()
        if self.mechanism == BACKGROUND:
            self._start_background()
        else:
            self._start_precopy()

    def _set_parameters(self) -> None:
        params = self.monitor.qmp("query-migrate-parameters")
        self._saved_parameters = {k: params[k] for k in ("max-bandwidth", "downtime-limit")
                                  if k in params}
        self.monitor.qmp("migrate-set-parameters", {
            "max-bandwidth": self.options.bandwidth_mib * 1024 * 1024,
            "downtime-limit": self.options.downtime_ms,
        })

    def _prepare_ram(self) -> None:
        dom = self.monitor.dom
        done = prepare_guest_ram(dom.UUIDString(), dom.maxMemory() * 1024)
        log.info("guest RAM of %s prepared in %.0f ms: %d MiB read through, %d MiB collapsed "
                 "into huge pages%s", self.monitor.name, done.ms, done.read_mib,
                 done.collapsed_mib, f" ({done.skipped})" if done.skipped else "")
        checkpoint("ram-prepared")

    def _set_capabilities(self, **wanted: bool) -> None:
        self.monitor.qmp("migrate-set-capabilities", {"capabilities": [
            {"capability": name, "state": state} for name, state in wanted.items()]})

    def _start_background(self) -> None:
        self.monitor.qmp("stop")
        try:
            self.at_instant()
            self.monitor.qmp("migrate", {"uri": f"fd:{_FD_NAME}"},
                             doing=f"Memory capture of {self.monitor.name}")
            self._started = True
            self._wait_resumed()
        except DriverError:
            self._resume()
            raise
        checkpoint("copy-running")

    def _wait_resumed(self) -> None:
        """QEMU resumes the guest from its migration thread once RAM is write-protected.
        Wait for its event; ask the monitor only now and then (a guest paused before the
        capture is not resumed: the stream completing ends the wait then)."""
        deadline = time.monotonic() + self.options.converge_timeout
        while True:
            if self.resumed is not None and self.resumed(0.1):
                return
            if self.monitor.running() or self._status() == "completed":
                return
            if time.monotonic() > deadline:
                raise HypervisorError(
                    f"QEMU did not resume {self.monitor.name} after its memory capture "
                    "started")
            if self.resumed is None:
                time.sleep(0.005)

    def _start_precopy(self) -> None:
        self.monitor.qmp("migrate", {"uri": f"fd:{_FD_NAME}"},
                         doing=f"Memory capture of {self.monitor.name}")
        self._started = True
        checkpoint("copy-running")
        deadline = time.monotonic() + self.options.converge_timeout
        while True:
            status = self._status()
            if status == "pre-switchover":
                break
            if time.monotonic() > deadline:
                self._stop_stream()
                raise CannotGoLive(
                    f"the memory of {self.monitor.name} did not converge within "
                    f"{self.options.converge_timeout:g} s")
            time.sleep(0.001)
        checkpoint("pre-switchover")
        self.at_instant()
        self.monitor.qmp("migrate-continue", {"state": "pre-switchover"})
        self._wait_completed(poll=0.001)
        self._resume()

    # --- after the instant ------------------------------------------------------------------

    def finish(self) -> int:
        """Wait for the stream to end, reset QEMU's migration settings, commit the file;
        return its size on storage."""
        if self.mechanism == BACKGROUND:
            self._wait_completed(poll=0.02)
        self._reset()
        checkpoint("file-complete")
        return self.writer.commit()

    def abort(self) -> None:
        """Undo everything but disk captures (the caller owns those): end the stream,
        reset QEMU's settings, resume a guest we paused, drop the partial file."""
        try:
            if self._started:
                self._stop_stream()
            else:
                self._release_fd()
            self._reset()
            self._resume()
        finally:
            self.writer.discard()

    # --- helpers ----------------------------------------------------------------------------

    def _status(self) -> str:
        info = self.monitor.qmp("query-migrate")
        status = str(info.get("status", "none"))
        if status == "failed":
            raise HypervisorError(
                f"Memory capture of {self.monitor.name} failed: "
                f"{info.get('error-desc', 'QEMU reported the migration failed')}")
        return status

    def _wait_completed(self, poll: float) -> None:
        deadline = time.monotonic() + self.options.finish_timeout
        while self._status() != "completed":
            if time.monotonic() > deadline:
                raise HypervisorError(
                    f"Memory capture of {self.monitor.name} did not finish within "
                    f"{self.options.finish_timeout:g} s")
            time.sleep(poll)

    def _stop_stream(self) -> None:
        stop_stream(self.monitor)
        self._started = False

    def _reset(self) -> None:
        reset(self.monitor, self._saved_parameters)

    def _release_fd(self) -> None:
        """Make QEMU close the state's descriptor handed over but never used: a pipe's
        reader (an RBD importer) sees its end only once every writer has closed it."""
        try:
            self.monitor.qmp("closefd", {"fdname": _FD_NAME})
        except DriverError:
            pass  # never handed over

    def _resume(self) -> None:
        if self._was_running and not self.monitor.running():
            self.monitor.qmp("cont")


def stop_stream(monitor: Monitor, wait: float = 600.0) -> bool:
    """End a memory stream in progress and wait until QEMU has; True if one ran.

    A precopy stream is cancelled. A background-snapshot stream is never cancelled: on
    QEMU 7.2 a cancelled one left the guest's RAM write-protected with nobody serving the
    faults, and the guest hung at its next write. It is run to its end at full speed
    instead (it always ends: it writes each page once); the caller discards the file."""
    if monitor.qmp("query-migrate").get("status") not in _ACTIVE:
        return False
    caps = {c["capability"]: c["state"] for c in monitor.qmp("query-migrate-capabilities")}
    if caps.get(BACKGROUND):
        monitor.qmp("migrate-set-parameters", {"max-bandwidth": 64 << 30})
    else:
        monitor.qmp("migrate_cancel")
    deadline = time.monotonic() + wait
    while monitor.qmp("query-migrate").get("status") in _ACTIVE:
        if time.monotonic() > deadline:
            raise HypervisorError(f"The memory capture of {monitor.name} could not be stopped")
        time.sleep(0.01)
    return True


def reset(monitor: Monitor, parameters: dict[str, Any] | None = None) -> None:
    """Turn our capabilities off again (libvirt's own migrations and saves must not stop at a
    pre-switchover nobody continues) and restore the parameters we changed."""
    monitor.qmp("migrate-set-capabilities", {"capabilities": [
        {"capability": name, "state": False} for name in _OUR_CAPABILITIES]})
    if parameters:
        monitor.qmp("migrate-set-parameters", parameters)
