"""``qemu-img`` on disk images of stopped VMs: internal snapshot tags and sizes."""

from __future__ import annotations

import json
import re
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


def create_image(path: str, size: int) -> None:
    _run(["create", "-q", "-f", "qcow2", path, str(size)], f"Creating {path}")


def resize(path: str, size: int, shrink: bool) -> None:
    _run(["resize", *(["--shrink"] if shrink else []), "-f", "qcow2", path, str(size)],
         f"Resizing {path}")


def copy(source: str, target: str, *, snapshot: str | None = None) -> None:
    """A standalone qcow2 copy (readable while a VM holds the source): of the image as it
    is, or as its internal ``snapshot`` holds it."""
    at = ["-l", f"snapshot.name={snapshot}"] if snapshot else []
    _run(["convert", "-U", "-f", "qcow2", *at, "-O", "qcow2", source, target],
         f"Copying {source}")


def _qemu_io(path: str, fmt: str, command: str, *, force_share: bool) -> str:
    args = ["qemu-io", "-f", fmt, *(["-U", "-r"] if force_share else []), "-c", command,
            path]
    try:
        proc = subprocess.run(args, capture_output=True, text=True, timeout=TIMEOUT,
                              check=False)
    except FileNotFoundError:
        raise HypervisorError("qemu-io is not installed") from None
    output = proc.stdout + proc.stderr
    # Judge by qemu-io's own messages, never by the data it dumps.
    messages = "\n".join(line for line in output.splitlines()
                         if not re.match(r"^[0-9a-f]{8}:", line)).lower()
    if proc.returncode != 0 or "failed" in messages or "error" in messages:
        raise HypervisorError(f"qemu-io on {path} failed: {messages.strip()[:200]}")
    return output


def write_from(path: str, fmt: str, offset: int, source: str, length: int) -> None:
    """Write ``length`` bytes of the file ``source`` at ``offset`` of a stopped image."""
    _qemu_io(path, fmt, f"write -s {source} {offset} {length}", force_share=False)


def read(path: str, fmt: str, offset: int, length: int) -> bytes:
    """Read bytes of an image through qemu-io's hex dump (works while a VM holds it)."""
    out = bytearray()
    dump = _qemu_io(path, fmt, f"read -v {offset} {length}", force_share=True)
    for line in dump.splitlines():
        m = re.match(r"^[0-9a-f]{8}:\s+((?:[0-9a-f]{2} ){1,16})", line)
        if m:
            out += bytes(int(b, 16) for b in m.group(1).split())
    if len(out) != length:
        raise HypervisorError(f"reading {path} returned {len(out)} of {length} bytes")
    return bytes(out)
