"""Accounts and callers: the world created once at first start, users with their keys and
passwords, and who is calling (by API key or by session)."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time

from driver.http.auth import new_secret, same_secret
from simulator.models import (
    Account,
    Cluster,
    DiskOffering,
    Domain,
    Host,
    HypervisorCapabilities,
    NetworkOffering,
    OsType,
    Pod,
    ServiceOffering,
    Session,
    SSHKeyPair,
    Tag,
    Template,
    User,
    Zone,
)
from simulator.orchestrator.core import Caller, Context
from simulator.orchestrator.networks import OFFERING
from simulator.orchestrator.storage import new_pool

# OS types offered besides the templates' own (CloudStack ships hundreds; tests name these).
OS_TYPES = ("CentOS 5.6 (64-bit)", "CentOS 8", "Debian GNU/Linux 12 (64-bit)",
            "Other Linux (64-bit)", "Ubuntu 22.04 LTS")


def hash_password(password: str, salt: str | None = None) -> str:
    """A salted PBKDF2 hash, stored as ``pbkdf2$salt$digest``."""
    salt = salt or secrets.token_hex(8)
    digest = hashlib.pbkdf2_hmac("sha256", password.encode(), salt.encode(), 100_000).hex()
    return f"pbkdf2${salt}${digest}"


def new_api_key() -> str:
    """A random API or secret key (64 characters of CloudStack's URL-safe alphabet, never
    beginning with ``-``)."""
    return new_secret(48)


def check_password(password: str, stored: str) -> bool:
    """Whether ``password`` matches a :func:`hash_password` value (constant time)."""
    try:
        _, salt, _ = stored.split("$")
    except ValueError:
        return False
    return hmac.compare_digest(hash_password(password, salt), stored)


class Accounts:
    """The world, users and callers."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.store = ctx.store
        self.config = ctx.config

    def bootstrap(self) -> None:
        """Create the ROOT domain, the admin and user accounts and the world, once (and the
        guest network offering and KVM's capabilities, which a store made by an older version
        lacks)."""
        if not self.store.find(NetworkOffering):
            self.store.add(NetworkOffering(*OFFERING))
        if not self.store.find(HypervisorCapabilities):
            self.store.add(HypervisorCapabilities())
        if self.store.find(Domain):
            return
        with self.store.tx():
            root = self.store.add(Domain("ROOT", "ROOT"))
            admin = self.store.add(Account("admin", root.id, type=1))
            self.add_user(admin, self.config.admin_username, self.config.admin_password,
                          firstname="Admin", lastname="User", keys=True)
            user = self.store.add(Account(self.config.user_username, root.id, type=0))
            self.add_user(user, self.config.user_username, self.config.user_password,
                          firstname="Regular", lastname="User", keys=True)
            for ostype in sorted({t.ostype for t in self.config.templates} | set(OS_TYPES)):
                self.store.add(OsType(ostype))
            layout = self.config.layout()
            pools = self.config.storage()
            for name in self.config.zones:
                zone = self.store.add(Zone(name))
                for spec in (s for s in pools if s.zone == name):
                    self.store.add(new_pool(spec, zone))
                for p in (p for p in layout.pods if p.zone == name):
                    pod = self.store.add(Pod(p.name, zone.id))
                    for c in (c for c in layout.clusters if c.pod == p.name):
                        cluster = self.store.add(Cluster(c.name, zone.id, pod.id))
                        for h in (h for h in layout.hosts if h.cluster == c.name):
                            self.store.add(Host(h.name, zone.id, pod.id, cluster.id, h.url))
                for t in self.config.templates:
                    self.store.add(Template(t.name, zone.id, t.size_gb << 30, t.ostype,
                                            t.guest_agent))
            for o in self.config.service_offerings:
                self.store.add(ServiceOffering(o.name, o.cpus, o.speed, o.memory,
                                               tags=",".join(o.tags)))
            for d in self.config.disk_offerings:
                self.store.add(DiskOffering(d.name, d.size_gb, tags=",".join(d.tags)))

    def add_user(self, account: Account, username: str, password: str, *, firstname: str = "",
                 lastname: str = "", email: str = "", keys: bool = False) -> User:
        """A new user of ``account`` with a hashed password. As in CloudStack it has no API
        keys until ``registerUserKeys``; the built-in users get theirs at first start."""
        return self.store.add(User(username, account.id, hash_password(password),
                                   api_key=new_api_key() if keys else "",
                                   secret_key=new_api_key() if keys else "",
                                   firstname=firstname, lastname=lastname, email=email))

    def remove(self, account: Account) -> None:
        """The last step of deleting an account: its users, keys, sessions, tags, SSH key
        pairs and templates go."""
        with self.ctx.lock:
            for user in self.store.find(User, account_id=account.id):
                for session in self.store.find(Session):
                    if session.user_id == user.id:
                        self.store.delete(session)
                self.store.delete(user)
            for tag in self.store.find(Tag, account_id=account.id):
                self.store.delete(tag)
            for pair in self.store.find(SSHKeyPair, account_id=account.id):
                self.store.delete(pair)
            for template in self.store.find(Template):
                if template.account_id == account.id:
                    template.removed = time.time()
                    self.store.save(template)
            self.store.delete(account)

    def admin_keys(self) -> tuple[str, str]:
        """The admin user's API key and secret key."""
        admin = next(u for u in self.store.find(User) if u.username == self.config.admin_username)
        return admin.api_key, admin.secret_key

    def admin_caller(self) -> Caller:
        """The admin user as a caller (the integration port's identity)."""
        admin = next(u for u in self.store.find(User) if u.username == self.config.admin_username)
        return Caller(admin, self.store.load(Account, admin.account_id))

    def caller_by_key(self, api_key: str) -> tuple[Caller, str] | None:
        """The enabled caller owning ``api_key``, with its secret key to check the signature."""
        for user in self.store.find_by(User, "api_key", api_key):
            if user.api_key and same_secret(api_key, user.api_key):
                account = self.store.get(Account, user.account_id)
                if account is None or user.state != "enabled" or account.state != "enabled":
                    return None
                return Caller(user, account), user.secret_key
        return None

    def caller_by_session(self, key: str) -> Caller | None:
        """The caller of a live session; the session's expiry slides forward with use."""
        for session in self.store.find_by(Session, "key", key):
            if same_secret(key, session.key):
                if session.expires < time.time():
                    self.store.delete(session)
                    return None
                user = self.store.get(User, session.user_id)
                account = self.store.get(Account, user.account_id) if user else None
                if (user is None or account is None or user.state != "enabled"
                        or account.state != "enabled"):
                    return None
                renewed = time.time() + self.config.session_timeout
                if renewed - session.expires > 60:  # slide the expiry, but not on every call
                    session.expires = renewed
                    self.store.save(session)
                return Caller(user, account)
        return None
