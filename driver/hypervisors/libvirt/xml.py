"""Libvirt XML, built and read with ElementTree so every name and text is escaped."""

from __future__ import annotations

import xml.etree.ElementTree as ET  # noqa: S405 - parses libvirt's own output only

from driver.hypervisors.base import DiskInfo


def _tostring(root: ET.Element) -> str:
    return ET.tostring(root, encoding="unicode")


def snapshot_xml(name: str, description: str = "", *, memory: bool) -> str:
    """A ``<domainsnapshot>`` for an internal snapshot (with memory when ``memory``)."""
    root = ET.Element("domainsnapshot")
    ET.SubElement(root, "name").text = name
    if description:
        ET.SubElement(root, "description").text = description
    if memory:
        ET.SubElement(root, "memory", snapshot="internal")
    return _tostring(root)


def redefine_xml(name: str, description: str, created: int, domain_xml: str,
                 disks: list[DiskInfo]) -> str:
    """A memory snapshot's metadata for ``VIR_DOMAIN_SNAPSHOT_CREATE_REDEFINE``."""
    root = ET.Element("domainsnapshot")
    ET.SubElement(root, "name").text = name
    if description:
        ET.SubElement(root, "description").text = description
    ET.SubElement(root, "state").text = "running"
    ET.SubElement(root, "creationTime").text = str(int(created))
    ET.SubElement(root, "memory", snapshot="internal")
    disks_el = ET.SubElement(root, "disks")
    for disk in disks:
        ET.SubElement(disks_el, "disk", name=disk.target, snapshot="internal")
    root.append(ET.fromstring(domain_xml))  # noqa: S314 - libvirt's own XML
    return _tostring(root)


def domain_disks(domain_xml: str) -> list[DiskInfo]:
    """Disks (device='disk', backed by a file) of a domain, from its XML."""
    root = ET.fromstring(domain_xml)  # noqa: S314 - libvirt's own XML
    out = []
    for disk in root.findall("./devices/disk"):
        if disk.get("device", "disk") != "disk":
            continue
        source = disk.find("source")
        target = disk.find("target")
        driver = disk.find("driver")
        if source is None or target is None or source.get("file") is None:
            continue
        fmt = driver.get("type", "raw") if driver is not None else "raw"
        out.append(DiskInfo(target.get("dev", ""), source.get("file", ""), fmt))
    return out


def disk_xml(disk: DiskInfo) -> str:
    """A qcow2 file disk on the virtio bus."""
    root = ET.Element("disk", type="file", device="disk")
    ET.SubElement(root, "driver", name="qemu", type=disk.format)
    ET.SubElement(root, "source", file=disk.path)
    ET.SubElement(root, "target", dev=disk.target, bus="virtio")
    return _tostring(root)


def domain_xml(name: str, *, domain_type: str, cpus: int, memory_mib: int,
               disks: list[DiskInfo], agent: bool) -> str:
    """A minimal persistent domain: the disks, a guest-agent channel, no network."""
    root = ET.Element("domain", type=domain_type)
    ET.SubElement(root, "name").text = name
    ET.SubElement(root, "memory", unit="MiB").text = str(memory_mib)
    ET.SubElement(root, "vcpu").text = str(cpus)
    os_el = ET.SubElement(root, "os")
    ET.SubElement(os_el, "type", arch="x86_64", machine="pc").text = "hvm"
    ET.SubElement(os_el, "boot", dev="hd")
    features = ET.SubElement(root, "features")
    ET.SubElement(features, "acpi")
    devices = ET.SubElement(root, "devices")
    for disk in disks:
        devices.append(ET.fromstring(disk_xml(disk)))  # noqa: S314 - built just above
    if agent:
        channel = ET.SubElement(devices, "channel", type="unix")
        ET.SubElement(channel, "target", type="virtio", name="org.qemu.guest_agent.0")
    ET.SubElement(devices, "memballoon", model="none")
    return _tostring(root)


def disk_aliases(domain_xml_text: str) -> dict[str, str]:
    """Image path -> device alias (``virtio-disk0``) in a running domain's XML."""
    root = ET.fromstring(domain_xml_text)  # noqa: S314 - libvirt's own XML
    out = {}
    for disk in root.findall("./devices/disk"):
        source, alias = disk.find("source"), disk.find("alias")
        if source is not None and alias is not None and source.get("file"):
            out[source.get("file", "")] = alias.get("name", "")
    return out
