"""libvirt's built-in ``test:///default`` driver: real libvirt API semantics, in-process.

Its state is shared by every connection in this process until the last handle goes away,
so each test defines uniquely named domains and removes them afterwards.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

import pytest

libvirt = pytest.importorskip("libvirt")

from driver.app import create_app  # noqa: E402
from driver.hypervisors.libvirt import LibvirtHost  # noqa: E402
from tests import agentjson  # noqa: E402
from tests.support.driver import AgentClient, make_disk  # noqa: E402

pytestmark = pytest.mark.libvirt
_names = itertools.count(1)


def domain_xml(name: str, disks: list[str], kind: str = "test") -> str:
    devs = "".join(
        f"<disk type='file' device='disk'><driver name='qemu' type='qcow2'/>"
        f"<source file='{path}'/><target dev='vd{chr(97 + i)}' bus='virtio'/></disk>"
        for i, path in enumerate(disks)
    )
    return (f"<domain type='{kind}'><name>{name}</name><memory unit='MiB'>128</memory>"
            f"<vcpu>1</vcpu><os><type arch='x86_64'>hvm</type></os><devices>{devs}</devices>"
            f"</domain>")


class TestVM:
    """A domain on the test driver with real qcow2 images in the pool."""

    def __init__(self, conn: Any, pool: str, ndisks: int = 1, running: bool = True) -> None:
        self.name = f"i-2-{next(_names)}-VM"
        self.pool = pool
        self.disks = [make_disk(pool, f"{self.name}-{i}.qcow2") for i in range(ndisks)]
        self.dom = conn.defineXML(domain_xml(self.name, self.disks))
        if running:
            self.dom.create()

    def volumes(self) -> list[dict[str, Any]]:
        return [agentjson.volume(p, self.pool, vm=self.name, device=i,
                                 kind="ROOT" if i == 0 else "DATADISK")
                for i, p in enumerate(self.disks)]

    def remove(self) -> None:
        try:
            if self.dom.isActive():
                self.dom.destroy()
            self.dom.undefineFlags(libvirt.VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA)
        except libvirt.libvirtError:
            pass


@pytest.fixture
def test_conn() -> Iterator[Any]:
    conn = libvirt.open("test:///default")
    yield conn
    conn.close()


@pytest.fixture
def vm_factory(test_conn: Any, pool: str) -> Iterator[Any]:
    made: list[TestVM] = []

    def make(ndisks: int = 1, running: bool = True) -> TestVM:
        vm = TestVM(test_conn, pool, ndisks, running)
        made.append(vm)
        return vm

    yield make
    for vm in made:
        vm.remove()


@pytest.fixture
def host() -> Iterator[LibvirtHost]:
    h = LibvirtHost("test:///default")
    yield h
    h.close()


@pytest.fixture
def agent(settings: Any, host: LibvirtHost) -> AgentClient:
    app = create_app(settings.with_overrides(libvirt_uri="test:///default"), host)
    return AgentClient(app.test_client())
