"""Model-based random sequences on real storage: a stopped VM on the real libvirtd whose
disk is a qcow2 file or an RBD image, driven through the driver with random writes,
creates, reverts and deletes; after every step the driver's tree and, after every revert,
every block of the disk are compared with a model. The seeds are fixed, so a failure
replays."""

from __future__ import annotations

import os
import random
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest

from driver.app import create_app, make_hypervisor
from driver.storage.rbd import RbdImage
from tests import agentjson as aj
from tests.support.driver import AgentClient, make_disk

pytestmark = pytest.mark.qemu

BLOCKS = 6
BLOCK = 64 << 10
STEPS = 40


class Disk:
    """A stopped VM's one disk, read and written with qemu-io."""

    def __init__(self, target: str, fmt: str) -> None:
        self.target, self.fmt = target, fmt

    def _io(self, command: str) -> bool:
        proc = subprocess.run(["qemu-io", "-f", self.fmt, "-c", command, self.target],
                              capture_output=True, text=True, check=False)
        out = (proc.stdout + proc.stderr).lower()
        return proc.returncode == 0 and "fail" not in out

    def write(self, block: int, byte: int) -> None:
        assert self._io(f"write -P {byte} {block * BLOCK} {BLOCK}")

    def holds(self, block: int, byte: int) -> bool:
        return self._io(f"read -P {byte} {block * BLOCK} {BLOCK}")


@pytest.fixture(params=["qcow2", "rbd"])
def storage(request: Any, qemu_conn: Any, pool: str, settings: Any,
            libvirtd: str) -> Iterator[tuple[Any, str, list[dict[str, Any]], Disk]]:
    """A defined, stopped domain with one disk on the storage under test; the driver
    settings for it; the disk's volume; and the disk."""
    name = f"i-9-{os.getpid()}{request.param}-VM"
    if request.param == "qcow2":
        path = make_disk(pool, "model.qcow2", "8M")
        source = (f"<disk type='file' device='disk'><driver name='qemu' type='qcow2'/>"
                  f"<source file='{path}'/><target dev='vda' bus='virtio'/></disk>")
        volumes = [aj.volume(path, pool, vm=name)]
        tuned = settings.with_overrides(libvirt_uri=libvirtd)
        disk = Disk(path, "qcow2")
        cleanup: Any = None
    else:
        cluster = request.getfixturevalue("ceph_cluster")
        host, port = cluster.monitor
        image = RbdImage(cluster.pool, f"{name}-root")
        cluster.run("rbd", "create", "--size", "8M", image.spec)
        source = ("<disk type='network' device='disk'><driver name='qemu' type='raw'/>"
                  f"<source protocol='rbd' name='{image.spec}'><host name='{host}' "
                  f"port='{port}'/></source><target dev='vda' bus='virtio'/></disk>")
        volume = aj.volume(os.path.join(pool, "x"), pool, vm=name)
        volume["dataStore"]["org.apache.cloudstack.storage.to.PrimaryDataStoreTO"].update(
            poolType="RBD", path=cluster.pool)
        volume["path"] = image.name
        volumes = [volume]
        tuned = settings.with_overrides(libvirt_uri=libvirtd, rbd_pools=[cluster.pool],
                                        ceph_monitors=f"{host}:{port}")
        disk = Disk(f"rbd:{image.spec}:mon_host={host}\\:{port}", "raw")

        def cleanup() -> None:
            cluster.run("rbd", "snap", "purge", image.spec)
            cluster.run("rbd", "rm", image.spec)

    dom = qemu_conn.defineXML(
        f"<domain type='qemu'><name>{name}</name><memory unit='MiB'>64</memory><vcpu>1</vcpu>"
        "<os><type arch='x86_64' machine='pc'>hvm</type></os><devices>"
        f"{source}</devices></domain>")
    host_ = make_hypervisor(tuned)
    try:
        yield AgentClient(create_app(tuned, host_).test_client()), name, volumes, disk
    finally:
        host_.close()
        dom.undefine()
        if cleanup is not None:
            cleanup()


@pytest.mark.parametrize("seed", [7, 1234])
def test_random_sequences_match_the_model(storage, seed):
    agent, vm, volumes, disk = storage
    rng = random.Random(seed)
    live = [0] * BLOCKS  # the disk's blocks now (byte values)
    snaps: dict[str, list[int]] = {}  # name -> the blocks it holds
    parent: dict[str, str | None] = {}
    current: str | None = None
    made = 0
    for _ in range(STEPS):
        op = rng.choice(["write", "write", "create", "create", "revert", "delete"])
        if op == "write":
            block, byte = rng.randrange(BLOCKS), rng.randrange(1, 255)
            disk.write(block, byte)
            live[block] = byte
        elif op == "create":
            made += 1
            name = f"s{made}"
            agent.ok(aj.create(vm, name, volumes, parents=[current] if current else None))
            snaps[name], parent[name], current = list(live), current, name
        elif op == "revert" and snaps:
            name = rng.choice(sorted(snaps))
            agent.ok(aj.revert(vm, name, volumes))
            live, current = list(snaps[name]), name
            assert all(disk.holds(b, live[b]) for b in range(BLOCKS)), (seed, name, live)
        elif op == "delete" and snaps:
            name = rng.choice(sorted(snaps))
            agent.ok(aj.delete(vm, name, volumes))
            for child in [c for c, p in parent.items() if p == name]:
                parent[child] = parent[name]
            if current == name:
                current = parent[name]
            del snaps[name], parent[name]
        view = agent.get(f"/v1/vms/{vm}/snapshots").get_json()
        assert view["current"] == current, (seed, op)
        assert {s["name"]: s["parent"] for s in view["snapshots"]} == parent, (seed, op)
    for name in sorted(snaps):  # every snapshot left still restores what it held
        agent.ok(aj.revert(vm, name, volumes))
        assert all(disk.holds(b, snaps[name][b]) for b in range(BLOCKS)), (seed, name)
