"""Helpers for driving the driver: a signed agent client and qcow2 image tools."""

from __future__ import annotations

import json
import os
import subprocess
from typing import Any

from driver.http.auth import signed_headers
from tests import agentjson

SECRET = "test-secret"


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
    return subprocess.run(["qemu-img", *args], check=True, capture_output=True,
                          text=True).stdout


def make_disk(pool: str, name: str, size: str = "64M") -> str:
    path = os.path.join(pool, name)
    qemu_img("create", "-q", "-f", "qcow2", path, size)
    return path


def qemu_io(path: str, command: str) -> str:
    """Run a qemu-io command on a stopped disk image; raise if it reports a failure."""
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
