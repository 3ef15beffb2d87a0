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


def has_agent_channel(domain_xml: str) -> bool:
    root = ET.fromstring(domain_xml)  # noqa: S314 - libvirt's own XML
    return any(
        t.get("name") == "org.qemu.guest_agent.0"
        for t in root.findall("./devices/channel/target")
    )
