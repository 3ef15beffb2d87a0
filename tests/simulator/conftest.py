"""A simulator on a real HTTP server (port 0) for the API tests, and clients for it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from contract_tests.client import Client
from simulator.app import ThreadedServer
from simulator.config import SimConfig
from tests.support.simulator import World, control


@pytest.fixture(scope="module")
def sim_overrides() -> dict[str, Any]:
    """Settings a test module gives its simulator (override this fixture in the module)."""
    return {}


@pytest.fixture(scope="module")
def sim(tmp_path_factory: Any, sim_overrides: dict[str, Any]) -> Iterator[ThreadedServer]:
    server = ThreadedServer(SimConfig(data_dir=str(tmp_path_factory.mktemp("sim")),
                                      **sim_overrides)).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def admin(sim: ThreadedServer) -> Client:
    key, secret = sim.manager.accounts.admin_keys()
    return Client(sim.endpoint, key, secret, poll=0.01)


@pytest.fixture(scope="module")
def user(sim: ThreadedServer, admin: Client) -> Client:
    users = admin.list("listUsers", "user", listall=True, username="user")
    keys = admin.call("getUserKeys", id=users[0]["id"])["userkeys"]
    return Client(sim.endpoint, keys["apikey"], keys["secretkey"], poll=0.01)


@pytest.fixture(autouse=True)
def _no_faults_or_delays(sim: ThreadedServer) -> Iterator[None]:
    yield
    control(sim, "DELETE", "/faults")
    control(sim, "POST", "/jobs", {"delay_ms": 0})
    sim.manager.jobs.wait_idle()


@pytest.fixture(scope="module")
def world(admin: Client) -> World:
    return World(admin)
