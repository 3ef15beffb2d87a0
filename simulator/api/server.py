"""The ``/client/api`` endpoint: authenticate, find the command, parse, dispatch, render."""

from __future__ import annotations

import ipaddress
import logging
import secrets
import time
from dataclasses import dataclass
from typing import Any, TypeVar

from flask import Blueprint, Response, current_app, request

from driver.http.auth import same_secret
from simulator.api import render
from simulator.api.auth import check_expiry, signature_ok
from simulator.api.params import Params
from simulator.api.registry import APIS, Api
from simulator.api.schema import for_user
from simulator.errors import (
    ApiError,
    ParamError,
    PermissionDenied,
    Unauthorized,
    Unsupported,
    invalid_uuid,
)
from simulator.models import Account, AsyncJob, Domain, Session, Tag
from simulator.orchestrator import Manager
from simulator.orchestrator.core import Caller

log = logging.getLogger(__name__)
bp = Blueprint("api", __name__)
T = TypeVar("T")


@dataclass
class Request:
    """What a command handler gets: the manager, the caller, the parameters."""

    manager: Manager
    caller: Caller
    params: Params
    api: Api
    render: render.Renderer
    method: str = "GET"  # the HTTP method the command came by

    def lookup(self, cls: type[T], param: str, *, owned: bool = True) -> T:
        return self.manager.lookup(cls, self.params.require(param), self.caller, self.api.name,
                                   param, owned=owned)

    def optional(self, cls: type[T], param: str, *, owned: bool = True) -> T | None:
        value = self.params.text(param)
        if value is None:
            return None
        return self.manager.lookup(cls, value, self.caller, self.api.name, param, owned=owned)

    def submit(self, work: Any, *, instance_type: str | None = None,
               instance_uuid: str | None = None, vm_id: int | None = None) -> AsyncJob:
        job = AsyncJob(cmd=self.api.cmd_class, account_id=self.caller.account.id,
                       user_id=self.caller.user.id, instance_type=instance_type,
                       instance_uuid=instance_uuid)
        return self.manager.jobs.submit(job, work, vm_id=vm_id)

    def admins_unless(self, setting: str, denied: str) -> None:
        """What is an admin's unless ``setting`` (CloudStack's ``allow.user.*``, kept per
        account too) lets the caller's account: refused (531) with ``denied`` otherwise."""
        if not self.caller.is_admin and not self.manager.setting(setting,
                                                                 self.caller.account.id):
            raise PermissionDenied(denied)

    def listing(self, key: str, items: list[Any], fn: Any) -> dict[str, Any]:
        page, size = self.params.paging()
        total = len(items)
        if size is not None:
            items = items[(page - 1) * size:page * size]
        return render.list_payload(key, [fn(i) for i in items], total)

    def owner(self) -> Account:
        """The account a new resource is for: the caller's, or for an admin the one named by
        ``account`` (with ``domainid``), as CloudStack resolves it."""
        return self._named_account(in_callers_domain=False,
                                   not_found="Unable to find account") or self.caller.account

    def listed_account(self) -> Account | None:
        """The account a list names with ``account`` (in ``domainid``, else the caller's
        domain), as CloudStack's list commands resolve it."""
        return self._named_account(in_callers_domain=True, not_found="could not find account")

    def _named_account(self, *, in_callers_domain: bool, not_found: str) -> Account | None:
        """The account ``account`` names (None when it names none), in ``domainid`` if
        given, else in the caller's domain or (``in_callers_domain`` false) any: one that
        does not exist is a 431, another's for an ordinary user a 531."""
        name = self.params.text("account")
        if not name:
            return None
        domain = self.optional(Domain, "domainid", owned=False)
        domain_id = domain.id if domain else (
            self.caller.account.domain_id if in_callers_domain else None)
        found = next((a for a in self.manager.store.find(Account)
                      if a.name == name and domain_id in (None, a.domain_id)), None)
        if found is None:
            where = domain or self.manager.store.get(Domain, self.caller.account.domain_id)
            raise ParamError(f"{not_found} {name} in domain "
                             f"{where.uuid if where else self.caller.account.domain_id}")
        if found.id != self.caller.account.id and not self.caller.is_admin:
            raise PermissionDenied(f"Account '{self.caller.account.name}' does not have "
                                   f"permission to operate within account {found.name}")
        return found

    def _wide(self) -> bool:
        """Whether a list reaches past the caller's own account (for an admin): with
        ``listall``, and, as in CloudStack, when it names ids or a domain."""
        return self.params.flag("listall") or any(
            self.params.text(name) for name in _WIDE_FILTERS)

    def scope(self) -> int | None:
        """The account whose resources a list shows (None: every account's)."""
        return self.manager.scope(self.caller, listall=self._wide(),
                                  account=self.listed_account())

    def visible(self, items: list[T]) -> list[T]:
        """What a list shows of ``items``: the scope's (see :meth:`scope`), in the domain
        ``domainid`` names when it names one."""
        items = self.manager.visible(self.caller, items, listall=self._wide(),
                                     account=self.listed_account())
        domain = self.optional(Domain, "domainid", owned=False)
        if domain is None or self.params.text("account"):
            return items
        accounts = {a.id for a in self.manager.store.find(Account) if a.domain_id == domain.id}
        return [i for i in items if getattr(i, "account_id", None) in accounts]

    def ids(self, cls: type[Any], *names: str) -> set[str]:
        """The ids a list is filtered by (``id``, ``ids``, ...), each checked by
        :meth:`existing`."""
        return {value for name in names for value in self.params.items(name)
                if self.existing(cls, name, value) is not None}

    def existing(self, cls: type[T], name: str, value: str | None = None) -> T | None:
        """The record of ``cls`` the parameter ``name`` (or ``value`` given for it) names,
        removed ones included: one that never existed is a 431, as CloudStack translates
        every id it is given. None when the parameter is absent."""
        value = self.params.text(name) if value is None else value
        if value is None:
            return None
        found = self.manager.store.by_uuid(cls, value)
        if found is None:
            raise invalid_uuid(self.api.name, name, value)
        return found

    def tagged(self, items: list[T], resource_type: str) -> list[T]:
        """The items carrying every ``tags[n].key``/``tags[n].value`` pair the list names."""
        wanted = self.params.mapping("tags")
        if not wanted:
            return items
        tags = [t for t in self.manager.store.find(Tag) if t.resource_type == resource_type]
        return [i for i in items if all(
            any(t.resource_id == getattr(i, "id", None) and t.key == w.get("key")
                and t.value == w.get("value") for t in tags) for w in wanted)]


# Filters with which an admin's list is not limited to the admin's own account.
_WIDE_FILTERS = ("id", "ids", "vmsnapshotid", "vmsnapshotids", "domainid")


def _pairs() -> list[tuple[str, str]]:
    pairs = list(request.args.items(multi=True))
    if request.method == "POST":
        pairs += list(request.form.items(multi=True))
    return pairs


def _integration(manager: Manager) -> bool:
    """Whether this request came in on the integration API port (from this machine)."""
    port = manager.config.integration_api_port
    return bool(port) and request.environ.get("SERVER_PORT") == str(port) and \
        ipaddress.ip_address(request.remote_addr or "0.0.0.0").is_loopback  # noqa: S104


def _authenticate(manager: Manager, pairs: list[tuple[str, str]]) -> Caller:
    if _integration(manager):
        # CloudStack's integration port runs every command unauthenticated, as the admin.
        return manager.accounts.admin_caller()
    low = {k.lower(): v for k, v in pairs}
    if "apikey" in low:
        signature = low.get("signature")
        found = manager.accounts.caller_by_key(low["apikey"])
        if not signature or found is None:
            raise Unauthorized()
        caller, secret = found
        unsigned = [(k, v) for k, v in pairs if k.lower() != "signature"]
        if not signature_ok(unsigned, secret, signature):
            raise Unauthorized()
        check_expiry(pairs)
        return caller
    key = low.get("sessionkey") or request.headers.get("sessionkey")
    if key:
        cookie = request.cookies.get("sessionkey")
        if cookie is not None and not same_secret(cookie, key):
            raise Unauthorized()
        by_session = manager.accounts.caller_by_session(key)
        if by_session is not None:
            return by_session
    raise Unauthorized()


@bp.route("/client/api", methods=["GET", "POST"], provide_automatic_options=False)
def handle() -> Response:
    manager: Manager = current_app.extensions["sim.manager"]
    pairs = _pairs()
    low = {k.lower(): v for k, v in pairs}
    command = low.get("command", "")
    as_json = low.get("response", "xml").lower() == "json"
    api = APIS.get(command.lower())
    # The response is named after a registered command only; anything else gets CloudStack's
    # fixed ``errorresponse`` envelope (a client's text never becomes an element name).
    envelope = api.name if api is not None else render.ERROR_ENVELOPE
    try:
        if api is not None and api.open:
            _refuse_unwritable(api.name, pairs)
            return api.handler(manager, Params(api.name, pairs), as_json)
        caller = _authenticate(manager, pairs)
        if api is None or (api.admin and not caller.is_admin):
            raise Unsupported(f"The given command:{command} does not exist or it is not "
                              f"available for user with id:{caller.user.uuid}")
        _refuse_unwritable(api.name, pairs)
        params = Params(api.name, pairs)
        params.check(api.params)
        req = Request(manager, caller, params, api, current_app.extensions["sim.renderer"],
                      request.method)
        payload = api.handler(req)
        if not caller.is_admin:
            payload = for_user(payload)  # type: ignore[assignment]
        return render.respond(api.name, payload, as_json=as_json)
    except ApiError as exc:
        return render.error(envelope, exc, as_json=as_json)
    except Exception:  # a bug: CloudStack hides the text from users, and so do we
        log.exception("unexpected error in %s", render.header_safe(command))
        return render.error(envelope, ApiError(
            "Internal error executing command, please contact your system administrator"),
            as_json=as_json)


def _refuse_unwritable(command: str, pairs: list[tuple[str, str]]) -> None:
    """Refuse, before anything is stored, a parameter that an XML response could not carry:
    one stored name with a control character would break every later XML listing."""
    for key, value in pairs:
        if render.XML_ILLEGAL.search(key) or render.XML_ILLEGAL.search(value):
            raise ParamError(f"Unable to execute API command {command.lower()} due to invalid "
                             f"value. Value of parameter {render.xml_safe(key)} contains a "
                             "character that is not allowed (a control character)")


_NOBODY = "pbkdf2$0000000000000000$" + "0" * 64  # a hash no password has


def login(manager: Manager, params: Params, as_json: bool) -> Response:
    from simulator.models import Account, Domain, User
    from simulator.orchestrator.accounts import check_password

    if request.method != "POST":  # a password in a URL ends up in logs and histories
        raise ApiError("Please use HTTP POST to authenticate using this API", code=405,
                       cserrorcode=9999)
    username = params.require("username")
    password = params.require("password")
    domain_name = (params.text("domain") or "ROOT").strip("/") or "ROOT"
    domain = next((d for d in manager.store.find(Domain)
                   if d.path == domain_name or d.name == domain_name), None)
    user = next((u for u in manager.store.find(User) if u.username == username), None)
    account = manager.store.get(Account, user.account_id) if user else None
    # The password is checked whatever else is wrong, so an answer takes as long for a
    # user who does not exist as for a wrong password: its time tells no one which it was.
    matches = check_password(password, user.password_hash if user else _NOBODY)
    if (user is None or account is None or domain is None or account.domain_id != domain.id
            or not matches or user.state != "enabled"):
        raise ApiError(f"Failed to authenticate user {username} in domain {domain_name}; "
                       "please provide valid credentials", code=531, cserrorcode=4365)
    key = secrets.token_urlsafe(24)
    manager.store.add(Session(key, user.id, time.time() + manager.config.session_timeout))
    payload = {"timeout": str(manager.config.session_timeout), "sessionkey": key,
               "username": user.username, "userid": user.uuid, "account": account.name,
               "domainid": domain.uuid, "type": str(account.type), "firstname": user.firstname,
               "lastname": user.lastname, "registered": "false"}
    resp = render.respond("login", payload, as_json=as_json)
    resp.set_cookie("sessionkey", key, httponly=False, samesite="Strict")
    resp.set_cookie("JSESSIONID", key, httponly=True, samesite="Strict")
    return resp


def logout(manager: Manager, params: Params, as_json: bool) -> Response:
    key = params.text("sessionkey") or request.cookies.get("sessionkey")
    for session in manager.store.find(Session):
        if key and same_secret(key, session.key):
            manager.store.delete(session)
    resp = render.respond("logout", {"description": "success"}, as_json=as_json)
    resp.delete_cookie("sessionkey")
    resp.delete_cookie("JSESSIONID")
    return resp


def _register_open() -> None:
    from simulator.api.registry import P, api

    api("login", "Logs a user into the CloudStack.", open=True, package="auth",
        response="login", params=[
        P("username", required=True), P("password", required=True), P("domain")])(login)
    api("logout", "Logs out the user", open=True, package="auth", response="logout")(logout)


_register_open()
__all__ = ["bp", "Request"]
