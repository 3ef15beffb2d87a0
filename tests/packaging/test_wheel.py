"""The project as a user installs it: a wheel built from the source tree, installed into a
fresh virtualenv, away from the checkout. The installed simulator serves the web UI, and
the installed contract suite takes its documented options."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.support.console import served_simulator

pytestmark = pytest.mark.packaging
ROOT = Path(__file__).resolve().parents[2]
# What a source tree holds besides the project (environments, caches, build output).
NOT_SOURCE = shutil.ignore_patterns(".git", ".venv", ".cache", ".tox", "var", "build", "dist",
                                    "_build", "test-artifacts", "*.egg-info", "__pycache__")


def run(*args: Any, **kw: Any) -> subprocess.CompletedProcess[str]:
    out = subprocess.run([str(a) for a in args], capture_output=True, text=True,
                         timeout=600, check=False, **kw)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    return out


def check_wheel(wheel: zipfile.ZipFile) -> None:
    """The UI's files, the type marker, the plugin, the license; test and docs tools only
    in extras (serving installs none of them)."""
    names = set(wheel.namelist())
    assert {"simulator/ui/static/index.html", "simulator/ui/static/app.js",
            "simulator/ui/static/style.css", "driver/py.typed", "simulator/py.typed",
            "contract_tests/py.typed", "contract_tests/plugin.py"} <= names
    assert any(n.endswith("/LICENSE") and ".dist-info/" in n for n in names)
    meta = wheel.read(next(n for n in names if n.endswith(".dist-info/METADATA"))).decode()
    entry_points = wheel.read(next(n for n in names if n.endswith("entry_points.txt"))).decode()
    assert "[pytest11]" in entry_points and "contract_tests.plugin" in entry_points
    assert "License-Expression: Apache-2.0" in meta or "License: Apache-2.0" in meta
    requires = [line for line in meta.splitlines() if line.startswith("Requires-Dist:")]
    for tool in ("pytest", "sphinx", "selenium", "mypy", "ruff"):
        needed = [r for r in requires if r.split()[1].startswith(tool)]
        assert needed and all('extra == "dev"' in r or 'extra == "test"' in r
                              or 'extra == "docs"' in r for r in needed), tool
        assert any('extra == "dev"' in r for r in needed), tool


@pytest.fixture(scope="module")
def installed(tmp_path_factory: Any) -> Path:
    """The bin directory of a fresh virtualenv with the wheel (and pytest) installed."""
    tmp = tmp_path_factory.mktemp("wheel")
    shutil.copytree(ROOT, tmp / "src", ignore=NOT_SOURCE)
    run(sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", tmp / "src", "-w", tmp / "dist")
    wheel = next((tmp / "dist").glob("cloudstack_vmsnap-*.whl"))
    check_wheel(zipfile.ZipFile(wheel))
    run(sys.executable, "-m", "venv", tmp / "venv")
    run(tmp / "venv" / "bin" / "pip", "install", "-q", wheel, "pytest")
    return tmp / "venv" / "bin"


@pytest.fixture(scope="module")
def served(installed: Path, tmp_path_factory: Any) -> Iterator[dict[str, Any]]:
    """The installed console script, run away from the checkout."""
    tmp = tmp_path_factory.mktemp("served")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    with served_simulator(installed / "vmsnap-simulator", tmp, env) as served:
        yield {**served, "cwd": str(tmp)}


def test_the_installed_simulator_serves_the_web_ui(served):
    page = requests.get(served["url"] + "/client/", timeout=30)
    assert page.status_code == 200 and "Instance Snapshots" in page.text
    for name in ("app.js", "style.css"):
        assert requests.get(served["url"] + f"/client/static/{name}", timeout=30
                            ).status_code == 200


def test_the_installed_contract_suite_takes_its_options(installed, served):
    key = re.search(r"^admin apikey:\s+(\S+)", served["banner"], re.M).group(1)
    secret = re.search(r"^admin secret:\s+(\S+)", served["banner"], re.M).group(1)
    out = run(installed / "pytest", "-q", "-p", "no:cacheprovider", "--pyargs",
              "contract_tests", "--endpoint", served["url"] + "/client/api",
              f"--api-key={key}", f"--secret-key={secret}",
              "-k", "bad_signature or unknown_command",
              cwd=served["cwd"])
    assert "2 passed" in out.stdout, out.stdout
