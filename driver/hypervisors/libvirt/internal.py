"""Memory snapshots kept inside the qcow2 images (``savevm``), with libvirt's metadata.

The fallback of the live path and the only memory path on drivers other than QEMU. Creating
one stops the guest for the whole RAM dump. Reverting one happens in place in the running
QEMU (HMP ``loadvm``, no process restart) when the domain's definition is the one the
snapshot was taken with, and through libvirt (a QEMU restart) otherwise.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET  # noqa: S405 - parses libvirt's own output only

import libvirt

from driver.core.errors import HypervisorError, NotFound
from driver.hypervisors.base import DiskInfo
from driver.hypervisors.libvirt.errors import call, is_missing, translate
from driver.hypervisors.libvirt.monitor import Monitor
from driver.hypervisors.libvirt.xml import redefine_xml, snapshot_xml


def metadata(dom: libvirt.virDomain, name: str) -> libvirt.virDomainSnapshot | None:
    """Libvirt's record of snapshot ``name``, or None."""
    try:
        return dom.snapshotLookupByName(name)
    except libvirt.libvirtError as exc:
        if is_missing(exc):
            return None
        raise translate(exc, f"Looking up snapshot {name}") from None


def create(dom: libvirt.virDomain, vm: str, name: str, description: str) -> None:
    """One ``savevm`` of every disk and the memory, recorded by libvirt."""
    xml = snapshot_xml(name, description, memory=True)
    call(f"Memory snapshot {name} of {vm}", lambda: dom.snapshotCreateXML(
        xml, libvirt.VIR_DOMAIN_SNAPSHOT_CREATE_ATOMIC))


def delete(dom: libvirt.virDomain, name: str) -> bool:
    """Remove the snapshot with libvirt (``delvm`` when running); False if libvirt has none."""
    meta = metadata(dom, name)
    if meta is None:
        return False
    call(f"Delete of snapshot {name}", lambda: meta.delete(0))
    return True


def _shape(domain: ET.Element) -> tuple[object, ...]:
    """What must match for QEMU to load a snapshot in place: memory, vCPUs, machine and the
    devices (disks by target, source and format; every other device by kind and model)."""
    def text(path: str) -> str:
        el = domain.find(path)
        return (el.text or "").strip() if el is not None else ""

    machine = domain.find("./os/type")
    devices: list[tuple[str, ...]] = []
    for dev in domain.findall("./devices/*"):
        if dev.tag == "disk":
            source, target, driver = dev.find("source"), dev.find("target"), dev.find("driver")
            devices.append(("disk", dev.get("device", "disk"),
                            source.get("file", "") if source is not None else "",
                            target.get("dev", "") if target is not None else "",
                            driver.get("type", "") if driver is not None else ""))
        elif dev.tag not in ("emulator", "graphics", "console", "serial"):
            model = dev.find("model")
            devices.append((dev.tag, dev.get("type", ""), dev.get("model", "") or (
                (model.get("type", "") or model.get("name", "")) if model is not None else "")))
    return (text("memory"), text("vcpu"),
            machine.get("machine", "") if machine is not None else "", sorted(devices))


def definition_matches(dom: libvirt.virDomain, meta: libvirt.virDomainSnapshot) -> bool:
    """Whether the running domain is the one the snapshot was taken of."""
    snap = ET.fromstring(meta.getXMLDesc(0))  # noqa: S314 - libvirt's own XML
    then = snap.find("domain")
    if then is None:
        return False
    now = ET.fromstring(dom.XMLDesc(0))  # noqa: S314 - libvirt's own XML
    return _shape(then) == _shape(now)


def revert_in_place(monitor: Monitor, name: str) -> None:
    """``loadvm`` in the running QEMU: disks, RAM and devices back to ``name``, no restart."""
    out = monitor.hmp(f"loadvm {name}", doing=f"Revert of {monitor.name} to {name}").strip()
    if out:  # HMP reports failures as text, with a successful QMP reply around them
        raise HypervisorError(f"Revert of {monitor.name} to {name} failed: {out}")
    if not monitor.running():
        monitor.qmp("cont")  # a snapshot of a paused guest comes back running, as answered


def revert_by_libvirt(dom: libvirt.virDomain, vm: str, name: str) -> None:
    """Libvirt's revert (restarts QEMU with ``-loadvm``), forced to leave the VM running."""
    meta = metadata(dom, name)
    if meta is None:
        raise NotFound(f"Cannot find vmSnapshot with name: {name}")
    call(f"Revert of {vm} to {name}", lambda: dom.revertToSnapshot(
        meta, libvirt.VIR_DOMAIN_SNAPSHOT_REVERT_RUNNING))


def redefine(dom: libvirt.virDomain, vm: str, name: str, description: str, created: int,
             disks: list[DiskInfo]) -> None:
    """Register again the metadata of a snapshot whose data is still in the images."""
    xml = redefine_xml(name, description, created,
                       dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE), disks)
    call(f"Restoring snapshot {name}", lambda: dom.snapshotCreateXML(
        xml, libvirt.VIR_DOMAIN_SNAPSHOT_CREATE_REDEFINE))
