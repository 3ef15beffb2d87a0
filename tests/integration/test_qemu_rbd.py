"""Instance snapshots of a real QEMU guest whose disk is a Ceph RBD image on a real one-node
cluster: live memory snapshots (the memory state in the configured file pool, the disks as
RBD snapshots taken at the same instant), quiesce, disk snapshots of the stopped VM,
reverts and deletes in several orders, with data in the guest's RAM and on its disk read
back through the agent. Correctness only."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from collections.abc import Iterator
from typing import Any

import libvirt
import pytest

from contract_tests.waiting import wait_until
from driver.app import create_app, make_hypervisor
from driver.hypervisors.base import MEMORY_STATE
from driver.hypervisors.libvirt import memstate
from driver.journal import Journal
from driver.paths import STATE_SUFFIX
from driver.storage.rbd import RbdImage
from driver.store import Database
from tests import agentjson as aj
from tests.integration.conftest import guest_dir
from tests.integration.qemu import QemuVM
from tests.support.driver import AgentClient, make_disk

pytestmark = [pytest.mark.qemu, pytest.mark.agent, pytest.mark.ceph]

RAM = "dd if=/dev/urandom of=/tmp/r bs=1M count=8 2>/dev/null; md5sum /tmp/r"
DISK = "echo {text} > /mnt/data/marker; sync; cat /mnt/data/marker"


class RbdGuest(QemuVM):
    """The agent guest booted from an RBD image (converted from the guest's data disk)."""

    def __init__(self, conn: Any, pool: str, cluster: Any, *, rbd_data: int = 0,
                 qcow2_data: int = 0) -> None:
        self.name = f"i-8-{os.getpid()}{id(self) % 10000}-VM"
        self.pool = pool
        self.cluster = cluster
        self.image = RbdImage(cluster.pool, f"{self.name}-root")
        host, port = cluster.monitor
        cluster.run("qemu-img", "convert", "-O", "raw",
                    os.path.join(guest_dir(), "data.qcow2"),
                    f"rbd:{self.image.spec}:mon_host={host}\\:{port}", timeout=120)
        self.disks = [self.image.path]
        # data disks after the root: RBD images, then qcow2 files in the test's pool
        self.data_images = [RbdImage(cluster.pool, f"{self.name}-data{i}")
                            for i in range(rbd_data)]
        self.files = [make_disk(pool, f"{self.name}-file{i}.qcow2", "8M")
                      for i in range(qcow2_data)]
        extra = ""
        for i, image in enumerate(self.data_images):
            cluster.run("rbd", "create", "--size", "8M", image.spec)
            extra += ("<disk type='network' device='disk'><driver name='qemu' type='raw'/>"
                      f"<source protocol='rbd' name='{image.spec}'><host name='{host}' "
                      f"port='{port}'/></source><target dev='vd{chr(98 + i)}' bus='virtio'/>"
                      "</disk>")
        for i, path in enumerate(self.files, start=1 + rbd_data):
            extra += (f"<disk type='file' device='disk'><driver name='qemu' type='qcow2'/>"
                      f"<source file='{path}'/><target dev='vd{chr(97 + i)}' bus='virtio'/>"
                      "</disk>")
        src = guest_dir()
        xml = (
            f"<domain type='qemu'><name>{self.name}</name><memory unit='MiB'>256</memory>"
            "<vcpu>1</vcpu><os><type arch='x86_64' machine='pc'>hvm</type>"
            f"<kernel>{src}/vmlinuz</kernel><initrd>{src}/initrd.gz</initrd>"
            "<cmdline>console=ttyS0 panic=-1 quiet</cmdline></os><features><acpi/></features>"
            "<devices><emulator>/usr/bin/qemu-system-x86_64</emulator>"
            "<disk type='network' device='disk'><driver name='qemu' type='raw' "
            f"cache='writeback'/><source protocol='rbd' name='{self.image.spec}'>"
            f"<host name='{host}' port='{port}'/></source><target dev='vda' bus='virtio'/>"
            f"</disk>{extra}<channel type='unix'><target type='virtio' "
            "name='org.qemu.guest_agent.0'/></channel><memballoon model='none'/>"
            "</devices></domain>")
        self.dom = conn.defineXML(xml)

    def volumes(self) -> list[dict[str, Any]]:
        out = []
        for device, image in enumerate([self.image, *self.data_images]):
            volume = aj.volume(os.path.join(self.pool, "unused"), self.pool, vm=self.name,
                               device=device, kind="DATADISK" if device else "ROOT")
            store = volume["dataStore"]["org.apache.cloudstack.storage.to.PrimaryDataStoreTO"]
            store.update(poolType="RBD", path=self.cluster.pool,
                         host=self.cluster.monitor[0], port=self.cluster.monitor[1])
            volume["path"] = image.name
            out.append(volume)
        return out + [aj.volume(path, self.pool, vm=self.name, device=len(out) + i,
                                kind="DATADISK") for i, path in enumerate(self.files)]

    def rbd_snapshots(self, image: RbdImage | None = None) -> list[str]:
        return [line.split()[1] for line in self.cluster.run(
            "rbd", "snap", "ls", (image or self.image).spec).splitlines()[1:]
            if line.strip()]

    def file_tags(self, path: str) -> list[str]:
        out = subprocess.run(["qemu-img", "info", "-U", "--output=json", path], check=True,
                             capture_output=True, text=True).stdout
        return [s["name"] for s in json.loads(out).get("snapshots", [])]

    def holds(self, disk: int, byte: int) -> bool:
        """Whether the first 64 KiB of disk ``disk`` (device order) hold ``byte``, read by
        the guest from the device (its caches dropped first)."""
        out = self.sh(f"echo 3 > /proc/sys/vm/drop_caches; dd if=/dev/vd{chr(97 + disk)} "
                      "bs=65536 count=1 2>/dev/null | md5sum")
        return out.split()[0] == hashlib.md5(bytes([byte]) * 65536).hexdigest()  # noqa: S324

    def remove(self) -> None:
        super().remove()
        for image in [self.image, *self.data_images]:
            try:
                self.cluster.run("rbd", "snap", "purge", image.spec)
                self.cluster.run("rbd", "rm", image.spec)
            except RuntimeError:
                pass


@pytest.fixture
def rbd_guest(qemu_conn: Any, pool: str, ceph_cluster: Any) -> Iterator[RbdGuest]:
    vm = RbdGuest(qemu_conn, pool, ceph_cluster)
    vm.start()
    vm.wait_for_agent()
    yield vm
    vm.remove()


@pytest.fixture
def rbd_settings(settings: Any, libvirtd: str, pool: str, ceph_cluster: Any) -> Any:
    memory_dir = os.path.join(pool, "memory")
    os.makedirs(memory_dir)
    host, port = ceph_cluster.monitor
    return settings.with_overrides(libvirt_uri=libvirtd, rbd_pools=[ceph_cluster.pool],
                                   ceph_monitors=f"{host}:{port}", rbd_memory_dir=memory_dir)


@pytest.fixture
def agent(rbd_settings: Any) -> Iterator[AgentClient]:
    host = make_hypervisor(rbd_settings)
    yield AgentClient(create_app(rbd_settings, host).test_client())
    host.close()


def state_files(settings: Any) -> list[str]:
    return sorted(os.listdir(settings.rbd_memory_dir))


def test_live_memory_snapshots_on_rbd_revert_ram_and_disk(agent, rbd_guest, rbd_settings):
    vm = rbd_guest
    ram1 = vm.sh(RAM).split()[0]
    vm.sh(DISK.format(text="one"))
    first = agent.ok(aj.create(vm.name, "m1", vm.volumes(), type="DiskAndMemory",
                               quiesce=True))
    assert first["memoryCapture"] == "background-snapshot"
    assert first["freezeWindowMs"] > 0 and first["guestPauseMs"] > 0
    assert vm.agent("guest-fsfreeze-status") == "thawed"
    ram2 = vm.sh(RAM).split()[0]
    vm.sh(DISK.format(text="two"))
    agent.ok(aj.create(vm.name, "m2", vm.volumes(), type="DiskAndMemory", parents=["m1"]))
    assert vm.rbd_snapshots() == ["m1", "m2"]
    assert state_files(rbd_settings) == [f"{vm.name}@m1{STATE_SUFFIX}",
                                         f"{vm.name}@m2{STATE_SUFFIX}"]
    # the sizes count the RBD snapshots and the memory state kept for the VM
    assert first["volumeTOs"][0]["size"] > 0
    vm.sh(DISK.format(text="three"))

    answer = agent.ok(aj.revert(vm.name, "m1", vm.volumes(), type="DiskAndMemory"))
    assert answer["vmState"] == "PowerOn" and vm.running
    vm.wait_for_agent()
    assert vm.sh("md5sum /tmp/r").split()[0] == ram1
    assert vm.sh("cat /mnt/data/marker").strip() == "one"
    assert vm.agent("guest-fsfreeze-status") == "thawed"  # captured frozen, thawed after

    agent.ok(aj.revert(vm.name, "m2", vm.volumes(), type="DiskAndMemory"))  # the newer branch
    vm.wait_for_agent()
    assert vm.sh("md5sum /tmp/r").split()[0] == ram2
    assert vm.sh("cat /mnt/data/marker").strip() == "two"

    agent.ok(aj.delete(vm.name, "m1", vm.volumes(), type="DiskAndMemory"))  # oldest first
    agent.ok(aj.delete(vm.name, "m2", vm.volumes(), type="DiskAndMemory"))
    assert vm.rbd_snapshots() == [] and state_files(rbd_settings) == []


def test_several_rbd_disks_and_a_qcow2_disk_are_captured_at_one_instant(
        agent, qemu_conn, pool, ceph_cluster):
    """Two RBD disks beside the RBD root, and a qcow2 disk: each snapshot holds every disk
    (and the memory) as it was at one instant, whatever their storage."""
    vm = RbdGuest(qemu_conn, pool, ceph_cluster, rbd_data=2, qcow2_data=1)
    try:
        vm.start()
        vm.wait_for_agent()
        data = [1, 2, 3]  # vdb and vdc on RBD, vdd a qcow2 file
        for disk in data:
            vm.write(disk, 0x11)
        ram1 = vm.sh(RAM).split()[0]
        agent.ok(aj.create(vm.name, "m1", vm.volumes(), type="DiskAndMemory", quiesce=True))
        for disk in data:
            vm.write(disk, 0x22)
        agent.ok(aj.create(vm.name, "d2", vm.volumes(), parents=["m1"]))  # QMP, running
        for disk in data:
            vm.write(disk, 0x33)
        assert not any(vm.holds(disk, 0x11) for disk in data)  # the read really checks
        for image in [vm.image, *vm.data_images]:
            assert vm.rbd_snapshots(image) == ["m1", "d2"]
        assert vm.file_tags(vm.files[0]) == ["m1", "d2"]

        agent.ok(aj.revert(vm.name, "m1", vm.volumes(), type="DiskAndMemory"))
        vm.wait_for_agent()
        assert [vm.holds(disk, 0x11) for disk in data] == [True] * 3
        assert vm.sh("md5sum /tmp/r").split()[0] == ram1

        vm.stop()
        agent.ok(aj.revert(vm.name, "d2", vm.volumes()))
        vm.start()
        vm.wait_for_agent()
        assert [vm.holds(disk, 0x22) for disk in data] == [True] * 3

        agent.ok(aj.delete(vm.name, "m1", vm.volumes(), type="DiskAndMemory"))
        agent.ok(aj.delete(vm.name, "d2", vm.volumes()))
        for image in [vm.image, *vm.data_images]:
            assert vm.rbd_snapshots(image) == []
        assert vm.file_tags(vm.files[0]) == []
    finally:
        vm.remove()


def test_disk_snapshots_of_a_vm_on_rbd_running_and_stopped(agent, rbd_guest):
    vm = rbd_guest
    vm.sh(DISK.format(text="running-snap"))
    agent.ok(aj.create(vm.name, "d1", vm.volumes(), quiesce=True))  # QMP, while it runs
    vm.sh(DISK.format(text="later"))
    vm.stop()
    agent.ok(aj.create(vm.name, "d2", vm.volumes(), parents=["d1"]))  # rbd, stopped
    assert vm.rbd_snapshots() == ["d1", "d2"]
    agent.ok(aj.revert(vm.name, "d1", vm.volumes()))
    vm.start()
    vm.wait_for_agent()
    assert vm.sh("cat /mnt/data/marker").strip() == "running-snap"
    vm.stop()
    agent.ok(aj.delete(vm.name, "d1", vm.volumes()))  # the parent: d2 is unchanged
    agent.ok(aj.revert(vm.name, "d2", vm.volumes()))
    vm.start()
    vm.wait_for_agent()
    assert vm.sh("cat /mnt/data/marker").strip() == "later"
    assert vm.rbd_snapshots() == ["d2"]


def test_memory_snapshot_on_rbd_without_a_memory_dir_is_refused_and_changes_nothing(
        rbd_settings, rbd_guest):
    host = make_hypervisor(rbd_settings.with_overrides(rbd_memory_dir=""))
    agent = AgentClient(create_app(rbd_settings.with_overrides(rbd_memory_dir=""),
                                   host).test_client())
    try:
        answer = agent.one(aj.create(rbd_guest.name, "x1", rbd_guest.volumes(),
                                     type="DiskAndMemory"))
        assert answer["result"] is False and "needs rbd_memory_pool or rbd_memory_dir" in \
            answer["details"]
        assert rbd_guest.rbd_snapshots() == []
        assert rbd_guest.dom.state()[0] == libvirt.VIR_DOMAIN_RUNNING
    finally:
        host.close()


def test_recovery_after_a_kill_during_a_live_capture_on_rbd(tmp_path, pool, libvirtd,
                                                             ceph_cluster, rbd_guest):
    from tests.integration.test_qemu_crash import Driver

    vm = rbd_guest
    memory_dir = os.path.join(pool, "memory")
    os.makedirs(memory_dir)
    host, port = ceph_cluster.monitor
    driver = Driver(tmp_path, pool, VMSNAP_RBD_POOLS=ceph_cluster.pool,
                    VMSNAP_CEPH_MONITORS=f"{host}:{port}", VMSNAP_RBD_MEMORY_DIR=memory_dir,
                    VMSNAP_MEMORY_CAPTURE="background-snapshot", VMSNAP_LIVE_BANDWIDTH_MIB="2")
    try:
        driver.start(hold="copy-running")
        driver.post_in_background(aj.create(vm.name, "k1", vm.volumes(), type="DiskAndMemory",
                                            quiesce=True))
        wait_until(lambda: os.path.exists(driver.env["HOLD_FILE"]), 120, interval=0.05,
                   message="the capture to be under way")
        assert vm.agent("guest-fsfreeze-status") == "frozen"
        assert vm.rbd_snapshots() == ["k1"] and os.listdir(memory_dir)  # half made
        driver.kill()

        driver.start()  # recovery runs before the driver serves
        assert vm.qmp("query-status")["running"] is True
        assert vm.agent("guest-fsfreeze-status") == "thawed"
        assert vm.rbd_snapshots() == [] and os.listdir(memory_dir) == []
        db = Database(str(tmp_path / "data" / "driver.sqlite3"))
        assert Journal(db).unfinished() == []
        answer = driver.post(aj.create(vm.name, "k2", vm.volumes(), type="DiskAndMemory"))
        assert answer["result"] is True, answer["details"]
        assert vm.rbd_snapshots() == ["k2"]
        assert os.listdir(memory_dir) == [f"{vm.name}@k2{STATE_SUFFIX}"]
    finally:
        driver.stop()


def test_what_the_host_holds_on_rbd_and_volume_snapshots_kept_apart(
        rbd_settings, rbd_guest):
    """Reconcile's view of a VM on RBD: its VM snapshots on the image and its memory state
    file; a CloudStack volume snapshot of the same image is not taken for a VM snapshot."""
    vm = rbd_guest
    host = make_hypervisor(rbd_settings)
    agent = AgentClient(create_app(rbd_settings, host).test_client())
    try:
        agent.ok(aj.create(vm.name, "h1", vm.volumes(), type="DiskAndMemory"))
        size = host.snapshot_volume(vm.image.path, "nightly")
        assert size >= 0 and vm.rbd_snapshots() == ["h1", "volume-nightly"]
        held = host.guest(vm.name).held_snapshots()
        assert held == {"h1": {vm.image.path, MEMORY_STATE}}
        host.delete_volume_snapshot(vm.image.path, "nightly")
        assert vm.rbd_snapshots() == ["h1"]
    finally:
        host.close()


def test_volume_snapshots_of_an_rbd_volume_are_named_afresh_and_deleted_by_path(
        agent, rbd_guest):
    """CloudStack's CreateObjectCommand of a volume snapshot, twice under one name: two
    snapshots of the image, each named by the path the answer gives, each deleted by it."""
    vm = rbd_guest
    volume = vm.volumes()[0]

    def command(kind: str, path: str | None) -> dict[str, Any]:
        return {aj.STORAGE + kind: {"data": {aj.SNAPSHOT_TO: {
            "name": "nightly", "path": path, "id": 7, "volume": volume}}, "contextMap": {}}}

    paths = [next(iter(agent.ok(command("CreateObjectCommand", None))["data"].values()))[
        "path"] for _ in range(2)]
    assert len(set(paths)) == 2 and "nightly" not in paths
    assert sorted(vm.rbd_snapshots()) == sorted(f"volume-{p}" for p in paths)
    agent.ok(command("DeleteCommand", paths[0]))
    assert vm.rbd_snapshots() == [f"volume-{paths[1]}"]
    agent.ok(command("DeleteCommand", paths[1]))
    assert vm.rbd_snapshots() == []


# --- memory states kept on the cluster (rbd_memory_pool) ------------------------------------


@pytest.fixture
def pool_agent(rbd_settings: Any) -> Iterator[AgentClient]:
    """The driver keeping memory states as images of the cluster's pool, no directory."""
    settings = rbd_settings.with_overrides(rbd_memory_dir="",
                                           rbd_memory_pool=rbd_settings.rbd_pools[0])
    host = make_hypervisor(settings)
    yield AgentClient(create_app(settings, host).test_client())
    host.close()


def state_images(vm: RbdGuest) -> list[str]:
    return sorted(n for n in vm.cluster.run("rbd", "ls", vm.cluster.pool).split()
                  if n.startswith(f"{vm.name}.vmstate."))


def test_memory_states_in_rbd_images_revert_ram_and_disk(pool_agent, rbd_guest):
    vm = rbd_guest
    ram1 = vm.sh(RAM).split()[0]
    vm.sh(DISK.format(text="one"))
    first = pool_agent.ok(aj.create(vm.name, "p1", vm.volumes(), type="DiskAndMemory",
                                    quiesce=True))
    assert first["memoryCapture"] == "background-snapshot"
    assert state_images(vm) == [f"{vm.name}.vmstate.p1"]  # committed, no partial left
    head = vm.cluster.run("sh", "-c", f"rbd export --no-progress {vm.cluster.pool}/"
                          f"{vm.name}.vmstate.p1 - | head -c 16", timeout=120)
    assert head.encode() == memstate.MAGIC_COMPLETE
    used = int(next(i["used_size"] for i in json.loads(vm.cluster.run(
        "rbd", "du", "--format", "json", f"{vm.cluster.pool}/{vm.name}.vmstate.p1"))["images"]))
    # the snapshot's size counts the state image (RAM) on top of the disk's own bytes
    assert first["volumeTOs"][0]["size"] >= used > 1 << 20
    ram2 = vm.sh(RAM).split()[0]
    vm.sh(DISK.format(text="two"))
    pool_agent.ok(aj.create(vm.name, "p2", vm.volumes(), type="DiskAndMemory",
                            parents=["p1"]))
    vm.sh(DISK.format(text="three"))

    pool_agent.ok(aj.revert(vm.name, "p1", vm.volumes(), type="DiskAndMemory"))
    vm.wait_for_agent()
    assert vm.sh("md5sum /tmp/r").split()[0] == ram1
    assert vm.sh("cat /mnt/data/marker").strip() == "one"
    assert vm.agent("guest-fsfreeze-status") == "thawed"
    pool_agent.ok(aj.revert(vm.name, "p2", vm.volumes(), type="DiskAndMemory"))
    vm.wait_for_agent()
    assert vm.sh("md5sum /tmp/r").split()[0] == ram2
    assert vm.sh("cat /mnt/data/marker").strip() == "two"

    pool_agent.ok(aj.delete(vm.name, "p2", vm.volumes(), type="DiskAndMemory"))  # newest first
    assert state_images(vm) == [f"{vm.name}.vmstate.p1"] and vm.rbd_snapshots() == ["p1"]
    pool_agent.ok(aj.delete(vm.name, "p1", vm.volumes(), type="DiskAndMemory"))
    assert state_images(vm) == [] and vm.rbd_snapshots() == []


def test_reconcile_sees_memory_state_images_and_a_stray_one(pool_agent, rbd_guest, tmp_path):
    vm = rbd_guest
    pool_agent.ok(aj.create(vm.name, "r1", vm.volumes(), type="DiskAndMemory"))
    stray = tmp_path / "stray"
    stray.write_bytes(b"x" * 4096)
    vm.cluster.run("rbd", "import", "--no-progress", str(stray),
                   f"{vm.cluster.pool}/{vm.name}.vmstate.r9.partial")  # a crash's leftover
    found = pool_agent.get("/v1/reconcile").get_json()["differences"]
    assert [(d["vm"], d["snapshot"], d["kind"]) for d in found] == [(vm.name, "r9", "orphan")]
    assert "memory-state" in found[0]["detail"]
    # r1's state gone: reconcile says its memory is missing, not that it is fine
    vm.cluster.run("rbd", "rm", "--no-progress", f"{vm.cluster.pool}/{vm.name}.vmstate.r1")
    kinds = {(d["snapshot"], d["kind"]) for d in
             pool_agent.get("/v1/reconcile").get_json()["differences"]}
    assert kinds == {("r9", "orphan"), ("r1", "memory-state-missing")}
    answer = pool_agent.one(aj.revert(vm.name, "r1", vm.volumes(), type="DiskAndMemory"))
    assert answer["result"] is False and vm.running  # refused before QEMU was stopped


def test_kill_during_a_capture_into_an_rbd_image_leaves_no_partial_image(
        tmp_path, pool, libvirtd, ceph_cluster, rbd_guest):
    from tests.integration.test_qemu_crash import Driver

    vm = rbd_guest
    host, port = ceph_cluster.monitor
    driver = Driver(tmp_path, pool, VMSNAP_RBD_POOLS=ceph_cluster.pool,
                    VMSNAP_CEPH_MONITORS=f"{host}:{port}",
                    VMSNAP_RBD_MEMORY_POOL=ceph_cluster.pool,
                    VMSNAP_MEMORY_CAPTURE="background-snapshot", VMSNAP_LIVE_BANDWIDTH_MIB="2")
    try:
        driver.start(hold="copy-running")
        driver.post_in_background(aj.create(vm.name, "k1", vm.volumes(), type="DiskAndMemory",
                                            quiesce=True))
        wait_until(lambda: os.path.exists(driver.env["HOLD_FILE"]), 120, interval=0.05,
                   message="the capture to be under way")
        assert vm.rbd_snapshots() == ["k1"]
        assert state_images(vm) == [f"{vm.name}.vmstate.k1.partial"]  # being streamed
        driver.kill()

        driver.start()  # recovery runs before the driver serves
        assert vm.qmp("query-status")["running"] is True
        assert vm.agent("guest-fsfreeze-status") == "thawed"
        assert vm.rbd_snapshots() == [] and state_images(vm) == []
        answer = driver.post(aj.create(vm.name, "k2", vm.volumes(), type="DiskAndMemory"))
        assert answer["result"] is True, answer["details"]
        assert state_images(vm) == [f"{vm.name}.vmstate.k2"]
    finally:
        driver.stop()
