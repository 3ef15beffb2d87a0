"""Agent commands on their way to a host, kept durably until the job that sent them ends.

A management server that dies while a host carries out a command loses the answer, not the
command: the host goes on. Each command that changes a host is written here before it is
sent; the job that sent it clears it when it ends. Whatever is left at start-up was
interrupted, and is resent (the driver answers a resend from its journal, or waits for the
operation still in progress) so the records follow the host's answer instead of a guess.
"""

from __future__ import annotations

import json
import secrets
import threading
from typing import Any

from simulator.store import Store

KEY = "agent.inflight"  # once one JSON list of every command; now one setting each:
PREFIX = KEY + "."  # agent.inflight.<token>, so a command costs one row, not a rewrite of all
# The commands whose effect the records depend on (the others change nothing the records
# hold, or are resolved by the power-state report).
RESENT = ("CreateVMSnapshotCommand", "RevertToVMSnapshotCommand", "DeleteVMSnapshotCommand",
          "StartCommand", "StopCommand", "AttachCommand", "DettachCommand",
          "ResizeVolumeCommand")


def short_name(command: dict[str, Any]) -> str:
    """``CreateVMSnapshotCommand`` for ``{"com.cloud.agent.api.CreateVMSnapshotCommand": ..}``."""
    return next(iter(command)).rsplit(".", 1)[-1]


class InFlight:
    """The durable list of sent, not yet settled agent commands (in the store's settings)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._local = threading.local()  # the tokens the current job has written

    def all(self) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        raw = self.store.setting(KEY)  # a data directory written before one row per command
        if raw:
            out.update(json.loads(raw))
        for name, value in self.store.settings_under(PREFIX):
            out[name[len(PREFIX):]] = json.loads(value)
        return out

    def add(self, command: dict[str, Any]) -> str | None:
        """Record ``command`` before it is sent, if its loss would matter; return its token."""
        if short_name(command) not in RESENT:
            return None
        token = secrets.token_hex(8)
        self.store.set_setting(PREFIX + token, json.dumps(command))
        if getattr(self._local, "tokens", None) is not None:
            self._local.tokens.append(token)
        return token

    def settle(self, *tokens: str | None) -> None:
        """Forget commands whose outcome the records now hold."""
        wanted = {t for t in tokens if t}
        if not wanted:
            return
        with self.store.tx():
            for token in wanted:
                self.store.delete_setting(PREFIX + token)
            raw = self.store.setting(KEY)
            if raw:
                old = json.loads(raw)
                if wanted & old.keys():
                    self.store.set_setting(KEY, json.dumps(
                        {k: v for k, v in old.items() if k not in wanted}))

    def begin_job(self) -> None:
        """From now on, commands sent by this thread are settled by :meth:`end_job`."""
        self._local.tokens = []

    def end_job(self) -> None:
        """The job's records are written: settle every command it sent."""
        tokens = getattr(self._local, "tokens", None) or []
        self._local.tokens = None
        self.settle(*tokens)

    def in_job(self) -> bool:
        return getattr(self._local, "tokens", None) is not None
