"""The manager's shared machinery: the world, callers, look-ups, settings, the agent."""

from __future__ import annotations

import hashlib
import logging
import os
import secrets
import threading
import time
from dataclasses import dataclass
from typing import Any, TypeVar

from driver.wire.commands import Answer
from simulator.agents import Agent, AgentUnreachable
from simulator.config import OFFERING_CHANGE_POLICIES, SimConfig
from simulator.errors import ParamError, PermissionDenied, invalid_uuid
from simulator.models import (
    Account,
    DiskOffering,
    Domain,
    Host,
    ServiceOffering,
    Session,
    Template,
    User,
    Zone,
)
from simulator.orchestrator.jobs import Jobs
from simulator.store import Store

log = logging.getLogger(__name__)
T = TypeVar("T")

# Settings changeable with updateConfiguration: name -> (default from config, parser, text).
SETTINGS = {
    "vmsnapshot.max": ("vmsnapshot_max", int, "Maximum vm snapshots for a single vm"),
    "vmsnapshot.offering.change": (
        "vmsnapshot_offering_change", str,
        "What changing a VM's service offering does to its VM snapshots: discard (delete "
        "the memory snapshots), block (refuse the change) or restore (keep all; a revert "
        "restores the snapshot's offering)"),
    "vmsnapshot.create.wait": ("vmsnapshot_create_wait", int,
                               "In second, timeout for create vm snapshot"),
    "job.delay.ms": ("job_delay_ms", int,
                     "Simulator: milliseconds every job waits in its transitional state"),
}


def hash_password(password: str, salt: str | None = None) -> str:
    salt = salt or secrets.token_hex(8)
    digest = hashlib.pbkdf2_hmac("sha256", password.encode(), salt.encode(), 100_000).hex()
    return f"pbkdf2${salt}${digest}"


def check_password(password: str, stored: str) -> bool:
    import hmac

    try:
        _, salt, _ = stored.split("$")
    except ValueError:
        return False
    return hmac.compare_digest(hash_password(password, salt), stored)


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


class ManagerCore:
    """State, settings, callers and the agent. The rule mixins build on this."""

    def __init__(self, config: SimConfig, store: Store, agent: Agent) -> None:
        self.config = config
        self.store = store
        self.agent = agent
        self.jobs = Jobs(store)
        self.lock = threading.RLock()  # every check-then-change of management state
        os.makedirs(config.pool, exist_ok=True)

    # --- the world --------------------------------------------------------------------------

    def bootstrap(self) -> None:
        """Create the ROOT domain, the admin and user accounts and the world, once."""
        if self.store.find(Domain):
            return
        with self.store.tx():
            root = self.store.add(Domain("ROOT", "ROOT"))
            admin = self.store.add(Account("admin", root.id, type=1))
            self.add_user(admin, self.config.admin_username, self.config.admin_password,
                          firstname="Admin", lastname="User")
            user = self.store.add(Account(self.config.user_username, root.id, type=0))
            self.add_user(user, self.config.user_username, self.config.user_password,
                          firstname="Regular", lastname="User")
            for name in self.config.zones:
                zone = self.store.add(Zone(name))
                self.store.add(Host(f"kvm-{name}-1", zone.id))
                for t in self.config.templates:
                    self.store.add(Template(t.name, zone.id, t.size_gb << 30, t.ostype,
                                            t.guest_agent))
            for o in self.config.service_offerings:
                self.store.add(ServiceOffering(o.name, o.cpus, o.speed, o.memory))
            for d in self.config.disk_offerings:
                self.store.add(DiskOffering(d.name, d.size_gb))

    def add_user(self, account: Account, username: str, password: str, *, firstname: str = "",
                 lastname: str = "", email: str = "") -> User:
        return self.store.add(User(username, account.id, hash_password(password),
                                   api_key=secrets.token_urlsafe(48),
                                   secret_key=secrets.token_urlsafe(48), firstname=firstname,
                                   lastname=lastname, email=email))

    def admin_keys(self) -> tuple[str, str]:
        admin = next(u for u in self.store.find(User) if u.username == self.config.admin_username)
        return admin.api_key, admin.secret_key

    # --- callers ----------------------------------------------------------------------------

    def caller_by_key(self, api_key: str) -> tuple[Caller, str] | None:
        for user in self.store.find(User):
            if user.api_key and secrets.compare_digest(user.api_key, api_key):
                account = self.store.get(Account, user.account_id)
                if account is None or user.state != "enabled" or account.state != "enabled":
                    return None
                return Caller(user, account), user.secret_key
        return None

    def caller_by_session(self, key: str) -> Caller | None:
        for session in self.store.find(Session):
            if secrets.compare_digest(session.key, key):
                if session.expires < time.time():
                    self.store.delete(session)
                    return None
                user = self.store.get(User, session.user_id)
                account = self.store.get(Account, user.account_id) if user else None
                if user is None or account is None:
                    return None
                renewed = time.time() + self.config.session_timeout
                if renewed - session.expires > 60:  # slide the expiry, but not on every call
                    session.expires = renewed
                    self.store.save(session)
                return Caller(user, account)
        return None

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

    def scope(self, caller: Caller, *, listall: bool, account: str | None) -> int | None:
        """The account a list command shows: a user its own; an admin its own, every
        account's with ``listall`` (None), or the named account's."""
        if caller.is_admin and account:
            acct = next((a for a in self.store.find(Account) if a.name == account), None)
            return acct.id if acct else -1
        if caller.is_admin and listall:
            return None
        return caller.account.id

    def visible(self, caller: Caller, items: list[T], *, listall: bool, account: str | None
                ) -> list[T]:
        """The items of ``items`` that a list command shows (see :meth:`scope`)."""
        account_id = self.scope(caller, listall=listall, account=account)
        if account_id is None:
            return items
        return [i for i in items if getattr(i, "account_id", None) == account_id]

    # --- settings ---------------------------------------------------------------------------

    def setting(self, name: str) -> Any:
        attr, parse, _ = SETTINGS[name]
        stored = self.store.setting(name)
        return parse(stored) if stored is not None else getattr(self.config, attr)

    def set_setting(self, name: str, value: str) -> None:
        if name not in SETTINGS:
            raise ParamError(f"Configuration {name} not found")
        _, parse, _ = SETTINGS[name]
        try:
            parsed = parse(value)
        except ValueError:
            raise ParamError(f"Invalid value {value} for configuration {name}") from None
        if name == "vmsnapshot.offering.change" and parsed not in OFFERING_CHANGE_POLICIES:
            raise ParamError("vmsnapshot.offering.change must be discard, block or restore")
        if isinstance(parsed, int) and parsed < 0:
            raise ParamError(f"Invalid value {value} for configuration {name}")
        self.store.set_setting(name, str(parsed))

    def pause(self, command: str) -> None:
        """Hold a job in its transitional state for the configured time (job timing)."""
        stored = self.store.setting(f"job.delay.{command.lower()}")
        ms = int(stored) if stored is not None else int(self.setting("job.delay.ms"))
        if ms > 0:
            time.sleep(ms / 1000.0)

    # --- the agent --------------------------------------------------------------------------

    def send(self, command: dict[str, Any], timeout: float = 300.0) -> Answer:
        """Send one agent command; an unreachable host is a failed answer."""
        try:
            return self.agent.send([command], timeout)[0]
        except AgentUnreachable as exc:
            return Answer(result=False, details=str(exc))
