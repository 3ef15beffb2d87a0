"""What a snapshot restores: disk bytes and memory, through chains, branches and deletes."""

from __future__ import annotations

import itertools

import pytest

pytestmark = pytest.mark.needs("guest_data")


def test_write_snapshot_change_revert_read_back(resources, snapshots, guest):
    vm = resources.vm(running=False, data_disk=True)
    guest.write(vm, b"root: version 1")
    guest.write(vm, b"data: version 1", device=1)
    snap = snapshots.create(vm)
    guest.write(vm, b"root: version 2")
    guest.write(vm, b"data: version 2", device=1)
    snapshots.revert(snap)
    assert guest.read(vm, 15) == b"root: version 1"
    assert guest.read(vm, 15, device=1) == b"data: version 1"


@pytest.mark.needs("memory_snapshots", "guest_memory")
def test_memory_snapshot_restores_disks_and_memory(resources, snapshots, guest):
    vm = resources.vm()
    guest.write(vm, b"on disk 1")
    guest.remember(vm, "marker", "in memory 1")
    snap = snapshots.create(vm, snapshotmemory=True)
    guest.write(vm, b"on disk 2")
    guest.remember(vm, "marker", "in memory 2")
    reverted = snapshots.revert(snap)
    assert reverted["state"] == "Running"
    assert guest.read(vm, 9) == b"on disk 1"
    assert guest.memory(vm) == {"marker": "in memory 1"}


def test_chains_and_branches_each_restore_their_own_state(resources, snapshots, guest):
    vm = resources.vm(running=False)
    states = {}
    for name in ("a", "b"):
        guest.write(vm, f"state {name}".encode())
        states[name] = snapshots.create(vm, name=name)
    snapshots.revert(states["a"])
    guest.write(vm, b"state c")
    states["c"] = snapshots.create(vm, name="c")  # a branch from a
    for name in ("b", "a", "c", "b"):
        snapshots.revert(states[name])
        assert guest.read(vm, 7) == f"state {name}".encode()


@pytest.mark.parametrize("order", list(itertools.permutations("abc"))[::2])
def test_deletes_in_any_order_keep_what_the_others_restore(resources, snapshots, guest, order):
    vm = resources.vm(running=False)
    made = {}
    for i, name in enumerate("abc"):
        guest.write(vm, f"shared {name}".encode())           # a block they all rewrite
        guest.write(vm, f"own {name}".encode(), offset=4096 * (i + 1))  # one of its own
        made[name] = snapshots.create(vm, name=name)
    expected = {n: (f"shared {n}".encode(), [f"own {m}".encode() if "abc".index(m) <= i
                                             else b"\0" * 5 for m in "abc"])
                for i, n in enumerate("abc")}
    for gone in order:
        snapshots.delete(made.pop(gone))
        for name, snap in made.items():
            snapshots.revert(snap)
            shared, own = expected[name]
            assert guest.read(vm, len(shared)) == shared, (gone, name)
            for i, content in enumerate(own):
                assert guest.read(vm, len(content), offset=4096 * (i + 1)) == content
