"""The lab on Ceph: the simulator driving real QEMU with every volume on an RBD pool of a
real one-node cluster. First what lands where (images, RBD snapshots, memory state images) for
one VM through the API, then the whole contract suite against that lab in a process of its
own, leaving nothing on the cluster."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import pytest

from contract_tests.client import Client
from simulator.app import ThreadedServer
from simulator.config import load_config
from tests.support import lab_ceph

pytestmark = [pytest.mark.qemu, pytest.mark.ceph]


def images(cluster: Any) -> set[str]:
    return set(json.loads(cluster.run("rbd", "ls", "--format", "json", cluster.pool)))


def snapshots(cluster: Any, image: str) -> list[str]:
    out = json.loads(cluster.run("rbd", "snap", "ls", "--format", "json",
                                 f"{cluster.pool}/{image}"))
    return [s["name"] for s in out]


def test_the_lab_keeps_volumes_and_snapshots_on_rbd(tmp_path: Path, libvirtd: str,
                                                    ceph_cluster: Any) -> None:
    world = lab_ceph.write_world(tmp_path, ceph_cluster)
    config = load_config(str(world), environ={}, data_dir=str(tmp_path / "sim"),
                         driver_backend="libvirt", libvirt_uri=libvirtd)
    with ThreadedServer(config) as sim:
        key, secret = sim.manager.accounts.admin_keys()
        api = Client(sim.endpoint, key, secret, poll=0.05)
        [pool] = api.list("listStoragePools", "storagepool")
        assert (pool["type"], pool["path"]) == ("RBD", ceph_cluster.pool)
        vm = api.run("deployVirtualMachine",
                     zoneid=api.list("listZones", "zone")[0]["id"],
                     templateid=api.list("listTemplates", "template",
                                         templatefilter="featured")[0]["id"],
                     serviceofferingid=api.list("listServiceOfferings",
                                                "serviceoffering")[0]["id"],
                     diskofferingid=api.list("listDiskOfferings", "diskoffering")[0]["id"],
                     name="lab-ceph")["virtualmachine"]
        try:
            volumes = api.list("listVolumes", "volume", virtualmachineid=vm["id"])
            assert {v["storageid"] for v in volumes} == {pool["id"]}
            paths = {v["path"] for v in volumes}
            assert paths <= images(ceph_cluster)
            snap = api.run("createVMSnapshot", virtualmachineid=vm["id"],
                           snapshotmemory=True)["vmsnapshot"]
            assert (snap["type"], snap["state"]) == ("DiskAndMemory", "Ready")
            for path in paths:  # one RBD snapshot per disk, taken at one instant
                assert len(snapshots(ceph_cluster, path)) == 1
            # the memory state: an image of the same pool, none in the file pool
            assert len([i for i in images(ceph_cluster) if ".vmstate." in i]) == 1
            assert not os.path.exists(config.memory_dir) or os.listdir(config.memory_dir) == []
            api.run("revertToVMSnapshot", vmsnapshotid=snap["id"])
            assert api.list("listVirtualMachines", "virtualmachine",
                            id=vm["id"])[0]["state"] == "Running"
            api.run("deleteVMSnapshot", vmsnapshotid=snap["id"])
            assert all(snapshots(ceph_cluster, p) == [] for p in paths)
            assert not [i for i in images(ceph_cluster) if ".vmstate." in i]
        finally:
            api.run("destroyVirtualMachine", id=vm["id"], expunge=True)
            for volume in api.list("listVolumes", "volume", listall=True):
                api.call("deleteVolume", id=volume["id"])
        assert not paths & images(ceph_cluster)


def test_the_contract_suite_passes_against_the_lab_on_ceph(tmp_path: Path, libvirtd: str,
                                                           ceph_cluster: Any) -> None:
    before = images(ceph_cluster)
    proc = lab_ceph.run_contract_suite(lab_ceph.write_target(tmp_path, ceph_cluster))
    lines = proc.stdout.strip().splitlines()
    outcome = [line for line in lines if line.startswith(("FAILED", "ERROR", "E  "))]
    assert proc.returncode == 0, "\n".join(outcome + lines[-3:]) + proc.stderr[-2000:]
    summary = lines[-1]
    assert re.search(r"\d+ passed", summary) and "failed" not in summary, summary
    # Skips only for the capabilities the BIOS-only lab guests lack, as in the qcow2 lab.
    skipped = [line for line in lines if line.startswith("SKIPPED")]
    assert all("lacks capability" in line for line in skipped), skipped
    # Every volume and snapshot the suite made is gone from the cluster again.
    assert images(ceph_cluster) == before
