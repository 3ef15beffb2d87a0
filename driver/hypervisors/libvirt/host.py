"""Libvirt host (connection) and guest (domain) wrappers with intent-named methods.

Snapshot mechanisms, chosen so that libvirt 9.0 never has to revert or delete an external
snapshot (it cannot) and every snapshot is a qcow2 internal snapshot whose clusters are
shared copy-on-write with the live image (incremental by construction):

* ``DiskAndMemory`` of a running VM: a libvirt internal snapshot (memory + every qcow2
  disk, one ``savevm``), reverted and deleted through libvirt.
* ``Disk`` of a running VM: one QMP ``transaction`` of ``blockdev-snapshot-internal-sync``
  over every disk - atomic across disks and live, with no memory dump.
* ``Disk`` of a stopped VM: ``qemu-img snapshot -c`` on every image, rolled back on failure.
* ``Disk`` snapshots are reverted with ``qemu-img snapshot -a`` on the stopped VM and deleted
  with QMP (running) or ``qemu-img snapshot -d`` (stopped).
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable
from typing import Any, TypeVar

import libvirt
import libvirt_qemu

from driver.core.errors import DriverError, HypervisorError, InvalidRequest, NotFound, Unsupported
from driver.core.model import PowerState, Snapshot
from driver.hypervisors.base import METADATA, DiskInfo, Guest, Hypervisor, VmSpec
from driver.hypervisors.libvirt import qemuimg
from driver.hypervisors.libvirt.errors import is_broken_connection, is_missing, translate
from driver.hypervisors.libvirt.xml import (
    disk_aliases,
    disk_xml,
    domain_disks,
    domain_xml,
    redefine_xml,
    snapshot_xml,
)

T = TypeVar("T")

_ON_STATES = {libvirt.VIR_DOMAIN_RUNNING, libvirt.VIR_DOMAIN_PAUSED, libvirt.VIR_DOMAIN_BLOCKED,
              libvirt.VIR_DOMAIN_PMSUSPENDED}
_OFF_STATES = {libvirt.VIR_DOMAIN_SHUTOFF, libvirt.VIR_DOMAIN_CRASHED}


def _silence(_ctx: Any, _err: Any) -> None:
    """Libvirt prints every error to stderr unless a handler is registered."""


libvirt.registerErrorHandler(_silence, None)


def _call(doing: str, fn: Callable[[], T]) -> T:
    try:
        return fn()
    except libvirt.libvirtError as exc:
        raise translate(exc, doing) from None


def _dotted(version: int) -> str:
    """libvirt's version integers (major * 1,000,000 + minor * 1,000 + micro) as 9.0.0."""
    return f"{version // 1_000_000}.{version // 1_000 % 1_000}.{version % 1_000}"


class LibvirtHost(Hypervisor):
    """Owns one libvirt connection: opened lazily, reopened when it breaks."""

    def __init__(self, uri: str, agent_timeout: int = 10, domain_type: str = "kvm") -> None:
        self.uri = uri
        self.agent_timeout = agent_timeout
        self.domain_type = domain_type
        self._conn: libvirt.virConnect | None = None
        self._lock = threading.Lock()

    @property
    def conn(self) -> libvirt.virConnect:
        with self._lock:
            if self._conn is not None:
                try:
                    if self._conn.isAlive():
                        return self._conn
                except libvirt.libvirtError:
                    pass
                self._conn = None
            self._conn = _call(f"Connecting to {self.uri}", lambda: libvirt.open(self.uri))
            return self._conn

    def guest(self, name: str) -> LibvirtGuest:
        try:
            dom = self.conn.lookupByName(name)
        except libvirt.libvirtError as exc:
            if is_broken_connection(exc):
                self._conn = None
                dom = _call(f"Looking up VM {name}", lambda: self.conn.lookupByName(name))
            elif is_missing(exc):
                raise NotFound(f"can not find vm: {name}") from None
            else:
                raise translate(exc, f"Looking up VM {name}") from None
        return LibvirtGuest(self, dom)

    def ping(self) -> str:
        conn = self.conn
        return _call("Reading the hypervisor version", lambda: (
            f"libvirt {_dotted(conn.getLibVersion())}, "
            f"{conn.getType()} {_dotted(conn.getVersion())} at {self.uri}"
        ))

    def guest_names(self) -> list[str]:
        conn = self.conn
        return sorted(_call("Listing the VMs", lambda: [d.name() for d in conn.listAllDomains()]))

    @property
    def is_qemu(self) -> bool:
        return str(self.conn.getType()).upper() == "QEMU"

    # --- lifecycle (the simulator's lab mode) -------------------------------------------

    def start(self, spec: VmSpec) -> None:
        try:
            dom = self.conn.lookupByName(spec.name)
        except libvirt.libvirtError as exc:
            if not is_missing(exc):
                raise translate(exc, f"Looking up VM {spec.name}") from None
            xml = domain_xml(spec.name, domain_type=self.domain_type, cpus=spec.cpus,
                             memory_mib=spec.memory_mib, disks=spec.disks, agent=spec.agent)
            dom = _call(f"Defining VM {spec.name}", lambda: self.conn.defineXML(xml))
        if spec.power_on and not dom.isActive():
            _call(f"Starting VM {spec.name}", dom.create)

    def reboot(self, name: str) -> None:
        dom = self.guest(name).dom
        _call(f"Rebooting VM {name}", lambda: dom.reset(0))

    def undefine(self, name: str) -> None:
        guest = self.guest(name)
        guest.stop()
        _call(f"Removing VM {name}", lambda: guest.dom.undefineFlags(
            libvirt.VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA))

    def create_volume(self, path: str, size: int) -> None:
        if os.path.exists(path):
            raise InvalidRequest(f"a volume already exists at {path}")
        qemuimg.create_image(path, size)

    def delete_volume(self, path: str) -> None:
        if os.path.exists(path):
            os.remove(path)

    def resize_volume(self, path: str, size: int) -> None:
        current = int(qemuimg.info(path)["virtual-size"])
        qemuimg.resize(path, size, shrink=size < current)

    def attach(self, vm: str, disk: DiskInfo) -> None:
        dom = self.guest(vm).dom
        flags = libvirt.VIR_DOMAIN_AFFECT_CONFIG | (
            libvirt.VIR_DOMAIN_AFFECT_LIVE if dom.isActive() else 0)
        _call(f"Attaching {disk.path} to {vm}",
              lambda: dom.attachDeviceFlags(disk_xml(disk), flags))

    def detach(self, vm: str, path: str) -> None:
        guest = self.guest(vm)
        disk = next((d for d in guest.disks() if d.path == path), None)
        if disk is None:
            raise InvalidRequest(f"volume {path} is not attached to {vm}")
        xml = disk_xml(disk)
        if guest.dom.isActive():
            # A live unplug needs the guest's consent: libvirt waits a few seconds and may
            # return with it still pending. Only a disk really gone leaves the definition.
            _call(f"Detaching {path} from {vm}",
                  lambda: guest.dom.detachDeviceFlags(xml, libvirt.VIR_DOMAIN_AFFECT_LIVE))
            if any(d.path == path for d in guest.disks()):
                raise HypervisorError(
                    f"The guest of {vm} has not released {disk.target}; the disk stays "
                    "attached (stop the VM to detach it)")
        _call(f"Detaching {path} from {vm}",
              lambda: guest.dom.detachDeviceFlags(xml, libvirt.VIR_DOMAIN_AFFECT_CONFIG))

    @staticmethod
    def _volume_snapshot_path(path: str, name: str) -> str:
        folder = os.path.join(os.path.dirname(path), ".volume-snapshots")
        os.makedirs(folder, exist_ok=True)
        return os.path.join(folder, f"{os.path.basename(path)}@{name}.qcow2")

    def snapshot_volume(self, path: str, name: str, *, source: str | None = None) -> int:
        target = self._volume_snapshot_path(path, name)
        if os.path.exists(target):
            raise InvalidRequest(f"volume snapshot {name} already exists")
        if source is not None and source not in qemuimg.tags(path):
            raise InvalidRequest(f"volume {path} has no VM snapshot {source}")
        qemuimg.copy(path, target, snapshot=source)
        return os.path.getsize(target)

    def delete_volume_snapshot(self, path: str, name: str) -> None:
        target = self._volume_snapshot_path(path, name)
        if os.path.exists(target):
            os.remove(target)

    def delete_from_files(self, snapshot: Snapshot) -> None:
        for disk in snapshot.disks:
            if os.path.exists(disk.path) and snapshot.name in qemuimg.tags(disk.path):
                qemuimg.delete(disk.path, snapshot.name)

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                try:
                    self._conn.close()
                except libvirt.libvirtError:
                    pass
                self._conn = None


class LibvirtGuest(Guest):
    """One libvirt domain."""

    def __init__(self, host: LibvirtHost, dom: libvirt.virDomain) -> None:
        self.host = host
        self.dom = dom
        self.name = dom.name()
        self._plan: tuple[str, bool, bool, list[DiskInfo], list[dict[str, Any]]] | None = None

    # --- state ------------------------------------------------------------------------------

    def power_state(self) -> PowerState:
        state = _call(f"Reading the state of {self.name}", lambda: self.dom.state()[0])
        if state in _ON_STATES:
            return PowerState.ON
        if state in _OFF_STATES:
            return PowerState.OFF
        return PowerState.UNKNOWN

    def disks(self) -> list[DiskInfo]:
        return domain_disks(_call(f"Reading the disks of {self.name}", self.dom.XMLDesc))

    def stop(self) -> None:
        if self.power_state() is PowerState.ON:
            _call(f"Stopping {self.name}", self.dom.destroy)

    def stored_bytes(self, path: str) -> int | None:
        if not self.host.is_qemu or not os.path.exists(path):
            return None
        size = qemuimg.info(path).get("actual-size")
        return int(size) if size is not None else None

    # --- guest agent ------------------------------------------------------------------------

    def set_agent_timeout(self, seconds: int) -> None:
        try:
            self.dom.agentSetResponseTimeout(max(1, int(seconds)), 0)
        except (libvirt.libvirtError, AttributeError):
            pass  # drivers without agent timeouts: the quiesce watchdog still applies

    def freeze(self) -> int:
        return int(_call(f"Freezing the filesystems of {self.name}", lambda: self.dom.fsFreeze()))

    def thaw(self) -> int:
        # Never pass mountpoints: QEMU refuses a listed thaw and leaves the guest frozen.
        return int(_call(f"Thawing the filesystems of {self.name}", lambda: self.dom.fsThaw()))

    def freeze_status(self) -> str:
        query = json.dumps({"execute": "guest-fsfreeze-status"})
        out = _call(f"Reading the freeze status of {self.name}",
                    lambda: libvirt_qemu.qemuAgentCommand(self.dom, query,
                                                          self.host.agent_timeout, 0))
        return str(json.loads(out)["return"])

    # --- snapshots --------------------------------------------------------------------------

    def _qmp(self, command: dict[str, Any], doing: str) -> Any:
        try:
            out = libvirt_qemu.qemuMonitorCommand(self.dom, json.dumps(command), 0)
        except libvirt.libvirtError as exc:
            err = translate(exc, doing)
            if isinstance(err, Unsupported):
                raise Unsupported(
                    f"{doing} failed: live disk-only snapshots need the QEMU driver"
                ) from None
            raise err from None
        reply = json.loads(out)
        if "error" in reply:
            raise HypervisorError(f"{doing} failed: {reply['error'].get('desc', reply['error'])}")
        return reply.get("return")

    def _nodes(self) -> dict[str, str]:
        """Image path -> top block node name of every disk of the running domain."""
        blocks = self._qmp({"execute": "query-block"}, f"Listing the disks of {self.name}")
        out = {}
        for block in blocks:
            inserted = block.get("inserted")
            if inserted and inserted.get("node-name"):
                out[inserted["file"]] = inserted["node-name"]
        return out

    def _qcow2_disks(self) -> list[DiskInfo]:
        disks = self.disks()
        raw = [d.target for d in disks if d.format != "qcow2"]
        if raw:
            raise Unsupported(
                f"disks {', '.join(raw)} of {self.name} are not qcow2; snapshots need qcow2"
            )
        return disks

    def _metadata(self, name: str) -> libvirt.virDomainSnapshot | None:
        try:
            return self.dom.snapshotLookupByName(name)
        except libvirt.libvirtError as exc:
            if is_missing(exc):
                return None
            raise translate(exc, f"Looking up snapshot {name}") from None

    def _tags_on(self, disks: list[DiskInfo], name: str) -> list[DiskInfo]:
        return [d for d in disks if os.path.exists(d.path) and name in qemuimg.tags(d.path)]

    def held_snapshots(self) -> dict[str, set[str]]:
        held: dict[str, set[str]] = {}
        for disk in self.disks():
            if disk.format == "qcow2" and os.path.exists(disk.path):
                for tag in qemuimg.tags(disk.path):
                    held.setdefault(tag, set()).add(disk.path)
        names = _call(f"Listing the snapshots of {self.name}", self.dom.snapshotListNames)
        for name in names:
            held.setdefault(name, set()).add(METADATA)
        return held

    def has_snapshot(self, snapshot: Snapshot) -> bool:
        if self._metadata(snapshot.name) is not None:
            return True
        return bool(self._tags_on([DiskInfo(d.target, d.path) for d in snapshot.disks]
                                  or self.disks(), snapshot.name))

    def preflight(self, name: str, *, memory: bool) -> None:
        disks = self._qcow2_disks()
        running = self.power_state() is PowerState.ON
        if self._metadata(name) is not None or self._tags_on(disks, name):
            raise InvalidRequest(f"snapshot {name} already exists on {self.name}")
        actions = []
        if running and not memory:
            nodes = self._nodes()
            for disk in disks:
                if disk.path not in nodes:
                    raise HypervisorError(f"disk {disk.target} of {self.name} is not open in QEMU")
                actions.append({"type": "blockdev-snapshot-internal-sync",
                                "data": {"device": nodes[disk.path], "name": name}})
        self._plan = (name, memory, running, disks, actions)

    def capture(self, name: str, *, memory: bool, description: str) -> None:
        if self._plan is None or self._plan[:2] != (name, memory):
            self.preflight(name, memory=memory)
        plan, self._plan = self._plan, None
        assert plan is not None
        _, _, running, disks, actions = plan
        if memory:
            xml = snapshot_xml(name, description, memory=True)
            _call(f"Memory snapshot {name} of {self.name}", lambda: self.dom.snapshotCreateXML(
                xml, libvirt.VIR_DOMAIN_SNAPSHOT_CREATE_ATOMIC
            ))
        elif running:
            self._qmp({"execute": "transaction", "arguments": {"actions": actions}},
                      f"Disk snapshot {name} of {self.name}")
        else:
            done: list[DiskInfo] = []
            try:
                for disk in disks:
                    qemuimg.create(disk.path, name)
                    done.append(disk)
            except DriverError:
                for disk in done:
                    qemuimg.delete(disk.path, name)
                raise

    def verify(self, name: str, *, memory: bool) -> None:
        """After the guest is thawed: check QEMU really wrote the snapshot into every image."""
        if memory:
            self._verify_tags(self.disks(), name)

    def _verify_tags(self, disks: list[DiskInfo], name: str) -> None:
        """QEMU can report success and write nothing (seen with odd names): check the images."""
        if not self.host.is_qemu:
            return
        missing = [d.target for d in disks if name not in qemuimg.tags(d.path)]
        if missing:
            meta = self._metadata(name)
            if meta is not None:
                _call("Removing a failed snapshot", lambda: meta.delete(0))
            raise HypervisorError(
                f"Snapshot {name} of {self.name} was reported created but is missing from "
                f"{', '.join(missing)}"
            )

    def revert(self, snapshot: Snapshot) -> PowerState:
        if snapshot.has_memory:
            meta = self._metadata(snapshot.name)
            if meta is None:
                raise NotFound(f"Cannot find vmSnapshot with name: {snapshot.name}")
            _call(f"Revert of {self.name} to {snapshot.name}",
                  lambda: self.dom.revertToSnapshot(meta, 0))
            return self.power_state()
        if self.power_state() is not PowerState.OFF:
            raise InvalidRequest(f"{self.name} must be stopped to revert to disk snapshot "
                                 f"{snapshot.name}")
        disks = self._qcow2_disks()
        missing = [d.target for d in disks if d not in self._tags_on(disks, snapshot.name)]
        if missing:
            raise NotFound(f"Snapshot {snapshot.name} is missing from {', '.join(missing)}")
        for disk in disks:
            qemuimg.apply(disk.path, snapshot.name)
        return PowerState.OFF

    def delete(self, snapshot: Snapshot) -> None:
        meta = self._metadata(snapshot.name)
        if meta is not None:
            _call(f"Delete of snapshot {snapshot.name}", lambda: meta.delete(0))
            return
        disks = self.disks()
        holding = self._tags_on(disks, snapshot.name)
        if not holding:
            return
        if self.power_state() is PowerState.ON:
            nodes = self._nodes()
            for disk in holding:
                self._qmp({"execute": "blockdev-snapshot-delete-internal-sync",
                           "arguments": {"device": nodes[disk.path], "name": snapshot.name}},
                          f"Delete of snapshot {snapshot.name} from {disk.target}")
        else:
            for disk in holding:
                qemuimg.delete(disk.path, snapshot.name)

    # --- guest data (block level; files and memory markers need the simulated host) -----

    def write(self, path: str, offset: int, data: bytes) -> None:
        import tempfile

        with tempfile.NamedTemporaryFile(prefix="vmsnap-io-") as src:
            src.write(data)
            src.flush()
            if self.power_state() is PowerState.ON:
                alias = disk_aliases(self.dom.XMLDesc()).get(path)
                if alias is None:
                    raise NotFound(f"{self.name} has no disk {path}")
                qdev = f"/machine/peripheral/{alias}/virtio-backend"
                for command in (f"write -s {src.name} {offset} {len(data)}", "flush"):
                    out = self._hmp(f'qemu-io -d {qdev} "{command}"', f"Writing to {self.name}")
                    if out.strip():
                        raise HypervisorError(f"Writing to {self.name} failed: {out.strip()}")
            else:
                qemuimg.write_from(path, offset, src.name, len(data))

    def _hmp(self, command: str, doing: str) -> str:
        def run() -> str:
            return str(libvirt_qemu.qemuMonitorCommand(
                self.dom, command, libvirt_qemu.VIR_DOMAIN_QEMU_MONITOR_COMMAND_HMP))

        return _call(doing, run)

    def read(self, path: str, offset: int, length: int) -> bytes:
        return qemuimg.read(path, offset, length)

    def redefine(self, snapshot: Snapshot) -> bool:
        if not snapshot.has_memory or self._metadata(snapshot.name) is not None:
            return False
        disks = self.disks()
        if self.host.is_qemu and len(self._tags_on(disks, snapshot.name)) != len(disks):
            raise NotFound(f"Snapshot {snapshot.name} is not in the images of {self.name}")
        xml = redefine_xml(snapshot.name, snapshot.description, int(snapshot.created),
                           self.dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE), disks)
        _call(f"Restoring snapshot {snapshot.name}", lambda: self.dom.snapshotCreateXML(
            xml, libvirt.VIR_DOMAIN_SNAPSHOT_CREATE_REDEFINE
        ))
        return True
