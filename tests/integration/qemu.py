"""Helpers for tests on a real libvirtd + QEMU (TCG): the daemon, domains, guest data."""

from __future__ import annotations

import base64
import itertools
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import libvirt
import libvirt_qemu

from contract_tests.waiting import wait_until
from driver.hypervisors.libvirt.monitor import Monitor
from tests import agentjson

URI = "qemu:///system"
_names = itertools.count(1)


def try_connect() -> Any:
    try:
        return libvirt.open(URI)
    except libvirt.libvirtError:
        return None


class Daemon:
    """A libvirtd started by the test session (there is no systemd to start it)."""

    def __init__(self, workdir: str) -> None:
        self.workdir = workdir
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 120.0) -> None:
        log = open(os.path.join(self.workdir, "libvirtd.log"), "wb")  # noqa: SIM115
        self.proc = subprocess.Popen(["/usr/sbin/libvirtd"], stdout=log, stderr=log,
                                     start_new_session=True)
        proc = self.proc

        def accepting() -> bool:
            if proc.poll() is not None:
                raise RuntimeError(f"libvirtd exited; see {self.workdir}/libvirtd.log")
            conn = try_connect()
            if conn is None:
                return False
            conn.close()
            return True

        wait_until(accepting, timeout, interval=0.2, message="libvirtd to accept connections")

    def stop(self) -> None:
        if self.proc is None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def domain_xml(name: str, disks: list[str], *, agent_channel: bool = False,
               kernel: str | None = None, initrd: str | None = None, console: str | None = None,
               memory_mib: int = 64) -> str:
    devs = "".join(
        f"<disk type='file' device='disk'><driver name='qemu' type='qcow2'/>"
        f"<source file='{p}'/><target dev='vd{chr(97 + i)}' bus='virtio'/></disk>"
        for i, p in enumerate(disks)
    )
    if agent_channel:
        devs += ("<channel type='unix'><target type='virtio' name='org.qemu.guest_agent.0'/>"
                 "</channel>")
    if console:
        devs += f"<serial type='file'><source path='{console}'/></serial>"
    boot = "<boot dev='hd'/>"
    if kernel:
        boot = (f"<kernel>{kernel}</kernel><initrd>{initrd}</initrd>"
                "<cmdline>console=ttyS0 panic=-1 quiet</cmdline>")
    return (
        f"<domain type='qemu'><name>{name}</name><memory unit='MiB'>{memory_mib}</memory>"
        f"<vcpu>1</vcpu><os><type arch='x86_64' machine='pc'>hvm</type>{boot}</os>"
        f"<features><acpi/></features><devices><emulator>/usr/bin/qemu-system-x86_64"
        f"</emulator>{devs}<memballoon model='none'/></devices></domain>"
    )


@contextmanager
def libvirtd_running(needed: bool = True) -> Iterator[None]:
    """For a benchmark: the libvirtd that answers, or one started here and stopped after."""
    daemon = None
    if needed and try_connect() is None:
        daemon = Daemon(tempfile.mkdtemp())
        daemon.start()
    try:
        yield
    finally:
        if daemon is not None:
            daemon.stop()


class QemuVM:
    """A TCG domain on the real daemon, with qcow2 disks in the test's pool."""

    def __init__(self, conn: Any, pool: str, disks: list[str], **xml: Any) -> None:
        self.name = f"i-7-{os.getpid()}{next(_names)}-VM"
        self.pool = pool
        self.disks = disks
        self.dom = conn.defineXML(domain_xml(self.name, disks, **xml))

    def volumes(self) -> list[dict[str, Any]]:
        return [agentjson.volume(p, self.pool, vm=self.name, device=i,
                                 kind="ROOT" if i == 0 else "DATADISK")
                for i, p in enumerate(self.disks)]

    def start(self) -> None:
        self.dom.create()

    def stop(self) -> None:
        if self.dom.isActive():
            self.dom.destroy()

    @property
    def running(self) -> bool:
        return bool(self.dom.isActive())

    def hmp(self, command: str) -> str:
        return str(libvirt_qemu.qemuMonitorCommand(
            self.dom, command, libvirt_qemu.VIR_DOMAIN_QEMU_MONITOR_COMMAND_HMP))

    def write(self, disk: int, byte: int, offset: int = 0, length: str = "64k") -> None:
        """Write a pattern into a disk of the running VM through QEMU's block layer."""
        qdev = f"/machine/peripheral/virtio-disk{disk}/virtio-backend"
        out = self.hmp(f'qemu-io -d {qdev} "write -P {byte:#x} {offset} {length}"')
        assert not out.strip(), out
        self.hmp(f'qemu-io -d {qdev} "flush"')

    def tags(self, disk: int = 0) -> list[str]:
        out = subprocess.run(["qemu-img", "info", "-U", "--output=json", self.disks[disk]],
                             check=True, capture_output=True, text=True).stdout
        return [s["name"] for s in json.loads(out).get("snapshots", [])]

    def agent(self, command: str, timeout: int = 5, **arguments: Any) -> Any:
        request: dict[str, Any] = {"execute": command}
        if arguments:
            request["arguments"] = arguments
        out = libvirt_qemu.qemuAgentCommand(self.dom, json.dumps(request), timeout, 0)
        return json.loads(out)["return"]

    def sh(self, script: str, timeout: float = 120.0, wait: bool = True) -> str:
        """Run a shell script in the guest through its agent (``guest-exec``); its output.
        With ``wait=False`` it is left running in the guest."""
        pid = self.agent("guest-exec", 10, path="/bin/sh", arg=["-c", script],
                         **{"capture-output": True})["pid"]
        if not wait:
            return ""

        def ended() -> dict[str, Any] | None:
            status: dict[str, Any] = self.agent("guest-exec-status", 10, pid=pid)
            return status if status.get("exited") else None

        status = wait_until(ended, timeout, interval=0.2,
                            message=f"the guest script {script!r} to end")
        out = base64.b64decode(status.get("out-data", "")).decode()
        err = base64.b64decode(status.get("err-data", "")).decode()
        assert status.get("exitcode") == 0, (script, out, err)
        return out

    def qmp(self, command: str, **arguments: Any) -> Any:
        request: dict[str, Any] = {"execute": command}
        if arguments:
            request["arguments"] = arguments
        return json.loads(libvirt_qemu.qemuMonitorCommand(self.dom, json.dumps(request),
                                                          0))["return"]

    def monitor_status(self) -> str:
        """QEMU's migration status (``active`` while a memory capture is being written)."""
        return str(self.qmp("query-migrate").get("status", "none"))

    def wait_running(self, timeout: float = 30.0) -> None:
        """Until libvirt has seen the guest resume (its events arrive after QEMU's)."""
        wait_until(lambda: self.dom.state()[0] == libvirt.VIR_DOMAIN_RUNNING, timeout,
                   interval=0.01, message="the guest to resume")

    def qemu_pid(self) -> int:
        """The QEMU process of the running domain (from libvirt's pid file)."""
        with open(f"/run/libvirt/qemu/{self.name}.pid") as fh:
            return int(fh.read().strip())

    def wait_for_agent(self, timeout: float = 120.0) -> None:
        wait_until(lambda: self.agent("guest-ping", 2) is not None, timeout, interval=0.5,
                   ignore=(libvirt.libvirtError,), message=f"the guest agent of {self.name}")

    def remove(self) -> None:
        try:
            self.stop()
            self.dom.undefineFlags(libvirt.VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA)
        except libvirt.libvirtError:
            pass


@contextmanager
def monitor_calls() -> Iterator[list[tuple[str, float, float]]]:
    """Every QMP command the driver sends in the block: its name, and the wall-clock time
    it was sent and answered (the clock of QEMU's event timestamps)."""
    calls: list[tuple[str, float, float]] = []
    send = Monitor.qmp

    def timed(monitor: Monitor, execute: str, *args: Any, **kwargs: Any) -> Any:
        began = time.time()
        try:
            return send(monitor, execute, *args, **kwargs)
        finally:
            calls.append((execute, began, time.time()))

    Monitor.qmp = timed  # type: ignore[method-assign,assignment]
    try:
        yield calls
    finally:
        Monitor.qmp = send  # type: ignore[method-assign]


def copy_image(src: str, pool: str, name: str) -> str:
    dst = os.path.join(pool, name)
    shutil.copyfile(src, dst)
    return dst
