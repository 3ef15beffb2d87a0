"""Shared fixtures: a storage pool and driver settings in a temporary directory. Helpers
live in :mod:`tests.support`."""

from __future__ import annotations

from typing import Any

import pytest

from driver.settings import Settings
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

