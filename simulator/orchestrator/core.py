"""What every part of the manager shares: the store, the agent, the lock, settings, look-ups
and the queries that several parts' rules ask (a VM's volumes and VM snapshots)."""

from __future__ import annotations

import logging
import os
import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

from driver.core.model import ACTIVE_STATES
from driver.wire.commands import Answer
from simulator.agents import Agent, AgentUnreachable
from simulator.config import OFFERING_CHANGE_POLICIES, SETTING_BOUNDS, SimConfig, parse_bool
from simulator.errors import ParamError, PermissionDenied, invalid_uuid
from simulator.models import (
    VM,
    Account,
    HypervisorCapabilities,
    StoragePool,
    User,
    VMSnapshot,
    Volume,
    VolumeSnapshot,
)
from simulator.orchestrator import storage
from simulator.orchestrator.jobs import Jobs
from simulator.store import Store

log = logging.getLogger(__name__)
T = TypeVar("T")

ACTIVE = {s.value for s in ACTIVE_STATES}
ACTIVE_VOLUME_SNAPSHOT = {"Creating", "CreatedOnPrimary", "BackingUp"}

_INTEGER = re.compile(r"^[+-]?[0-9]+$")


def integer(value: str) -> int:
    """A whole number as Java's ``Integer.parseInt`` reads one: ASCII digits and a sign only
    (Python's ``int`` also takes ``1_0``, spaces and other scripts' digits)."""
    if not _INTEGER.match(value):
        raise ValueError(value)
    return int(value)


# Settings changeable with updateConfiguration: name -> (default from config, parser, text).
# Each number has bounds (``SETTING_BOUNDS``), so no value can stall the simulator.
SETTINGS: dict[str, tuple[str, Callable[[str], Any], str]] = {
    "vmsnapshot.max": ("vmsnapshot_max", integer, "Maximum vm snapshots for a single vm"),
    "vmsnapshot.offering.change": (
        "vmsnapshot_offering_change", str,
        "What changing a VM's service offering does to its VM snapshots: discard (delete "
        "the memory snapshots), block (refuse the change) or restore (keep all; a revert "
        "restores the snapshot's offering)"),
    "vmsnapshot.create.wait": ("vmsnapshot_create_wait", integer,
                               "In second, timeout for create vm snapshot"),
    "job.delay.ms": ("job_delay_ms", integer,
                     "Simulator: milliseconds every job waits in its transitional state"),
    "allow.user.expunge.recover.vm": (
        "allow_user_expunge_recover_vm", parse_bool,
        "Determines whether users can expunge or recover their vm"),
    "allow.user.expunge.recover.volume": (
        "allow_user_expunge_recover_volume", parse_bool,
        "Determines whether users can expunge or recover their volume"),
    "kvm.vmstoragesnapshot.enabled": (
        "kvm_vmstoragesnapshot_enabled", parse_bool,
        "For live snapshot of virtual machine instance on KVM hypervisor without memory"),
}
# The settings CloudStack also keeps per account (every setting has its global value).
ACCOUNT_SETTINGS = frozenset({"allow.user.expunge.recover.vm",
                              "allow.user.expunge.recover.volume"})



def _scoped(name: str, account_id: int) -> str:
    """Where an account's own value of setting ``name`` is kept."""
    return f"{name}@account:{account_id}"


def setting_text(value: Any) -> str:
    """A setting's value as CloudStack shows it (``true``/``false`` for booleans)."""
    return str(value).lower() if isinstance(value, bool) else str(value)


@dataclass
class Caller:
    """Who is calling: the user, its account, and whether it is a root admin."""

    user: User
    account: Account

    @property
    def is_admin(self) -> bool:
        return self.account.is_admin


def vm_str(vm: Any) -> str:
    return (f'VM instance {{"id":{vm.id},"instanceName":"{vm.instance_name}","uuid":"{vm.uuid}",'
            f'"type":"User","state":"{vm.state}"}}')


def snap_str(snap: Any) -> str:
    return (f'VMSnapshot {{"id":{snap.id},"uuid":"{snap.uuid}","name":"{snap.name}",'
            f'"vmId":{snap.vm_id}}}')


class ManagementLock:
    """The manager's lock. ``with lock:`` is exclusive (and reentrant): every check-then-change
    that may reach beyond one VM. ``with lock.vm(vm_id):`` is for a section that reads and
    changes only one VM's own records (its VM snapshots, its volumes' chain sizes): sections
    of different VMs run side by side, one at a time per VM, and none while an exclusive
    section runs. An exclusive section waiting goes first (no starvation); a thread inside
    the exclusive lock may enter a VM section freely, never the other way round."""

    def __init__(self) -> None:
        self._cond = threading.Condition(threading.Lock())
        self._owner: int | None = None
        self._depth = 0
        self._shared = 0
        self._waiting = 0  # exclusive sections waiting
        self._vms: dict[int, threading.RLock] = {}
        self._local = threading.local()

    def __enter__(self) -> ManagementLock:
        me = threading.get_ident()
        with self._cond:
            if self._owner == me:
                self._depth += 1
                return self
            if getattr(self._local, "shared", 0):
                raise RuntimeError("the exclusive lock cannot be taken inside a VM section")
            self._waiting += 1
            while self._owner is not None or self._shared:
                self._cond.wait()
            self._waiting -= 1
            self._owner, self._depth = me, 1
        return self

    def __exit__(self, *exc: Any) -> None:
        with self._cond:
            self._depth -= 1
            if self._depth == 0:
                self._owner = None
                self._cond.notify_all()

    @contextmanager
    def vm(self, vm_id: int) -> Iterator[None]:
        if self._owner == threading.get_ident():  # the exclusive lock covers every VM
            yield
            return
        nested = getattr(self._local, "shared", 0)
        with self._cond:
            while self._owner is not None or (self._waiting and not nested):
                self._cond.wait()
            self._shared += 1
            per_vm = self._vms.setdefault(vm_id, threading.RLock())
        self._local.shared = nested + 1
        try:
            with per_vm:
                yield
        finally:
            self._local.shared = nested
            with self._cond:
                self._shared -= 1
                self._cond.notify_all()


class Context:
    """State, settings, look-ups and the agent; every part of the manager is given one."""

    def __init__(self, config: SimConfig, store: Store, agent: Agent) -> None:
        self.config = config
        self.store = store
        self.agent = agent
        self.jobs = Jobs(store, config.job_threads)
        self.lock = ManagementLock()  # every check-then-change of management state
        os.makedirs(config.pool, exist_ok=True)
        for spec in config.storage():
            if spec.type != storage.RBD:
                os.makedirs(spec.path, exist_ok=True)

    # --- look-ups ---------------------------------------------------------------------------

    def owned(self, caller: Caller, obj: Any, command: str) -> None:
        if caller.is_admin or getattr(obj, "account_id", caller.account.id) == caller.account.id:
            return
        raise PermissionDenied(
            f"Account '{caller.account.name}' does not have permission to operate with "
            f"resource {obj.uuid} in {command}"
        )

    def lookup(self, cls: type[T], uuid: str | None, caller: Caller, command: str,
               param: str, *, owned: bool = True) -> T:
        obj = self.store.by_uuid(cls, uuid) if uuid else None
        if obj is None or getattr(obj, "removed", None):
            raise invalid_uuid(command, param, uuid or "")
        if owned:
            self.owned(caller, obj, command)
        return obj

    def scope(self, caller: Caller, *, listall: bool, account: Account | None = None
              ) -> int | None:
        """The account a list command shows: the one named (already resolved and checked,
        see ``Request.listed_account``); else a user its own, an admin its own or, with
        ``listall``, every account's (None)."""
        if account is not None:
            return account.id
        if caller.is_admin and listall:
            return None
        return caller.account.id

    def visible(self, caller: Caller, items: list[T], *, listall: bool,
                account: Account | None = None) -> list[T]:
        """The items of ``items`` that a list command shows (see :meth:`scope`)."""
        account_id = self.scope(caller, listall=listall, account=account)
        if account_id is None:
            return items
        return [i for i in items if getattr(i, "account_id", None) == account_id]

    # --- settings ---------------------------------------------------------------------------

    def setting(self, name: str, account_id: int | None = None) -> Any:
        """A setting's value: the account's own (settings CloudStack keeps per account),
        else the global one, else the configured default."""
        attr, parse, _ = SETTINGS[name]
        stored = None
        if account_id is not None and name in ACCOUNT_SETTINGS:
            stored = self.store.setting(_scoped(name, account_id))
        if stored is None:
            stored = self.store.setting(name)
        return parse(stored) if stored is not None else getattr(self.config, attr)

    def set_setting(self, name: str, value: str, account_id: int | None = None) -> None:
        """Change a setting globally, or (``account_id``) for one account where CloudStack
        keeps it per account."""
        if name not in SETTINGS:
            raise ParamError(f"Config parameter with name {name} doesn't exist")
        if account_id is not None and name not in ACCOUNT_SETTINGS:
            raise ParamError(f"Invalid scope id provided for the parameter {name}")
        _, parse, _ = SETTINGS[name]
        try:
            parsed = parse(value)
        except ValueError:
            raise ParamError(f"Invalid value {value} for configuration {name}") from None
        if name == "vmsnapshot.offering.change" and parsed not in OFFERING_CHANGE_POLICIES:
            raise ParamError("vmsnapshot.offering.change must be discard, block or restore")
        if name in SETTING_BOUNDS:
            low, high = SETTING_BOUNDS[name]
            if not low <= parsed <= high:
                raise ParamError(f"Invalid value {value} for configuration {name}: it must be "
                                 f"between {low} and {high}")
        key = name if account_id is None else _scoped(name, account_id)
        self.store.set_setting(key, setting_text(parsed))

    def job_delay_ms(self, command: str) -> int:
        """The delay a job of ``command`` waits now: its own setting, else ``job.delay.ms``."""
        stored = self.store.setting(f"job.delay.{command.lower()}")
        return int(stored) if stored is not None else int(self.setting("job.delay.ms"))

    def pause(self, command: str) -> None:
        """Hold a job in its transitional state for the configured time (job timing). The
        setting is read again while waiting, so a changed delay applies to waiting jobs."""
        started = time.monotonic()
        while True:
            remaining = self.job_delay_ms(command) / 1000.0 - (time.monotonic() - started)
            if remaining <= 0:
                return
            time.sleep(min(remaining, 0.05))

    # --- queries several parts' rules ask -----------------------------------------------------

    def attached(self, vm: VM) -> list[Volume]:
        """The volumes attached to ``vm``, by device id."""
        return sorted(self.store.find(Volume, vm_id=vm.id), key=lambda v: v.device_id or 0)

    def pool_of(self, volume: Volume) -> StoragePool:
        """The primary storage pool ``volume`` is on."""
        return storage.pool_of(self.store, volume)

    def disks(self, vm: VM) -> list[tuple[Volume, StoragePool]]:
        """``vm``'s volumes by device id, each with its pool (as agent commands carry them)."""
        return [(v, self.pool_of(v)) for v in self.attached(vm)]

    def capabilities(self) -> HypervisorCapabilities:
        """What the cloud allows of KVM (every host here is KVM)."""
        found = self.store.find(HypervisorCapabilities)
        return found[0] if found else HypervisorCapabilities()

    def snapshots_of(self, vm: VM) -> list[VMSnapshot]:
        """Every non-removed VM snapshot of ``vm`` (any state), oldest first."""
        return self.store.find(VMSnapshot, vm_id=vm.id)

    def has_active_tasks(self, vm: VM) -> bool:
        """Whether a VM snapshot of ``vm`` is in a state that blocks other operations."""
        return any(s.state in ACTIVE for s in self.snapshots_of(vm))

    def volume_snapshot_active(self, vm: VM) -> bool:
        """Whether a volume snapshot of one of ``vm``'s volumes is being taken."""
        return any(s.state in ACTIVE_VOLUME_SNAPSHOT
                   for s in self.store.find(VolumeSnapshot, vm_id=vm.id))

    # --- the agent --------------------------------------------------------------------------

    def send(self, command: dict[str, Any], timeout: float = 300.0) -> Answer:
        """Send one agent command; an unreachable host is a failed answer. A command that
        changes the host is recorded as in flight first (see :mod:`.inflight`)."""
        inflight = self.jobs.inflight
        token = inflight.add(command)
        try:
            answer = self.agent.send([command], timeout)[0]
        except AgentUnreachable as exc:
            answer = Answer(result=False, details=str(exc))
        if not inflight.in_job():
            inflight.settle(token)
        return answer
