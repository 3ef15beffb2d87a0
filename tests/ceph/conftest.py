"""A real one-node Ceph cluster for the session (tests/support/ceph.py), started only when
a ``ceph`` test runs."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.support import ceph


@pytest.fixture(scope="session")
def ceph_cluster(tmp_path_factory: Any) -> Iterator[ceph.CephCluster]:
    missing = ceph.available()
    if missing:
        pytest.skip(f"Ceph: {missing}")
    cluster = ceph.CephCluster(str(tmp_path_factory.mktemp("ceph"))).start()
    yield cluster
    cluster.stop()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/ceph/" in str(item.fspath):
            item.add_marker(pytest.mark.ceph)
