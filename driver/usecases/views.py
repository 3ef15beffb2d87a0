"""Read-only views of the records, for humans and tools."""

from __future__ import annotations

from typing import Any

from driver.store import SnapshotStore


def tree_view(store: SnapshotStore, vm: str) -> dict[str, Any]:
    """The VM's snapshots, roots first and each parent before its children (flat, so a
    chain of any depth renders), with the links both ways."""
    snaps = {s.name: s for s in store.all(vm)}
    tree = store.tree(vm)
    order: list[str] = []
    stack = list(reversed(tree.children(None)))
    while stack:
        name = stack.pop()
        order.append(name)
        stack.extend(reversed(tree.children(name)))
    return {
        "vm": vm, "current": tree.current, "count": len(snaps),
        "snapshots": [{
            "name": n, "type": snaps[n].type.value, "current": snaps[n].current,
            "parent": snaps[n].parent, "children": tree.children(n),
            "created": snaps[n].created, "description": snaps[n].description,
            "quiesced": snaps[n].quiesced, "freezeWindowMs": snaps[n].freeze_window_ms,
            "disks": [d.__dict__ for d in snaps[n].disks],
        } for n in order],
    }
