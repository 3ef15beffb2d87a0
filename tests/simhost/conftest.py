"""The driver on a simulated host: its settings, the host, and a signed agent client."""

from __future__ import annotations

import os

import pytest

from driver.app import create_app
from driver.hypervisors.simulated import SimulatedHost
from tests.support.driver import AgentClient


@pytest.fixture
def sim_settings(settings):
    return settings.with_overrides(backend="simulated")


@pytest.fixture
def host(sim_settings):
    h = SimulatedHost(os.path.join(sim_settings.data_dir, "simhost.sqlite3"))
    yield h
    h.close()


@pytest.fixture
def agent(sim_settings, host):
    return AgentClient(create_app(sim_settings, host).test_client())
