"""Reconcile: the journal's snapshots against what the hypervisor really holds.

Every VM the driver knows (from its snapshot records and its journal) is compared with the
places its host holds snapshots in (qcow2 tags on each image, the hypervisor's snapshot
metadata, memory-state files). Each difference is one :class:`Difference`:

* ``orphan``: held by the hypervisor, unknown to the records;
* ``missing``: recorded, held nowhere;
* ``partial``: recorded, but held on some of its disks only.

``repair`` fixes what is safe to fix: an orphan is deleted from the hypervisor (nothing
refers to it), a missing snapshot's record is dropped (the management side then sees it
gone and marks its own record Error). A partial snapshot is only reported: which half to
keep is an operator's decision. The rules are small functions in ``RULES``, so a backend
that adds a place (a memory-state file beside the images) adds a rule, not a branch.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass

from driver.core.errors import DriverError, NotFound
from driver.core.model import Snapshot, SnapshotType
from driver.hypervisors.base import MEMORY_STATE, METADATA, Guest
from driver.usecases.context import Context

log = logging.getLogger(__name__)


@dataclass
class Difference:
    vm: str
    snapshot: str
    kind: str  # orphan | missing | partial | memory-state-missing
    detail: str
    repaired: bool = False

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


@dataclass
class View:
    """One VM as both sides see it."""

    vm: str
    guest: Guest | None
    records: dict[str, Snapshot]
    held: dict[str, set[str]]


Rule = Callable[[View], Iterator[Difference]]


def _orphans(view: View) -> Iterator[Difference]:
    for name in sorted(set(view.held) - set(view.records)):
        yield Difference(view.vm, name, "orphan",
                         f"held by the hypervisor ({', '.join(sorted(view.held[name]))}) "
                         "but not in the journal's records")


def _missing(view: View) -> Iterator[Difference]:
    for name in sorted(set(view.records) - set(view.held)):
        where = "the VM is gone from the host" if view.guest is None else "held nowhere"
        yield Difference(view.vm, name, "missing", f"recorded but {where}")


def _partial(view: View) -> Iterator[Difference]:
    for name, snap in sorted(view.records.items()):
        if name not in view.held:
            continue
        absent = sorted({d.path for d in snap.disks} - view.held[name])
        if absent:
            yield Difference(view.vm, name, "partial",
                             f"not on {', '.join(absent)} (on the other disks only)")


def _memory_state(view: View) -> Iterator[Difference]:
    """A backend that keeps memory in files of their own reports them as ``MEMORY_STATE``;
    a memory snapshot whose other places carry one must carry it too (unless the hypervisor
    keeps its memory itself, ``METADATA``: the libvirt backend's ``savevm`` fallback)."""
    uses_files = any(MEMORY_STATE in places for places in view.held.values())
    for name, snap in sorted(view.records.items()):
        if uses_files and snap.has_memory and name in view.held \
                and not view.held[name] & {MEMORY_STATE, METADATA}:
            yield Difference(view.vm, name, "memory-state-missing",
                             "a memory snapshot without its memory-state file")


RULES: list[Rule] = [_orphans, _missing, _partial, _memory_state]


def _views(ctx: Context) -> Iterator[View]:
    for vm in sorted(set(ctx.store.vms()) | set(ctx.journal.vms())):
        records = {s.name: s for s in ctx.store.all(vm)}
        try:
            guest: Guest | None = ctx.hv.guest(vm)
        except NotFound:
            guest = None
        try:
            held = guest.held_snapshots() if guest is not None else {}
        except DriverError as exc:  # a host that cannot say: nothing to compare, say so
            log.warning("reconcile skipped %s: %s", vm, exc.details)
            continue
        if records or held:
            yield View(vm, guest, records, held)


def reconcile(ctx: Context, *, repair: bool = False) -> list[Difference]:
    """Every difference between the records and the hypervisor; with ``repair``, fix the
    safe ones (each VM in its slot, so no operation runs meanwhile)."""
    out: list[Difference] = []
    for view in _views(ctx):
        found = [d for rule in RULES for d in rule(view)]
        if repair and found:
            try:
                with ctx.slots.hold(view.vm, "reconcile", "*"):
                    for diff in found:
                        diff.repaired = _repair(ctx, view, diff)
            except DriverError as exc:  # an operation holds the VM: report, repair later
                log.warning("reconcile left %s alone: %s", view.vm, exc.details)
        out.extend(found)
    return out


def _repair(ctx: Context, view: View, diff: Difference) -> bool:
    try:
        if diff.kind == "orphan" and view.guest is not None:
            disks = [d.as_disk() for d in view.guest.disks()]
            view.guest.delete(Snapshot(view.vm, diff.snapshot, SnapshotType.DISK, disks=disks))
            return True
        if diff.kind == "missing":
            tree = ctx.store.tree(view.vm)
            tree.remove(diff.snapshot)
            ctx.store.save_tree(view.vm, tree, removed=diff.snapshot)
            return True
    except DriverError as exc:
        log.error("reconcile could not repair %s %s: %s", diff.kind, diff.snapshot,
                  exc.details, extra={"vm": view.vm})
    return False
