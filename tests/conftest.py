"""Shared fixtures: a storage pool and driver settings in a temporary directory. Helpers
live in :mod:`tests.support`."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

from driver.settings import Settings
from tests.support import ceph
from tests.support.driver import SECRET


@pytest.fixture
def pool(tmp_path: Any) -> str:
    path = tmp_path / "pool"
    path.mkdir()
    return str(path)


@pytest.fixture
def settings(tmp_path: Any, pool: str) -> Settings:
    return Settings(data_dir=str(tmp_path / "data"), storage_pools=[pool], secret=SECRET,
                    freeze_timeout=5.0, max_freeze_window=10.0, log_json=False,
                    guest_data_command=True)



@pytest.fixture(scope="session")
def ceph_cluster(tmp_path_factory: Any) -> Iterator[ceph.CephCluster]:
    """A real one-node Ceph cluster for the session, started on first use."""
    missing = ceph.available()
    if missing:
        if os.environ.get("CI"):
            pytest.fail(f"the Ceph tests cannot run in CI: {missing}")
        pytest.skip(f"Ceph: {missing}")
    cluster = ceph.CephCluster(str(tmp_path_factory.mktemp("ceph"))).start()
    yield cluster
    cluster.stop()
