"""Where the memory states of a VM's live snapshots are kept: one interface, two places.

A memory state is libvirt's save image of one snapshot (``memstate.py``: header, domain XML,
QEMU's migration stream). It lives in a file (:class:`FileStates`: beside a qcow2 root disk,
or in ``rbd_memory_dir`` for a VM on RBD) or in an RBD image of ``rbd_memory_pool``
(:class:`~driver.hypervisors.libvirt.rbdstate.RbdStates`). The guest, the revert and
reconcile see only :class:`MemoryStates`. Every store keeps the same promises: a state is
written under a partial name and given its final name only once QEMU's stream is complete
and on storage, so a state under its final name is whole; partial ones are listed too, so
recovery and reconcile find what a crash left.
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Protocol

from driver.hypervisors.libvirt import memstate
from driver.paths import STATE_SUFFIX


class StateSink(Protocol):
    """One state being written: QEMU's stream goes into :attr:`fd`; :meth:`commit` once it
    has ended (returns the bytes on storage), :meth:`discard` on any failure (idempotent)."""

    fd: int

    def commit(self) -> int: ...

    def discard(self) -> None: ...


class MemoryStates(ABC):
    """The memory states of the VMs whose root disk is on one storage."""

    @abstractmethod
    def check(self, vm: str, snapshot: str) -> None:
        """InvalidRequest if this snapshot's state cannot be named here."""

    @abstractmethod
    def held(self, vm: str) -> set[str]:
        """Snapshots of ``vm`` with a state here, complete or partial."""

    @abstractmethod
    def stored(self, vm: str, snapshot: str) -> bool:
        """Whether a state is here under its final name."""

    @abstractmethod
    def interrupted(self, vm: str, snapshot: str) -> bool:
        """Whether a partial state is here (a capture under way or cut short)."""

    @abstractmethod
    def complete(self, vm: str, snapshot: str) -> bool:
        """Whether the state is stored and whole (libvirt's "complete" magic included)."""

    @abstractmethod
    def writer(self, vm: str, snapshot: str, domain_xml: str, *, running: bool) -> StateSink:
        """Start writing a state: the header now, QEMU's stream through the sink's fd."""

    @abstractmethod
    def remove(self, vm: str, snapshot: str) -> None:
        """Remove the state, complete or partial; idempotent."""

    @abstractmethod
    def stored_bytes(self, vm: str) -> int:
        """Bytes every state of ``vm`` here occupies on storage."""

    @abstractmethod
    def restorable(self, vm: str, snapshot: str) -> AbstractContextManager[str]:
        """A path libvirt's ``restoreFlags`` reads the state from, while the context lasts."""

    def exists(self, vm: str, snapshot: str) -> bool:
        """Whether anything of this state (complete or partial) is here."""
        return self.stored(vm, snapshot) or self.interrupted(vm, snapshot)


class FileStates(MemoryStates):
    """States as files in one directory: ``<vm>@<snapshot>.vmstate`` (``memstate.py``)."""

    def __init__(self, folder: str) -> None:
        self.folder = os.path.realpath(folder)

    def path(self, vm: str, snapshot: str) -> str:
        return memstate.state_path(self.folder, vm, snapshot)

    def check(self, vm: str, snapshot: str) -> None:
        self.path(vm, snapshot)

    def held(self, vm: str) -> set[str]:
        prefix, suffix = f"{vm}@", STATE_SUFFIX
        out = set()
        for entry in os.listdir(self.folder) if os.path.isdir(self.folder) else []:
            base = entry[1:-len(".partial")] if (
                entry.startswith(".") and entry.endswith(".partial")) else entry
            if base.startswith(prefix) and base.endswith(suffix):
                out.add(base[len(prefix):-len(suffix)])
        return out

    def stored(self, vm: str, snapshot: str) -> bool:
        return os.path.exists(self.path(vm, snapshot))

    def interrupted(self, vm: str, snapshot: str) -> bool:
        return os.path.exists(memstate.partial_path(self.path(vm, snapshot)))

    def complete(self, vm: str, snapshot: str) -> bool:
        return memstate.is_complete(self.path(vm, snapshot))

    def writer(self, vm: str, snapshot: str, domain_xml: str, *, running: bool) -> StateSink:
        return memstate.StateWriter(self.path(vm, snapshot), domain_xml, running=running)

    def remove(self, vm: str, snapshot: str) -> None:
        memstate.remove(self.path(vm, snapshot))

    def stored_bytes(self, vm: str) -> int:
        return sum(memstate.size(self.path(vm, name)) for name in self.held(vm))

    @contextmanager
    def _restorable(self, vm: str, snapshot: str) -> Iterator[str]:
        yield self.path(vm, snapshot)

    def restorable(self, vm: str, snapshot: str) -> AbstractContextManager[str]:
        return self._restorable(vm, snapshot)
