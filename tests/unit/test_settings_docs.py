"""Every simulator setting is in its reference page, with its environment variable's rule."""

from __future__ import annotations

from pathlib import Path

from simulator.config import _SCALARS, SimConfig, env_name

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
