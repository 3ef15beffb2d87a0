"""Property-based fuzzing of ``/client/api``: every registered command (what ``listApis``
lists) with hostile parameter values, signed by an admin or a user, as JSON or XML. Never a
crash (no 500, no unexpected exception: only CloudStack's own refusal codes), always a
well-formed body, CloudStack's error shape on every refusal, and a refused request changes
nothing. A fixed example budget keeps it to a fraction of a minute."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET  # noqa: S405 - parses our own responses
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from contract_tests.client import Client
from simulator.api.registry import APIS
from simulator.app import ThreadedServer

COMMANDS = sorted(api.name for api in APIS.values())
# The HTTP statuses CloudStack answers a refusal with (its ApiErrorCode values). 530-537 are
# refusals too (a permission denied is 531, a resource limit 535); a crash is a 500, or a
# 530 carrying the text the API server puts on an unexpected exception. 405: a login by
# GET (CloudStack's METHOD_NOT_ALLOWED).
CLOUDSTACK_CODES = {401, 405, 431, 432, 436, 437, 530, 531, 532, 533, 534, 535, 536, 537}
UNEXPECTED = "Internal error executing command"
# Values a hostile or unlucky client sends: controls, NUL, non-ASCII, markup, huge numbers.
NASTY = st.one_of(
    st.text(max_size=40),
    st.sampled_from(["", "\x00", "\x07bell", "a\nb", "x><injected/><y", "../login", "-1",
                     "9" * 30, "2147483648", "true", "maybe", "\ud7ff\ue000", "\ufffe",
                     "'; DROP TABLE objects; --", "%00", "é" * 10]),
    st.integers(min_value=-(2**70), max_value=2**70).map(str),
)


def _params(api_name: str) -> st.SearchStrategy[dict[str, str]]:
    names = [p.name for p in APIS[api_name.lower()].params] + ["page", "pagesize", "id",
                                                               "listall", "name"]
    return st.dictionaries(st.sampled_from(names), NASTY, max_size=6)


@pytest.fixture(scope="module")
def sim_overrides() -> dict[str, Any]:
    return {"power_sync_interval": 0}


def _check_body(status: int, content_type: str, body: bytes, as_xml: bool) -> dict[str, Any]:
    if as_xml:
        assert content_type.startswith("text/xml"), content_type
        root = ET.fromstring(body)  # noqa: S314 - well-formed, or this raises
        assert root.tag.endswith("response")
        inner = {child.tag: child.text for child in root}
    else:
        assert content_type.startswith("application/json"), content_type
        data = json.loads(body)
        assert isinstance(data, dict) and len(data) == 1
        (key, inner), = data.items()
        assert key.endswith("response")
    if status != 200:
        assert status in CLOUDSTACK_CODES, status
        assert int(inner["errorcode"]) == status
        assert inner["cserrorcode"] is not None and inner["errortext"] is not None
        assert not inner["errortext"].startswith(UNEXPECTED), "an unexpected exception"
    return inner


@settings(max_examples=400, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(command=st.sampled_from(COMMANDS), who=st.sampled_from(["admin", "user"]),
       as_xml=st.booleans(), data=st.data())
def test_no_input_crashes_or_gets_a_broken_body(sim: ThreadedServer, admin: Client,
                                              user: Client, command: str, who: str,
                                              as_xml: bool, data: Any) -> None:
    params = data.draw(_params(command))
    store = sim.manager.store
    sim.manager.jobs.wait_idle(30)
    before = store.dump()
    client = {"admin": admin, "user": user}[who]
    resp = client.raw(command, response="xml" if as_xml else "json", **params)
    _check_body(resp.status_code, resp.headers.get("Content-Type", ""), resp.content, as_xml)
    sim.manager.jobs.wait_idle(30)
    if resp.status_code != 200:
        assert store.dump() == before, f"a refused {command} changed the records"
