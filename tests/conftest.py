"""Shared fixtures: settings in a temporary pool, a signed client for the driver app."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from typing import Any

import pytest

from driver.http.auth import signed_headers
from driver.settings import Settings
from tests import agentjson

SECRET = "test-secret"


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


class AgentClient:
    """Posts signed agent bodies to a Flask test client and unwraps the answers."""

    def __init__(self, client: Any, secret: str = SECRET) -> None:
        self.client = client
        self.secret = secret

    def post(self, *commands: dict[str, Any]) -> Any:
        data = agentjson.body(*commands)
        return self.client.post("/v1/commands", data=data,
                                headers=signed_headers(self.secret, "POST", "/v1/commands", data))

    def run(self, *commands: dict[str, Any]) -> list[dict[str, Any]]:
        resp = self.post(*commands)
        assert resp.status_code == 200, resp.get_data(as_text=True)
        return [next(iter(a.values())) for a in json.loads(resp.get_data())]

    def one(self, command: dict[str, Any]) -> dict[str, Any]:
        return self.run(command)[0]

    def ok(self, command: dict[str, Any]) -> dict[str, Any]:
        answer = self.one(command)
        assert answer["result"] is True, answer["details"]
        return answer

    def get(self, path: str) -> Any:
        return self.client.get(path, headers=signed_headers(self.secret, "GET", path, b""))


def qemu_img(*args: str) -> str:
    import subprocess

    return subprocess.run(["qemu-img", *args], check=True, capture_output=True,
                          text=True).stdout


def make_disk(pool: str, name: str, size: str = "64M") -> str:
    path = os.path.join(pool, name)
    qemu_img("create", "-q", "-f", "qcow2", path, size)
    return path


def qemu_io(path: str, command: str) -> str:
    """Run a qemu-io command on a stopped disk image; raise if it reports a failure."""
    import subprocess

    proc = subprocess.run(["qemu-io", "-f", "qcow2", "-c", command, path],
                          capture_output=True, text=True, check=False)
    out = proc.stdout + proc.stderr
    if proc.returncode != 0 or "fail" in out.lower():
        raise AssertionError(f"qemu-io {command!r} on {path}: {out.strip()}")
    return out


def pattern_is(path: str, byte: int, offset: int = 0, length: int = 65536) -> bool:
    try:
        qemu_io(path, f"read -P {byte:#x} {offset} {length}")
        return True
    except AssertionError:
        return False


Factory = Callable[..., Any]
