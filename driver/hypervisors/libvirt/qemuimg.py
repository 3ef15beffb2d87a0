"""``qemu-img`` on disk images of stopped VMs: internal snapshot tags and sizes."""

from __future__ import annotations

import json
import subprocess
from typing import Any

from driver.core.errors import HypervisorError

TIMEOUT = 300


def _run(args: list[str], doing: str) -> str:
    try:
        proc = subprocess.run(
            ["qemu-img", *args], capture_output=True, text=True, timeout=TIMEOUT, check=False
        )
    except FileNotFoundError:
        raise HypervisorError(f"{doing} failed: qemu-img is not installed") from None
    except subprocess.TimeoutExpired:
        raise HypervisorError(f"{doing} failed: qemu-img did not finish in {TIMEOUT} s") from None
    if proc.returncode != 0:
        message = (proc.stderr or proc.stdout).strip().splitlines()
        raise HypervisorError(f"{doing} failed: {message[-1] if message else proc.returncode}")
    return proc.stdout


def info(path: str) -> dict[str, Any]:
    """``qemu-img info -U`` (readable while a VM holds the image)."""
    out = _run(["info", "-U", "--output=json", path], f"Reading {path}")
    data: dict[str, Any] = json.loads(out)
    return data


def tags(path: str) -> list[str]:
    return [s["name"] for s in info(path).get("snapshots", [])]


def create(path: str, tag: str) -> None:
    _run(["snapshot", "-c", tag, path], f"Snapshot {tag} of {path}")


def apply(path: str, tag: str) -> None:
    _run(["snapshot", "-a", tag, path], f"Revert of {path} to {tag}")


def delete(path: str, tag: str) -> None:
    _run(["snapshot", "-d", tag, path], f"Delete of {tag} from {path}")
