"""Real libvirtd + QEMU: the session starts the daemon itself when none is running."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

libvirt = pytest.importorskip("libvirt")

from driver.app import create_app  # noqa: E402
from driver.hypervisors.libvirt import LibvirtHost  # noqa: E402
from tests.integration.qemu import URI, Daemon, QemuVM, copy_image, try_connect  # noqa: E402
from tests.support.driver import AgentClient, make_disk  # noqa: E402


def _unavailable(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"real-QEMU tests cannot run in CI: {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def libvirtd(tmp_path_factory: Any) -> Iterator[str]:
    conn = try_connect()
    if conn is not None:
        conn.close()
        yield URI
        return
    if not os.path.exists("/usr/sbin/libvirtd") or os.geteuid() != 0:
        _unavailable("no libvirtd binary, or not root (run `make test`)")
    daemon = Daemon(str(tmp_path_factory.mktemp("libvirtd")))
    daemon.start()
    yield URI
    daemon.stop()


@pytest.fixture
def qemu_conn(libvirtd: str) -> Iterator[Any]:
    conn = libvirt.open(libvirtd)
    yield conn
    conn.close()


@pytest.fixture
def qemu_vm(qemu_conn: Any, pool: str) -> Iterator[Any]:
    """Factory of plain TCG VMs (SeaBIOS, nothing to boot) with N qcow2 disks."""
    made: list[QemuVM] = []

    def make(ndisks: int = 1, size: str = "64M", **xml: Any) -> QemuVM:
        disks = [make_disk(pool, f"d{len(made)}-{i}.qcow2", size) for i in range(ndisks)]
        vm = QemuVM(qemu_conn, pool, disks, **xml)
        made.append(vm)
        return vm

    yield make
    for vm in made:
        vm.remove()


@pytest.fixture
def qemu_host(libvirtd: str) -> Iterator[LibvirtHost]:
    host = LibvirtHost(libvirtd, domain_type="qemu")  # TCG: no host needs /dev/kvm
    yield host
    host.close()


@pytest.fixture
def qemu_agent(settings: Any, qemu_host: LibvirtHost) -> AgentClient:
    return AgentClient(create_app(settings, qemu_host).test_client())


def guest_dir() -> str:
    path = os.environ.get("VMSNAP_GUEST_DIR", ".cache/guest")
    if not os.path.exists(os.path.join(path, "initrd.gz")):
        _unavailable(f"no guest image in {path} (scripts/build-guest.sh builds it)")
    return os.path.abspath(path)


@pytest.fixture
def agent_guest(qemu_conn: Any, pool: str) -> Iterator[QemuVM]:
    """A booted Linux guest with qemu-guest-agent and an ext4 data disk at /mnt/data."""
    src = guest_dir()
    disk = copy_image(os.path.join(src, "data.qcow2"), pool, "data.qcow2")
    vm = QemuVM(qemu_conn, pool, [disk], agent_channel=True, memory_mib=256,
                kernel=os.path.join(src, "vmlinuz"), initrd=os.path.join(src, "initrd.gz"),
                console=os.path.join(pool, "console.log"))
    vm.start()
    vm.wait_for_agent()
    yield vm
    vm.remove()
