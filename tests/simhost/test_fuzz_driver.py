"""Property-based fuzzing of the driver's ``POST /v1/commands``: every agent command the
driver serves (and unknown ones), with fields of the right names and hostile values. Never a
5xx or an internal error, always one well-formed answer per command, and a refused command
changes nothing on the host or in the journal."""

from __future__ import annotations

import json
import os
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from driver.app import create_app
from driver.http.auth import signed_headers
from driver.hypervisors.simulated import SimulatedHost
from driver.wire.commands import COMMANDS
from tests import agentjson as aj
from tests.support.driver import SECRET, AgentClient

VM = "i-2-3-VM"
SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True), st.text(max_size=20),
    st.sampled_from([2**63, 2**64, -(2**63) - 1]),
    st.sampled_from(["", "\x00", VM, VM + "\x00", "../../etc/passwd", "DiskAndMemory", "ROOT",
                     "frozen", "status", "/"]))
VALUES = st.recursive(SCALARS, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=8), inner, max_size=3)),
    max_leaves=8)
FIELDS = ["vmName", "target", "volumeTOs", "wait", "contextMap", "option", "vm", "data",
          "disk", "path", "newSize", "pool", "op", "deviceId", "offset", "length", "name",
          "snapshotName", "type", "size", "parent", "id", "undefine"]


def _valid_bodies(pool: str) -> list[dict[str, Any]]:
    """Well-formed commands for the watched VM, each a starting point for one mutation."""
    vol = aj.volume(os.path.join(pool, "root"), pool, vm=VM)
    new = aj.volume(os.path.join(pool, "extra"), pool, vm=VM)
    return [aj.create(VM, "s2", [vol]), aj.revert(VM, "s1", [vol]), aj.delete(VM, "s9", [vol]),
            aj.freeze_thaw(VM, "status"), aj.create_volume(new), aj.attach(VM, new, 1),
            {"com.cloud.agent.api.storage.ResizeVolumeCommand": {
                "path": "extra", "pool": {"path": pool}, "newSize": 1 << 30, "shrinkOk": False,
                "contextMap": {}}},
            {"com.cloud.agent.api.CheckVirtualMachineCommand": {"vmName": VM}}]


@st.composite
def mutated(draw: Any, bodies: list[dict[str, Any]]) -> dict[str, Any]:
    """One valid command with one value somewhere inside it replaced by a hostile one."""
    command = json.loads(json.dumps(draw(st.sampled_from(bodies))))
    node: Any = next(iter(command.values()))
    while True:
        keys = list(node) if isinstance(node, dict) else list(range(len(node)))
        if not keys:
            break
        key = draw(st.sampled_from(keys))
        child = node[key]
        if isinstance(child, dict | list) and child and draw(st.booleans()):
            node = child
            continue
        node[key] = draw(SCALARS)
        break
    return command


@pytest.fixture
def driver_client(settings: Any) -> AgentClient:
    settings = settings.with_overrides(backend="simulated")
    host = SimulatedHost(os.path.join(settings.data_dir, "simhost.sqlite3"))
    app = create_app(settings, host)
    client = AgentClient(app.test_client())
    vol = aj.volume(os.path.join(settings.storage_pools[0], "root"), settings.storage_pools[0],
                    vm=VM)
    client.ok(aj.create_volume(vol))
    client.ok(aj.start(VM, [vol]))
    client.ok(aj.create(VM, "s1", [vol]))
    return client


def _state(client: AgentClient) -> Any:
    """The watched VM as the host holds it: its snapshot tree, power state and freeze state
    (the journal may record a refused operation: that is its history, not the host)."""
    power, frozen = client.run(
        {"com.cloud.agent.api.CheckVirtualMachineCommand": {"vmName": VM}},
        aj.freeze_thaw(VM, "status"))
    return (client.get(f"/v1/vms/{VM}/snapshots").get_json(), power["state"],
            frozen["details"])


FUZZ = settings(max_examples=300, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow])


@FUZZ
@given(name=st.sampled_from(sorted(COMMANDS) + ["com.cloud.agent.api.MigrateCommand"]),
       body=st.dictionaries(st.sampled_from(FIELDS), VALUES, max_size=6))
def test_no_command_gets_a_5xx_or_an_internal_error(driver_client: AgentClient, name: str,
                                                    body: dict[str, Any]) -> None:
    if name.endswith("GuestDataCommand") or name.endswith("StartCommand"):
        body.pop("vmName", None)  # keep the fuzz from changing the one VM it watches
    _post_and_check(driver_client, {name: body})


@FUZZ
@given(data=st.data())
def test_no_mutated_command_gets_a_5xx_or_an_internal_error(driver_client: AgentClient,
                                                            pool: str, data: Any) -> None:
    _post_and_check(driver_client, data.draw(mutated(_valid_bodies(pool))))


def _post_and_check(driver_client: AgentClient, command: dict[str, Any]) -> None:
    name = next(iter(command))
    before = _state(driver_client)
    data = json.dumps([command]).encode()
    resp = driver_client.client.post("/v1/commands", data=data, headers=signed_headers(
        SECRET, "POST", "/v1/commands", data))
    assert resp.status_code in (200, 400), resp.get_data(as_text=True)
    payload = json.loads(resp.get_data())
    if resp.status_code == 400:
        assert "error" in payload
        return
    [answer] = payload
    (answer_name, fields), = answer.items()
    assert answer_name.endswith("Answer")
    assert isinstance(fields["result"], bool) and isinstance(fields.get("details", ""), str)
    assert "Internal error" not in fields.get("details", ""), fields["details"]
    if not fields["result"]:
        assert _state(driver_client) == before, f"a refused {name} changed the host"
