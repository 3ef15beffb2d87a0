"""The simulated guest's filesystem, reached with the agent's guest-data command (so it
lives on the VM's host, in its snapshot chain, exactly where a revert looks).

Files are keyed by absolute path on the VM's root disk. A directory is a marker key ending
in ``/``; directories also exist implicitly above any file, and the base image's usual
directories always exist."""

from __future__ import annotations

import base64
import json
import posixpath
from collections.abc import Callable
from typing import Any

from driver.wire.commands import Answer

# Paths inside the simulated guest, not on this machine.
BASE_DIRS = frozenset({"/", "/bin", "/dev", "/etc", "/home", "/mnt", "/opt", "/proc", "/root",
                       "/srv", "/tmp", "/usr", "/var", "/var/tmp"})  # noqa: S108
NO_FILE = "No file "  # how the driver's guest-data command says a file is absent
MAX_FILE = 1 << 20  # bytes in one file: it travels in one agent command
MAX_PATH = 4096  # characters in a path (Linux's PATH_MAX)


class GuestError(Exception):
    """The host refused or could not do a file operation (the message says why)."""


Send = Callable[[dict[str, Any]], Answer]


class GuestFiles:
    """File operations on one VM's root disk through ``send`` (the manager's agent)."""

    def __init__(self, send: Send, command: Callable[..., dict[str, Any]]) -> None:
        # ``command(op, **fields)`` builds the agent command for this VM.
        self._send = send
        self._command = command

    @staticmethod
    def _checked(path: str) -> str:
        if len(path) > MAX_PATH:
            raise GuestError("File name too long")
        return path

    def _call(self, op: str, **fields: Any) -> Answer:
        self._checked(fields.get("path") or "")
        answer = self._send(self._command(op, deviceId=0, **fields))
        if not answer.result:
            raise GuestError(answer.details or f"{op} failed")
        return answer

    def read(self, path: str) -> bytes | None:
        """The file's bytes, or None if there is no such file."""
        answer = self._send(self._command("read_file", deviceId=0, path=self._checked(path)))
        if not answer.result:
            if (answer.details or "").startswith(NO_FILE):
                return None
            raise GuestError(answer.details or "read failed")
        return base64.b64decode(answer.payload or "")

    def write(self, path: str, data: bytes) -> None:
        if len(data) > MAX_FILE:
            raise GuestError(f"cannot write {path}: File too large (the simulated guest keeps "
                             f"files of up to {MAX_FILE >> 20} MiB)")
        self._call("write_file", path=path, data=base64.b64encode(data).decode())

    def delete(self, path: str) -> None:
        self._call("delete_file", path=path)

    def names(self, prefix: str) -> list[str]:
        """Every key (file, or directory marker ending in ``/``) that starts with ``prefix``."""
        names: list[str] = json.loads(self._call("list_files", path=prefix).payload or "[]")
        return names

    # --- what a shell needs -----------------------------------------------------------------

    def is_file(self, path: str) -> bool:
        return path in self.names(path)

    def is_dir(self, path: str) -> bool:
        if path in BASE_DIRS:
            return True
        return bool(self.names(path.rstrip("/") + "/"))

    def make_dir(self, path: str) -> None:
        self.write(path.rstrip("/") + "/", b"")

    def children(self, path: str) -> dict[str, bool]:
        """Entries directly inside directory ``path``: name -> is a directory."""
        base = path.rstrip("/") + "/"
        out: dict[str, bool] = {}
        for name in self.names(base):
            rest = name[len(base):]
            if not rest:
                continue
            head, sep, _ = rest.partition("/")
            out[head] = out.get(head, False) or bool(sep)
        parent = posixpath.normpath(path)
        for d in BASE_DIRS:  # the base image's own directories
            if d != "/" and posixpath.dirname(d) == parent:
                out[posixpath.basename(d)] = True
        return out

    def remove_tree(self, path: str) -> None:
        for name in self.names(path.rstrip("/") + "/"):
            self.delete(name)
        if self.is_file(path):
            self.delete(path)
