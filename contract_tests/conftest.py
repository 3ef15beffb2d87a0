"""The contract suite's plugin: the target, capability markers, clients, resources with a
per-run prefix that are all cleaned up, and guest data where the target offers it."""

from __future__ import annotations

import base64
import secrets
import time
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest
import requests

from contract_tests.client import ApiError, Client
from contract_tests.target import Plan, SimulatorProcess, Target, load_plan

PLAN = pytest.StashKey[Plan]()


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "needs(*capabilities, **values): runs only on targets "
                                       "with these [capabilities]; skipped with the reason")
    config.addinivalue_line("markers", "fails_on(target, reason): a known difference of that "
                                       "target; expected to fail there (strict)")
    try:
        config.stash[PLAN] = load_plan(config.getoption("contract_config"), {
            "endpoint": config.getoption("endpoint"), "api_key": config.getoption("api_key"),
            "secret_key": config.getoption("secret_key")})
    except ValueError as exc:  # said once, not as an internal error of every later hook
        raise pytest.UsageError(f"contract suite: {exc}") from None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    plan = config.stash.get(PLAN, None)
    if plan is None:  # the configuration was refused: that error is the one to show
        return
    for item in items:
        for mark in item.iter_markers("needs"):
            missing = [c for c in mark.args if not plan.capabilities.get(c)]
            missing += [f"{k}={v}" for k, v in mark.kwargs.items()
                        if plan.capabilities.get(k) != v]
            if missing:
                item.add_marker(pytest.mark.skip(
                    reason=f"target '{plan.name}' lacks capability {', '.join(missing)} "
                           "(see [capabilities] in the contract configuration)"))
        for mark in item.iter_markers("fails_on"):
            if mark.args and mark.args[0] == plan.name:
                item.add_marker(pytest.mark.xfail(strict=True, reason=mark.kwargs["reason"]))


@pytest.fixture(scope="session")
def target(pytestconfig: pytest.Config) -> Iterator[Target]:
    plan = pytestconfig.stash[PLAN]
    if plan.target is not None:
        try:  # an endpoint that does not answer is said once, not by every test
            requests.get(plan.target.endpoint, timeout=30)
        except requests.RequestException as exc:
            pytest.exit(f"contract suite: cannot reach the target at "
                        f"{plan.target.endpoint}: {type(exc).__name__}",
                        returncode=pytest.ExitCode.USAGE_ERROR)
        yield plan.target
        return
    sim = SimulatorProcess(plan.simulator_args).start()
    try:
        yield sim.target(plan)
    finally:
        sim.stop()


@pytest.fixture(scope="session")
def api(target: Target) -> Client:
    client = Client(target.endpoint, target.api_key or None, target.secret_key or None)
    try:
        if not target.api_key and target.username:
            client.login(target.username, target.password, target.domain)
        client.call("listCapabilities")
    except ApiError as exc:
        if exc.status in (401, 531):
            pytest.exit(f"contract suite: the target at {target.endpoint} refused the "
                        f"credentials (HTTP {exc.status}): check api_key and secret_key, or "
                        "username and password", returncode=pytest.ExitCode.USAGE_ERROR)
        raise
    return client


@pytest.fixture(scope="session")
def other_account(target: Target, api: Client) -> Client:
    """A client of a second, ordinary account (for isolation checks)."""
    if target.user_api_key:
        return Client(target.endpoint, target.user_api_key, target.user_secret_key)
    if target.control_url:  # the simulator ships a 'user' account
        client = Client(target.endpoint)
        client.login("user", "password")
        return client
    pytest.skip("no second account configured (user_api_key / user_secret_key in [target])")


@pytest.fixture(scope="session")
def run_id(target: Target) -> str:
    """The random per-run prefix every resource of this run carries."""
    return f"{target.prefix}-{secrets.token_hex(3)}"


class World:
    """Ids of the target's zone, templates and offerings, from config or discovered."""

    def __init__(self, target: Target, api: Client) -> None:
        self.zone = target.zone or api.list("listZones", "zone")[0]["id"]
        templates = api.list("listTemplates", "template", templatefilter="executable",
                             zoneid=self.zone) or api.list(
            "listTemplates", "template", templatefilter="featured", zoneid=self.zone)
        self.template = target.template or next(
            (t["id"] for t in templates if t.get("guestagent", True)), templates[0]["id"])
        self.template_no_agent = target.template_no_agent or next(
            (t["id"] for t in templates if t.get("guestagent") is False), "")
        offerings = api.list("listServiceOfferings", "serviceoffering")
        self.offering = target.service_offering or offerings[0]["id"]
        self.offering2 = target.service_offering2 or next(
            (o["id"] for o in offerings if o["id"] != self.offering), "")
        disks = api.list("listDiskOfferings", "diskoffering")
        self.disk_offering = target.disk_offering or next(
            (d["id"] for d in disks if not d.get("iscustomized")), "")
        self.network = target.network


@pytest.fixture(scope="session")
def world(target: Target, api: Client) -> World:
    return World(target, api)


def _created(item: dict[str, Any]) -> float:
    """CloudStack's ``created`` (``2024-01-31T10:00:00+0000``) as a Unix time."""
    try:
        return datetime.strptime(item.get("created", ""), "%Y-%m-%dT%H:%M:%S%z").timestamp()
    except ValueError:
        return time.time()  # unknown age: treat as new, never sweep it


def sweep(api: Client, prefix: str, older_than: float | None = None) -> list[str]:
    """Remove every VM (with its VM snapshots) and volume whose name starts with ``prefix``
    (and, with ``older_than``, that was created more than that many seconds ago). Returns
    one line per resource that could not be removed."""
    failures: list[str] = []

    def stale(item: dict[str, Any]) -> bool:
        return str(item.get("name", "")).startswith(prefix) and (
            older_than is None or time.time() - _created(item) > older_than)

    vms = api.list("listVirtualMachines", "virtualmachine", listall=True, keyword=prefix)
    for vm in [v for v in vms if stale(v)]:
        try:
            # A data disk made with the VM is named after the VM, not the run, and outlives
            # its expunge (detached): it goes with the VM here.
            data = [v for v in api.list("listVolumes", "volume", listall=True,
                                        virtualmachineid=vm["id"]) if v["type"] == "DATADISK"]
            api.run("destroyVirtualMachine", id=vm["id"], expunge=True)
            for volume in data:
                api.call("deleteVolume", id=volume["id"])
        except (ApiError, TimeoutError) as exc:
            failures.append(f"VM {vm['name']} ({vm['id']}): {exc}")
    for volume in [v for v in api.list("listVolumes", "volume", listall=True, keyword=prefix)
                   if stale(v)]:
        try:
            if volume.get("virtualmachineid"):
                api.run("detachVolume", id=volume["id"])
            api.call("deleteVolume", id=volume["id"])
        except (ApiError, TimeoutError) as exc:
            failures.append(f"volume {volume['name']} ({volume['id']}): {exc}")
    return failures


class Resources:
    """Creates VMs and volumes named with the run's prefix; each test's are removed after it
    (by that prefix, so nothing a test made can escape)."""

    def __init__(self, api: Client, world: World, run_id: str) -> None:
        self.api = api
        self.world = world
        self.run_id = run_id
        self.made = 0

    def name(self) -> str:
        self.made += 1
        return f"{self.run_id}-{self.made}"

    def vm(self, *, running: bool = True, agent: bool = True, data_disk: bool = False,
           client: Client | None = None) -> dict[str, Any]:
        client = client or self.api
        template = self.world.template if agent else self.world.template_no_agent
        started = client.call(
            "deployVirtualMachine", zoneid=self.world.zone, templateid=template,
            serviceofferingid=self.world.offering, name=self.name(), startvm=running,
            networkids=self.world.network or None,
            diskofferingid=self.world.disk_offering if data_disk else None)
        return client.job(started["jobid"])["jobresult"]["virtualmachine"]

    def volume(self) -> dict[str, Any]:
        started = self.api.call("createVolume", name=self.name(), zoneid=self.world.zone,
                                diskofferingid=self.world.disk_offering)
        return self.api.job(started["jobid"])["jobresult"]["volume"]



@pytest.fixture(scope="session")
def swept(target: Target, api: Client) -> None:
    """At the start of a run: leftovers of earlier runs (older than ``stale_after``) go."""
    failures = sweep(api, f"{target.prefix}-", older_than=target.stale_after)
    if failures:
        pytest.fail("could not remove leftovers of earlier runs:\n" + "\n".join(failures))


@pytest.fixture
def resources(api: Client, world: World, run_id: str, swept: None) -> Iterator[Resources]:
    made = Resources(api, world, f"{run_id}-{secrets.token_hex(2)}")
    yield made
    failures = sweep(api, f"{made.run_id}-")
    if failures:
        pytest.fail("cleanup failed (these resources are left on the target):\n"
                    + "\n".join(failures))


class Snapshots:
    """VM snapshot operations as a test writes them."""

    def __init__(self, api: Client) -> None:
        self.api = api

    def create(self, vm: dict[str, Any], **params: Any) -> dict[str, Any]:
        return self.api.run("createVMSnapshot", virtualmachineid=vm["id"], **params)[
            "vmsnapshot"]

    def revert(self, snap: dict[str, Any]) -> dict[str, Any]:
        return self.api.run("revertToVMSnapshot", vmsnapshotid=snap["id"])["virtualmachine"]

    def delete(self, snap: dict[str, Any]) -> None:
        self.api.run("deleteVMSnapshot", vmsnapshotid=snap["id"])

    def of(self, vm: dict[str, Any]) -> list[dict[str, Any]]:
        return self.api.list("listVMSnapshot", "vmSnapshot", virtualmachineid=vm["id"])

    def tree(self, vm: dict[str, Any]) -> dict[str, tuple[str | None, bool]]:
        """display name -> (parent's display name, current)."""
        return {s["displayname"]: (s.get("parentName"), bool(s.get("current")))
                for s in self.of(vm)}


@pytest.fixture(scope="session")
def snapshots(api: Client) -> Snapshots:
    return Snapshots(api)


class Guest:
    """What a test does inside a VM: bytes on its disks and markers in its memory."""

    def __init__(self, target: Target) -> None:
        self.url = target.control_url
        self.headers = {"X-Vmsnap-Sim-Token": target.control_token}

    def _op(self, vm: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
        resp = requests.post(f"{self.url}/vms/{vm['id']}/guest", json=body,
                             headers=self.headers, timeout=60)
        assert resp.status_code == 200, resp.text
        out: dict[str, Any] = resp.json()
        return out

    def write(self, vm: dict[str, Any], data: bytes, *, device: int = 0,
              offset: int = 0) -> None:
        self._op(vm, {"op": "write", "device": device, "offset": offset,
                      "data": base64.b64encode(data).decode()})

    def read(self, vm: dict[str, Any], length: int, *, device: int = 0,
             offset: int = 0) -> bytes:
        out = self._op(vm, {"op": "read", "device": device, "offset": offset,
                            "length": length})
        return base64.b64decode(out["data"])

    def remember(self, vm: dict[str, Any], key: str, value: str) -> None:
        self._op(vm, {"op": "set_memory", "key": key, "value": value})

    def memory(self, vm: dict[str, Any]) -> dict[str, str]:
        memory: dict[str, str] = self._op(vm, {"op": "get_memory"})["memory"]
        return memory

    def slow_jobs(self, ms: int) -> None:
        """Hold every job in its transitional state for ``ms`` (0 restores)."""
        resp = requests.post(f"{self.url}/jobs", json={"delay_ms": ms}, headers=self.headers,
                             timeout=10)
        assert resp.status_code == 200, resp.text


@pytest.fixture(scope="session")
def guest(target: Target) -> Guest:
    if not target.control_url:
        pytest.skip("guest data needs the simulator's control plane (control_url)")
    return Guest(target)


@pytest.fixture
def slow_jobs(target: Target) -> Iterator[Any]:
    """Make jobs take a while, so a test can act while one is in progress."""
    if not target.control_url:
        pytest.skip("slowing jobs needs the simulator's control plane (control_url)")
    control = Guest(target)
    yield control.slow_jobs
    control.slow_jobs(0)


@pytest.fixture
def offering_policy(target: Target, setting: Any) -> Any:
    """Put the target under an offering-change policy, or skip (saying why) if it has another
    one that cannot be changed."""

    def use(policy: str) -> None:
        if target.capable("offering_change_configurable") and target.capable("configuration"):
            setting("vmsnapshot.offering.change", policy)
        elif target.capable("offering_change_policy") != policy:
            pytest.skip(f"target '{target.name}' changes offerings under the "
                        f"'{target.capable('offering_change_policy')}' policy, not '{policy}'")

    return use


@pytest.fixture
def setting(api: Client) -> Iterator[Any]:
    """Change a global setting for one test; the old value comes back afterwards."""
    changed: dict[str, str] = {}

    def change(name: str, value: str) -> None:
        if name not in changed:
            current = api.list("listConfigurations", "configuration", name=name)
            changed[name] = current[0]["value"] if current else ""
        api.call("updateConfiguration", name=name, value=value)

    yield change
    for name, value in changed.items():
        api.call("updateConfiguration", name=name, value=value)

