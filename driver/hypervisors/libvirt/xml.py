"""Libvirt XML, built and read with ElementTree so every name and text is escaped."""

from __future__ import annotations

import xml.etree.ElementTree as ET  # noqa: S405 - parses libvirt's own output only
from dataclasses import dataclass, field

from driver.hypervisors.base import DiskInfo
from driver.storage.rbd import SCHEME, RbdImage, is_rbd


@dataclass(frozen=True)
class CephAccess:
    """How QEMU reaches a Ceph cluster: its monitors and, with cephx, the user and the
    libvirt secret (usage type ceph) holding that user's key."""

    monitors: list[tuple[str, int]] = field(default_factory=list)
    user: str = ""
    secret_uuid: str = ""

    @classmethod
    def parse(cls, monitors: str, user: str = "", secret_uuid: str = "") -> CephAccess:
        """From ``host:port[,host:port]`` (port 6789 when left out)."""
        out = []
        for item in filter(None, (m.strip() for m in monitors.split(","))):
            host, _, port = item.rpartition(":") if ":" in item else (item, "", "6789")
            out.append((host or item, int(port or 6789)))
        return cls(out, user, secret_uuid)


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


def rbd_url(image: RbdImage, ceph: CephAccess | None) -> str:
    """QEMU's ``rbd:`` filename for an image (what qemu-img and qemu-io open)."""
    url = f"{SCHEME}{image.spec}"
    if ceph is not None and ceph.monitors:
        hosts = "\\;".join(f"{h}\\:{p}" for h, p in ceph.monitors)
        url += f":mon_host={hosts}"
    if ceph is not None and ceph.user:
        url += f":id={ceph.user}"
    return url


def _source_path(source: ET.Element) -> str | None:
    """A disk source as the driver names it: the file, or ``rbd:<pool>/<image>``."""
    if source.get("file") is not None:
        return source.get("file")
    if source.get("protocol") == "rbd" and source.get("name"):
        return f"{SCHEME}{source.get('name')}"
    return None


def domain_disks(domain_xml: str) -> list[DiskInfo]:
    """Disks (device='disk', a file or an RBD image) of a domain, from its XML."""
    root = ET.fromstring(domain_xml)  # noqa: S314 - libvirt's own XML
    out = []
    for disk in root.findall("./devices/disk"):
        if disk.get("device", "disk") != "disk":
            continue
        source = disk.find("source")
        target = disk.find("target")
        driver = disk.find("driver")
        path = _source_path(source) if source is not None else None
        if path is None or target is None:
            continue
        fmt = driver.get("type", "raw") if driver is not None else "raw"
        out.append(DiskInfo(target.get("dev", ""), path, fmt))
    return out


def disk_xml(disk: DiskInfo, ceph: CephAccess | None = None) -> str:
    """A disk on the virtio bus: a file, or (``rbd:<pool>/<image>``) a raw RBD image
    reached through ``ceph``'s monitors."""
    if not is_rbd(disk.path):
        root = ET.Element("disk", type="file", device="disk")
        ET.SubElement(root, "driver", name="qemu", type=disk.format)
        ET.SubElement(root, "source", file=disk.path)
        ET.SubElement(root, "target", dev=disk.target, bus="virtio")
        return _tostring(root)
    image = RbdImage.parse(disk.path)
    ceph = ceph or CephAccess()
    root = ET.Element("disk", type="network", device="disk")
    ET.SubElement(root, "driver", name="qemu", type="raw", cache="writeback")
    if ceph.user:
        auth = ET.SubElement(root, "auth", username=ceph.user)
        ET.SubElement(auth, "secret", type="ceph", uuid=ceph.secret_uuid)
    source = ET.SubElement(root, "source", protocol="rbd", name=image.spec)
    for host, port in ceph.monitors:
        ET.SubElement(source, "host", name=host, port=str(port))
    ET.SubElement(root, "target", dev=disk.target, bus="virtio")
    return _tostring(root)


def domain_xml(name: str, *, domain_type: str, cpus: int, memory_mib: int,
               disks: list[DiskInfo], agent: bool, ceph: CephAccess | None = None,
               uuid: str | None = None) -> str:
    """A minimal persistent domain: the disks, a guest-agent channel, no network (``uuid``:
    that of the definition it replaces)."""
    root = ET.Element("domain", type=domain_type)
    ET.SubElement(root, "name").text = name
    if uuid:
        ET.SubElement(root, "uuid").text = uuid
    ET.SubElement(root, "memory", unit="MiB").text = str(memory_mib)
    ET.SubElement(root, "vcpu").text = str(cpus)
    os_el = ET.SubElement(root, "os")
    ET.SubElement(os_el, "type", arch="x86_64", machine="pc").text = "hvm"
    ET.SubElement(os_el, "boot", dev="hd")
    features = ET.SubElement(root, "features")
    ET.SubElement(features, "acpi")
    devices = ET.SubElement(root, "devices")
    for disk in disks:
        devices.append(ET.fromstring(disk_xml(disk, ceph)))  # noqa: S314 - built just above
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
        path = _source_path(source) if source is not None else None
        if path and alias is not None:
            out[path] = alias.get("name", "")
    return out
