"""QEMU's monitor through libvirt's passthrough, and the guest's pause read from QEMU's events.

Libvirt 9.0 has no API for internal disk-only snapshots, live memory capture to a file or an
in-place ``loadvm``; QMP passthrough is the only way to them. It marks the domain "tainted:
custom-monitor" in libvirt's log.
"""

from __future__ import annotations

import json
import logging
import threading
from typing import Any

import libvirt
import libvirt_qemu

from driver.core.errors import HypervisorError, Unsupported
from driver.hypervisors.libvirt.errors import call, translate

log = logging.getLogger(__name__)


class Monitor:
    """QMP and HMP commands for one running domain."""

    def __init__(self, dom: libvirt.virDomain, name: str) -> None:
        self.dom = dom
        self.name = name

    def qmp(self, execute: str, arguments: dict[str, Any] | None = None, *,
            doing: str = "") -> Any:
        """Run one QMP command; its ``return`` value, or HypervisorError with QEMU's text."""
        command: dict[str, Any] = {"execute": execute}
        if arguments is not None:
            command["arguments"] = arguments
        doing = doing or f"{execute} on {self.name}"
        try:
            out = libvirt_qemu.qemuMonitorCommand(self.dom, json.dumps(command), 0)
        except libvirt.libvirtError as exc:
            err = translate(exc, doing)
            if isinstance(err, Unsupported):
                raise Unsupported(f"{doing} failed: this needs the QEMU driver") from None
            raise err from None
        return _reply(out, doing)

    def qmp_with_fd(self, execute: str, arguments: dict[str, Any], fd: int, *,
                    doing: str) -> Any:
        """Run one QMP command handing QEMU a file descriptor (``getfd``)."""
        command = json.dumps({"execute": execute, "arguments": arguments})
        out, _ = call(doing, lambda: libvirt_qemu.qemuMonitorCommandWithFiles(
            self.dom, command, [fd], 0))
        return _reply(out, doing)

    def hmp(self, command: str, *, doing: str) -> str:
        """Run one human-monitor command; its printed output."""
        return str(call(doing, lambda: libvirt_qemu.qemuMonitorCommand(
            self.dom, command, libvirt_qemu.VIR_DOMAIN_QEMU_MONITOR_COMMAND_HMP)))

    def nodes(self) -> dict[str, str]:
        """Image path (``rbd:<pool>/<image>`` for an RBD disk) -> top block node name of
        every disk of the running domain."""
        out = {}
        for block in self.qmp("query-block", doing=f"Listing the disks of {self.name}"):
            inserted = block.get("inserted")
            if inserted and inserted.get("node-name"):
                out[_image_path(inserted["file"])] = inserted["node-name"]
        return out

    def running(self) -> bool:
        """Whether QEMU's vCPUs run (``query-status``), as opposed to any paused state."""
        return bool(self.qmp("query-status")["running"])


def _image_path(file: str) -> str:
    """QEMU names a network image ``json:{...}``: an RBD one becomes ``rbd:<pool>/<image>``,
    the name the driver uses for it."""
    if not file.startswith("json:"):
        return file
    try:
        spec = json.loads(file[len("json:"):])
    except ValueError:
        return file
    inner = spec.get("file", spec) if isinstance(spec, dict) else {}
    if isinstance(inner, dict) and inner.get("driver") == "rbd":
        return f"rbd:{inner.get('pool')}/{inner.get('image')}"
    return file


def _reply(out: str, doing: str) -> Any:
    reply = json.loads(out)
    if "error" in reply:
        raise HypervisorError(f"{doing} failed: {reply['error'].get('desc', reply['error'])}")
    return reply.get("return")


# --- the guest's pause ------------------------------------------------------------------------

_loop_lock = threading.Lock()
_loop_started = False


def start_event_loop() -> None:
    """Libvirt delivers events only to connections opened after an event loop is registered:
    call this before opening one. The loop runs in one daemon thread per process."""
    global _loop_started
    with _loop_lock:
        if _loop_started:
            return
        libvirt.virEventRegisterDefaultImpl()

        def run() -> None:
            while True:
                libvirt.virEventRunDefaultImpl()

        threading.Thread(target=run, name="libvirt-events", daemon=True).start()
        _loop_started = True


class PauseWatch:
    """The time the guest's vCPUs stood still, from QEMU's own ``STOP`` and ``RESUME`` event
    timestamps (not from the driver's clock, which would add monitor round trips)."""

    def __init__(self, conn: libvirt.virConnect, dom: libvirt.virDomain) -> None:
        self.conn = conn
        self._events: list[tuple[str, float]] = []
        self._changed = threading.Condition()
        self._ids: list[int] = []
        for event in ("STOP", "RESUME"):
            try:
                self._ids.append(libvirt_qemu.qemuMonitorEventRegister(
                    conn, dom, event, self._on_event, None, 0))
            except libvirt.libvirtError as exc:  # a driver without QEMU events: no figure
                log.debug("no QEMU events: %s", exc)

    def _on_event(self, _conn: Any, _dom: Any, event: str, seconds: int, micros: int,
                  _details: Any, _opaque: Any) -> None:
        with self._changed:
            self._events.append((event, seconds + micros / 1e6))
            self._changed.notify_all()

    @property
    def has_events(self) -> bool:
        """Whether QEMU's STOP and RESUME events reach this watch."""
        return len(self._ids) == 2

    def wait_resumed(self, timeout: float) -> bool:
        """Whether QEMU resumed the guest after its last stop, waiting up to ``timeout`` s
        for the event; False at once when events cannot be had (see :attr:`has_events`)."""
        if not self.has_events:
            return False
        with self._changed:
            return self._changed.wait_for(self._resumed, timeout)

    def _resumed(self) -> bool:
        kinds = [event for event, _ in self._events]
        return "STOP" in kinds and kinds[-1] == "RESUME"

    def close(self, *, expect_running: bool, wait: float = 2.0) -> float | None:
        """Stop listening; the summed STOP -> RESUME time in ms (None if not measurable).
        With ``expect_running``, wait (bounded) for the last RESUME to be delivered."""
        try:
            if len(self._ids) < 2:
                return None
            with self._changed:
                if expect_running:
                    self._changed.wait_for(lambda: bool(self._events)
                                           and self._events[-1][0] == "RESUME", wait)
                events = list(self._events)
        finally:
            for cb in self._ids:
                try:
                    libvirt_qemu.qemuMonitorEventDeregister(self.conn, cb)
                except libvirt.libvirtError:
                    pass
            self._ids = []
        total, stopped_at = 0.0, None
        for event, at in events:
            if event == "STOP" and stopped_at is None:
                stopped_at = at
            elif event == "RESUME" and stopped_at is not None:
                total += at - stopped_at
                stopped_at = None
        if stopped_at is not None:
            return None  # still paused: no complete figure
        return round(total * 1000.0, 3)
