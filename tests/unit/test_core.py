"""The snapshot tree and CloudStack's state machine, with no I/O."""

from __future__ import annotations

import pytest

from driver.core.errors import InvalidRequest, InvalidTransition, NotFound
from driver.core.model import TRANSITIONS, Event, State, transition
from driver.core.tree import SnapshotTree


def chain(*names: str) -> SnapshotTree[str]:
    tree: SnapshotTree[str] = SnapshotTree()
    for name in names:
        tree.add(name)
        tree.make_current(name)
    return tree


def test_new_snapshot_takes_current_as_parent():
    tree = chain("a", "b", "c")
    assert tree.links() == {"a": None, "b": "a", "c": "b"}
    assert tree.current == "c"
    assert tree.ancestors("c") == ["b", "a"]


def test_add_does_not_move_current_until_asked():
    tree = chain("a")
    tree.add("b")
    assert tree.current == "a" and tree.parent("b") == "a"


def test_revert_then_create_branches_and_keeps_newer():
    tree = chain("a", "b", "c")
    tree.make_current("a")
    tree.add("d")
    tree.make_current("d")
    assert tree.links() == {"a": None, "b": "a", "c": "b", "d": "a"}
    assert sorted(tree.children("a")) == ["b", "d"]
    assert sorted(tree.descendants("a")) == ["b", "c", "d"]


def test_delete_middle_relinks_children_to_its_parent():
    tree = chain("a", "b", "c")
    tree.make_current("a")
    tree.add("d", "b")
    assert tree.remove("b") == ["c", "d"]
    assert tree.links() == {"a": None, "c": "a", "d": "a"}
    assert tree.current == "a"


def test_delete_current_moves_current_to_parent_or_none():
    tree = chain("a", "b")
    tree.remove("b")
    assert tree.current == "a"
    tree.remove("a")
    assert tree.current is None and len(tree) == 0


def test_delete_root_makes_children_roots():
    tree = chain("a", "b", "c")
    tree.remove("a")
    assert tree.links() == {"b": None, "c": "b"}


def test_build_refuses_dangling_parents_and_cycles():
    with pytest.raises(InvalidRequest, match="unknown parent"):
        SnapshotTree.build([("a", "zz")], None)
    with pytest.raises(InvalidRequest, match="cycle"):
        SnapshotTree.build([("a", "b"), ("b", "a")], None)
    with pytest.raises(InvalidRequest, match="current"):
        SnapshotTree.build([("a", None)], "b")


def test_unknown_keys_and_duplicates():
    tree = chain("a")
    with pytest.raises(InvalidRequest):
        tree.add("a")
    with pytest.raises(NotFound):
        tree.add("b", "missing")
    with pytest.raises(NotFound):
        tree.remove("missing")
    with pytest.raises(NotFound):
        tree.make_current("missing")


def test_deep_chain_is_handled_without_recursion():
    names = [f"s{i}" for i in range(5000)]
    tree = chain(*names)
    assert len(tree.ancestors("s4999")) == 4999
    tree.remove("s2500")
    assert tree.parent("s2501") == "s2499"
    tree.check()


def test_state_machine_has_cloudstacks_13_transitions():
    assert len(TRANSITIONS) == 13
    assert transition(State.ALLOCATED, Event.CREATE_REQUESTED) is State.CREATING
    assert transition(State.CREATING, Event.OPERATION_FAILED) is State.ERROR
    assert transition(State.REVERTING, Event.OPERATION_FAILED) is State.READY
    assert transition(State.ERROR, Event.EXPUNGE_REQUESTED) is State.EXPUNGING
    assert transition(State.EXPUNGING, Event.HIDE) is State.HIDDEN


@pytest.mark.parametrize("state,event", [
    (State.ALLOCATED, Event.EXPUNGE_REQUESTED),
    (State.READY, Event.CREATE_REQUESTED),
    (State.REMOVED, Event.EXPUNGE_REQUESTED),
    (State.CREATING, Event.REVERT_REQUESTED),
])
def test_other_pairs_are_refused_with_cloudstacks_text(state, event):
    with pytest.raises(InvalidTransition) as err:
        transition(state, event)
    assert err.value.details == (
        f"Unable to transition to a new state from {state.value} via {event.value}"
    )
