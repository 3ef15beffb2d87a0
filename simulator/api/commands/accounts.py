"""Accounts, users, keys, domains, configuration, capabilities and listApis."""

from __future__ import annotations

from typing import Any

from simulator import CLOUDSTACK_VERSION
from simulator.api.registry import APIS, P, api
from simulator.api.server import Request
from simulator.errors import ParamError, PermissionDenied, invalid_uuid
from simulator.models import Account, Cluster, Domain, StoragePool, User, Zone
from simulator.orchestrator.accounts import new_api_key
from simulator.orchestrator.core import ACCOUNT_SETTINGS, SETTINGS, setting_text


def _user(req: Request) -> User:
    user = req.lookup(User, "id", owned=False)
    if not req.caller.is_admin and user.id != req.caller.user.id:
        from simulator.errors import PermissionDenied

        raise PermissionDenied(f"Account '{req.caller.account.name}' does not have permission "
                               f"to operate with resource {user.uuid} in {req.api.name}")
    return user


@api("registerUserKeys", "This command allows a user to register for the developer API, "
     "returning a secret key and an API key.", package="admin.user", response="userkeys",
     params=[P("id", "uuid", True, "User id")])
def register_user_keys(req: Request) -> dict[str, Any]:
    user = _user(req)
    user.api_key = new_api_key()
    user.secret_key = new_api_key()
    req.manager.store.save(user)
    return {"userkeys": {"apikey": user.api_key, "secretkey": user.secret_key}}


@api("getUserKeys", "This command allows the user to query the seceret and API keys for the "
     "account", package="admin.user", response="userkeys",
     params=[P("id", "uuid", True, "ID of the user whose keys are required")])
def get_user_keys(req: Request) -> dict[str, Any]:
    user = _user(req)
    # A user who never registered keys has none: CloudStack answers an empty object.
    return {"userkeys": {k: v for k, v in (("apikey", user.api_key),
                                            ("secretkey", user.secret_key)) if v}}


@api("listUsers", "Lists user accounts", package="admin.user", response="user", params=[
    P("id", "uuid"), P("username"), P("domainid", "uuid"), P("listall", "boolean"),
    P("account"), P("keyword"), P("page", "integer"), P("pagesize", "integer")])
def list_users(req: Request) -> dict[str, Any]:
    items = req.visible(req.manager.store.find(User))
    if ids := req.ids(User, "id"):
        items = [u for u in items if u.uuid in ids]
    if name := req.params.text("username"):
        items = [u for u in items if u.username == name]
    if keyword := req.params.text("keyword"):
        items = [u for u in items if keyword.lower() in u.username.lower()]
    return req.listing("user", items, req.render.user)


@api("listAccounts", "Lists accounts and provides detailed account information for listed "
     "accounts", package="user.account", response="account", params=[
         P("id", "uuid"), P("name"), P("domainid", "uuid"), P("listall", "boolean"),
         P("keyword"), P("page", "integer"), P("pagesize", "integer")])
def list_accounts(req: Request) -> dict[str, Any]:
    items = req.manager.store.find(Account)
    scope = req.scope()
    if scope is not None:
        items = [a for a in items if a.id == scope]
    if domain := req.optional(Domain, "domainid", owned=False):
        items = [a for a in items if a.domain_id == domain.id]
    if ids := req.ids(Account, "id"):
        items = [a for a in items if a.uuid in ids]
    if name := req.params.text("name"):
        items = [a for a in items if a.name == name]
    if keyword := req.params.text("keyword"):
        items = [a for a in items if keyword.lower() in a.name.lower()]
    return req.listing("account", items, req.render.account)


@api("createAccount", "Creates an account", admin=True, package="admin.account",
     response="account", params=[
         P("accounttype", "integer"), P("username", required=True),
         P("password", required=True), P("email", required=True),
         P("firstname", required=True), P("lastname", required=True), P("account"),
         P("domainid", "uuid")])
def create_account(req: Request) -> dict[str, Any]:
    p = req.params
    store = req.manager.store
    username = p.require("username")
    account_name = p.text("account") or username
    kind = p.number("accounttype", default=0)
    if kind not in (0, 1, 2):
        raise ParamError("Invalid account type provided")
    domain = req.optional(Domain, "domainid", owned=False) or store.find(Domain)[0]
    with req.manager.lock:  # checked and made in one step: two calls never make two
        if any(u.username == username for u in store.find(User)):
            raise ParamError(f"The user {username} already exists in domain ROOT")
        if any(a.name == account_name for a in store.find(Account)):
            raise ParamError(f"The specified account: {account_name} already exists")
        account = store.add(Account(account_name, domain.id, type=kind or 0))
        req.manager.accounts.add_user(account, username, p.require("password"),
                             firstname=p.require("firstname"), lastname=p.require("lastname"),
                             email=p.require("email"))
    return {"account": req.render.account(account)}


@api("deleteAccount", "Deletes an account and all its resources: VMs with their VM "
     "snapshots, volumes, volume snapshots, networking records, users, keys and sessions.",
     is_async=True, admin=True, package="admin.account",
     params=[P("id", "uuid", True, "Account id")])
def delete_account(req: Request) -> dict[str, Any]:
    account = req.lookup(Account, "id", owned=False)
    if account.id == req.caller.account.id:
        raise PermissionDenied(f"Account {account.name} is the caller's account and can't "
                               "be removed")
    if account.is_admin and account.name == "admin":
        raise PermissionDenied("Removing the system admin account is not allowed")
    manager = req.manager
    with manager.lock:  # from now on its users' requests are refused
        account.state = "disabled"
        manager.store.save(account)

    def work() -> dict[str, Any]:
        manager.delete_account(account)
        return {"success": True}

    job = req.submit(work, instance_type="Account", instance_uuid=account.uuid)
    return {"jobid": job.uuid}


def _managed_account(req: Request, doing: str) -> Account:
    """The account ``id`` names, or ``account`` in ``domainid``, that an admin may change
    the state of (not the caller's own, not the system admin)."""
    if req.params.text("id"):
        account = req.lookup(Account, "id", owned=False)
    elif req.params.text("account"):
        account = req.owner()
    else:
        raise ParamError("Either accountId or accountName and domainId must be specified")
    if account.id == req.caller.account.id:
        raise PermissionDenied(f"Account {account.name} is the caller's account and can't be "
                               f"{doing}")
    if account.is_admin and account.name == "admin":
        raise PermissionDenied(f"The system admin account can't be {doing}")
    return account


_ACCOUNT_REF = [P("id", "uuid", description="the account's ID"),
                P("account", description="the account's name (with domainid)"),
                P("domainid", "uuid", description="the account's domain")]


@api("disableAccount", "Disables an account: with lock=true its users can no longer log in "
     "or call the API; with lock=false its running VMs are stopped too.", is_async=True,
     admin=True, package="admin.account", response="account",
     params=[*_ACCOUNT_REF, P("lock", "boolean", True, "lock (true) or disable (false)")])
def disable_account(req: Request) -> dict[str, Any]:
    account = _managed_account(req, "disabled")
    lock = req.params.flag("lock")
    manager, render = req.manager, req.render
    with manager.lock:  # from now on its users' requests are refused
        account = manager.store.load(Account, account.id)
        account.state = "locked" if lock else "disabled"
        manager.store.save(account)
    work = (lambda: account) if lock else (lambda: manager.disable_account(account))
    job = req.submit(lambda: {"account": render.account(work())}, instance_type="Account",
                     instance_uuid=account.uuid)
    return {"jobid": job.uuid}


@api("enableAccount", "Enables a disabled or locked account.", admin=True,
     package="admin.account", response="account", params=_ACCOUNT_REF)
def enable_account(req: Request) -> dict[str, Any]:
    account = _managed_account(req, "enabled")
    with req.manager.lock:
        account = req.manager.store.load(Account, account.id)
        account.state = "enabled"
        req.manager.store.save(account)
    return {"account": req.render.account(account)}


@api("listDomains", "Lists domains and provides detailed information for listed domains",
     package="admin.domain", response="domain", params=[
         P("id", "uuid", description="only this domain"),
         P("name", description="only the domain of this name"), P("keyword"),
         P("page", "integer"), P("pagesize", "integer")])
def list_domains(req: Request) -> dict[str, Any]:
    items = req.manager.store.find(Domain)
    if not req.caller.is_admin:
        items = [d for d in items if d.id == req.caller.account.domain_id]
    if ids := req.ids(Domain, "id"):
        items = [d for d in items if d.uuid in ids]
    if (name := req.params.text("name")) is not None:
        items = [d for d in items if d.name.lower() == name.lower()]
    if word := req.params.text("keyword"):
        items = [d for d in items if word.lower() in d.name.lower()]
    return req.listing("domain", items, req.render.domain)


@api("listCapabilities", "Lists capabilities", package="user.config",
     response="capability")
def list_capabilities(req: Request) -> dict[str, Any]:
    return {"capability": {
        "cloudstackversion": CLOUDSTACK_VERSION, "apilimitinterval": 1,
        "apilimitmax": 0, "allowusercreateprojects": False, "kvmsnapshotenabled": True,
        "userpublictemplateenabled": True, "kubernetesserviceenabled": False,
        "customdiskofferingmaxsize": 1024,
        "vmsnapshotmax": req.manager.setting("vmsnapshot.max"),
        "vmsnapshotofferingchange": req.manager.setting("vmsnapshot.offering.change")}}


_SCOPES = [P(name, "uuid", description=f"change the value for this {what} only")
           for name, what in (("zoneid", "zone"), ("clusterid", "cluster"),
                              ("storageid", "storage pool"), ("accountid", "account"),
                              ("domainid", "domain"), ("imagestoreuuid", "image store"))]
_SCOPE_KINDS = {"zoneid": Zone, "clusterid": Cluster, "storageid": StoragePool,
                "accountid": Account, "domainid": Domain}


def _scope(req: Request, name: str) -> Account | None:
    """The account a setting is read or changed for (``accountid``), None for the global
    value; any other scope, or more than one, is refused as CloudStack refuses it for the
    settings the simulator has (global ones, and per account)."""
    given = [p.name for p in _SCOPES if req.params.text(p.name) is not None]
    if len(given) > 1:
        raise ParamError("cannot handle multiple IDs, provide only one ID corresponding to "
                         "the scope")
    if not given:
        return None
    param = given[0]
    kind = _SCOPE_KINDS.get(param)
    value = req.params.text(param) or ""
    if kind is None:
        raise invalid_uuid(req.api.name, param, value)
    found: Any = req.lookup(kind, param, owned=False)
    if not isinstance(found, Account) or name not in ACCOUNT_SETTINGS:
        raise ParamError(f"Invalid scope id provided for the parameter {name}")
    return found


def _configuration(req: Request, name: str, account: Account | None) -> dict[str, Any]:
    value = req.manager.setting(name, account.id if account else None)
    out = {"name": name, "value": setting_text(value), "category": "Advanced",
           "description": SETTINGS[name][2], "isdynamic": True,
           "scope": "account" if name in ACCOUNT_SETTINGS else "global"}
    if account is not None:
        out["accountid"] = account.uuid
    return out


@api("listConfigurations", "Lists all configurations.", admin=True, package="admin.config",
     response="configuration", params=[P("name"), P("category"), P("keyword"), *_SCOPES,
                                       P("page", "integer"), P("pagesize", "integer")])
def list_configurations(req: Request) -> dict[str, Any]:
    name = req.params.text("name")
    account = None
    if req.params.text("accountid") is not None:
        account = req.lookup(Account, "accountid", owned=False)
    names = [n for n in SETTINGS if (not name or n == name)
             and (account is None or n in ACCOUNT_SETTINGS)]
    if (category := req.params.text("category")) and category.lower() != "advanced":
        names = []
    if word := req.params.text("keyword"):
        names = [n for n in names if word.lower() in n.lower()]
    return req.listing("configuration", names, lambda n: _configuration(req, n, account))


@api("updateConfiguration", "Updates a configuration.", admin=True, package="admin.config",
     response="configuration", params=[
         P("name", required=True, description="the setting"),
         P("value", description="its new value", length=4096), *_SCOPES])
def update_configuration(req: Request) -> dict[str, Any]:
    name = req.params.require("name")
    if name not in SETTINGS:
        raise ParamError(f"Config parameter with name {name} doesn't exist")
    value = req.params.text("value")
    if value is None:  # CloudStack answers the setting unchanged
        return {"configuration": _configuration(req, name, None)}
    account = _scope(req, name)
    req.manager.set_setting(name, value, account.id if account else None)
    return {"configuration": _configuration(req, name, account)}


@api("listApis", "lists all available apis on the server, provided by the Api Discovery "
     "plugin", package="user.discovery", response="api", params=[P("name")])
def list_apis(req: Request) -> dict[str, Any]:
    name = req.params.text("name")
    items = [a for a in APIS.values() if (req.caller.is_admin or not a.admin)
             and (not name or a.name.lower() == name.lower())]
    items.sort(key=lambda a: a.name)
    return req.listing("api", items, lambda a: a.describe())
