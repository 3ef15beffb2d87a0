"""The parent/child tree and the current pointer."""

from __future__ import annotations

import pytest


def test_each_snapshot_is_the_child_of_the_one_before(resources, snapshots):
    vm = resources.vm(running=False)
    for name in "abc":
        snapshots.create(vm, name=name)
    assert snapshots.tree(vm) == {"a": (None, False), "b": ("a", False), "c": ("b", True)}


@pytest.mark.needs("memory_snapshots")
def test_revert_moves_current_keeps_newer_and_the_next_create_branches(resources, snapshots):
    vm = resources.vm()
    a, _, _ = (snapshots.create(vm, name=n, snapshotmemory=True) for n in "abc")
    snapshots.revert(a)
    assert snapshots.tree(vm) == {"a": (None, True), "b": ("a", False), "c": ("b", False)}
    snapshots.create(vm, name="d", snapshotmemory=True)
    assert snapshots.tree(vm) == {"a": (None, False), "b": ("a", False), "c": ("b", False),
                                  "d": ("a", True)}


def test_deleting_a_middle_snapshot_relinks_its_children(resources, snapshots):
    vm = resources.vm(running=False)
    _, b, _ = (snapshots.create(vm, name=n) for n in "abc")
    snapshots.delete(b)
    assert snapshots.tree(vm) == {"a": (None, False), "c": ("a", True)}


def test_deleting_the_current_snapshot_makes_its_parent_current(resources, snapshots):
    vm = resources.vm(running=False)
    _, b = (snapshots.create(vm, name=n) for n in "ab")
    snapshots.delete(b)
    assert snapshots.tree(vm) == {"a": (None, True)}


def test_deleting_a_leaf_that_is_not_current_changes_no_pointer(resources, snapshots):
    vm = resources.vm(running=False)
    a, _ = (snapshots.create(vm, name=n) for n in "ab")
    snapshots.revert(a)
    leaf = next(s for s in snapshots.of(vm) if s["displayname"] == "b")
    snapshots.delete(leaf)
    assert snapshots.tree(vm) == {"a": (None, True)}


def test_deleting_the_root_makes_its_child_a_root(resources, snapshots):
    vm = resources.vm(running=False)
    a, _ = (snapshots.create(vm, name=n) for n in "ab")
    snapshots.delete(a)
    assert snapshots.tree(vm) == {"b": (None, True)}
