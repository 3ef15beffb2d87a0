"""Every simulator setting is in its reference page, with its environment variable's rule."""

from __future__ import annotations

from pathlib import Path

import pytest

from driver.settings import load_settings
from simulator.config import _SCALARS, SimConfig, env_name, load_config

PAGE = Path(__file__).resolve().parents[2] / "docs" / "simulator-configuration.rst"


def test_every_setting_is_documented_with_its_default():
    text = PAGE.read_text()
    defaults = SimConfig()
    for key in _SCALARS:
        assert f"``{key}``" in text, key
        default = getattr(defaults, key.replace(".", "_"))
        if default not in ("", None):
            shown = str(default).lower() if isinstance(default, bool) else str(default)
            row = next(line for line in text.splitlines() if line.startswith(f"``{key}``"))
            assert f"``{shown}``" in row, (key, row)
    assert env_name("vmsnapshot.max") == "VMSNAP_SIM_VMSNAPSHOT_MAX" and \
        "VMSNAP_SIM_VMSNAPSHOT_MAX" in text


def _ini_blocks(page: Path) -> list[str]:
    """The ``.. code-block:: ini`` examples of a page, unindented."""
    blocks, lines = [], page.read_text().splitlines()
    for i, line in enumerate(lines):
        if line.strip() == ".. code-block:: ini":
            body = []
            for nxt in lines[i + 1:]:
                if nxt and not nxt.startswith(" "):
                    break
                body.append(nxt[4:])
            blocks.append("\n".join(body).strip() + "\n")
    return blocks


@pytest.mark.parametrize("page", ["simulator-configuration.rst", "simulator.rst"])
def test_the_world_examples_load_as_written(tmp_path, page):
    """What a reader pastes loads, and means what it says (no comment inside a value)."""
    blocks = _ini_blocks(PAGE.parent / page)
    assert blocks
    for block in blocks:
        ini = tmp_path / "world.ini"
        ini.write_text(block)
        cfg = load_config(str(ini), environ={})
        for pool in cfg.pools:
            assert "#" not in pool.path + pool.host + pool.user, pool


def test_the_driver_example_loads_as_written(tmp_path):
    for block in _ini_blocks(PAGE.parent / "configuration.rst"):
        ini = tmp_path / "driver.ini"
        ini.write_text(block)
        assert load_settings(str(ini), environ={}).storage_pools
