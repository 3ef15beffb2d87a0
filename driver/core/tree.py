"""The one snapshot-tree implementation: parent links and the single ``current`` pointer.

Rules (behaviour.md section 2):

* a new snapshot's parent is the current one; once created it becomes current;
* revert to S makes S current and keeps every newer snapshot, so history branches;
* deleting S re-links S's children to S's parent, and if S was current its parent
  (if any) becomes current;
* at most one node is current, and there is never a cycle or a dangling parent.

The tree holds keys only; callers keep their own records and ask the tree for links.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Iterator
from typing import Generic, TypeVar

from driver.core.errors import InvalidRequest, NotFound

K = TypeVar("K", bound=Hashable)


class SnapshotTree(Generic[K]):
    """Parent links and the current pointer of one VM's snapshots."""

    def __init__(self) -> None:
        self._parent: dict[K, K | None] = {}
        self._current: K | None = None

    @classmethod
    def build(cls, links: Iterable[tuple[K, K | None]], current: K | None) -> SnapshotTree[K]:
        """Rebuild a tree from stored ``(key, parent)`` pairs and the current key, checking it."""
        tree: SnapshotTree[K] = cls()
        for key, parent in links:
            tree._parent[key] = parent
        if current is not None and current not in tree._parent:
            raise InvalidRequest(f"current snapshot {current} is not in the tree")
        tree._current = current
        tree.check()
        return tree

    def __contains__(self, key: object) -> bool:
        return key in self._parent

    def __len__(self) -> int:
        return len(self._parent)

    def __iter__(self) -> Iterator[K]:
        return iter(self._parent)

    @property
    def current(self) -> K | None:
        return self._current

    def parent(self, key: K) -> K | None:
        self._require(key)
        return self._parent[key]

    def children(self, key: K | None) -> list[K]:
        """Direct children of ``key`` (roots when ``key`` is None), in insertion order."""
        return [k for k, p in self._parent.items() if p == key]

    def ancestors(self, key: K) -> list[K]:
        """Parent, grandparent, ... up to the root."""
        chain: list[K] = []
        node = self.parent(key)
        while node is not None:
            chain.append(node)
            node = self._parent[node]
        return chain

    def descendants(self, key: K) -> list[K]:
        out: list[K] = []
        stack = self.children(key)
        while stack:
            node = stack.pop()
            out.append(node)
            stack.extend(self.children(node))
        return out

    def add(self, key: K, parent: K | None = None, *, use_current: bool = True) -> K | None:
        """Insert ``key`` as a child of ``parent`` (default: the current snapshot); return it.

        The new node does not become current until :meth:`make_current` is called, so a
        creation that fails can be removed without touching the pointer.
        """
        if key in self._parent:
            raise InvalidRequest(f"snapshot {key} already exists")
        if parent is None and use_current:
            parent = self._current
        if parent is not None:
            self._require(parent)
        self._parent[key] = parent
        return parent

    def make_current(self, key: K | None) -> None:
        """Point ``current`` at ``key`` (after a create or a revert); None clears it."""
        if key is not None:
            self._require(key)
        self._current = key

    def remove(self, key: K) -> list[K]:
        """Delete ``key``: re-link its children to its parent, move current up; return children."""
        parent = self.parent(key)
        children = self.children(key)
        for child in children:
            self._parent[child] = parent
        del self._parent[key]
        if self._current == key:
            self._current = parent
        return children

    def _require(self, key: K) -> None:
        if key not in self._parent:
            raise NotFound(f"snapshot {key} is not in the tree")

    def check(self) -> None:
        """Raise if a parent dangles or the links form a cycle."""
        for key, parent in self._parent.items():
            if parent is not None and parent not in self._parent:
                raise InvalidRequest(f"snapshot {key} has an unknown parent {parent}")
        verified: set[K] = set()  # nodes whose ancestry is known to reach a root
        for key in self._parent:
            path: list[K] = []
            on_path: set[K] = set()
            node: K | None = key
            while node is not None and node not in verified:
                if node in on_path:
                    raise InvalidRequest(f"snapshot {key} is part of a parent cycle")
                path.append(node)
                on_path.add(node)
                node = self._parent[node]
            verified.update(path)

    def links(self) -> dict[K, K | None]:
        return dict(self._parent)
