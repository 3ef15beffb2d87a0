"""Reaching a host: the driver app in-process, or a driver at a URL. The same agent JSON,
signed the same way, goes over either."""

from __future__ import annotations

import io
import json
import logging
import sys
from typing import Any, Protocol
from urllib.parse import unquote

import requests

from driver.http.auth import signed_headers
from driver.wire.commands import Answer
from driver.wire.envelope import EnvelopeError, decode_answers

log = logging.getLogger(__name__)
PATH = "/v1/commands"


class AgentUnreachable(Exception):
    """The host did not answer (connection refused, timeout, garbage)."""


class Agent(Protocol):
    def send(self, commands: list[dict[str, Any]], timeout: float) -> list[Answer]: ...

    def view(self, path: str, timeout: float = 60.0) -> Any:
        """GET one of the driver's read-only views (e.g. a VM's snapshot tree)."""
        ...


def per_host(agent: Agent) -> dict[str, Agent]:
    """Each host's own agent, by host name; a single agent is its only host's ("")."""
    split = getattr(agent, "per_host", None)
    return split() if split is not None else {"": agent}


def _view(status: int, body: bytes) -> Any:
    if status != 200:
        raise AgentUnreachable(f"the host answered HTTP {status}: {body[:200]!r}")
    try:
        return json.loads(body)
    except ValueError:
        raise AgentUnreachable("the host's view is not JSON") from None


# The host answered, and refused the request itself: the commands failed, the host is fine.
_REFUSED = {400: "the host could not read the command (HTTP 400)",
            413: "the command is larger than the host accepts (HTTP 413)"}


def _answers(status: int, body: bytes, expected: int) -> list[Answer]:
    if status in _REFUSED:
        return [Answer(result=False, details=_REFUSED[status]) for _ in range(expected)]
    if status != 200:
        raise AgentUnreachable(f"the host answered HTTP {status}: {body[:200]!r}")
    try:
        answers = [a for _, a in decode_answers(body)]
    except EnvelopeError as exc:
        raise AgentUnreachable(f"the host's answer is not understood: {exc}") from None
    if len(answers) != expected:
        raise AgentUnreachable("the host answered a different number of commands")
    return answers


class InProcessAgent:
    """The driver's Flask app in this process (what ``make run`` uses), called as a WSGI
    server calls it: the same signed request and answer bytes as over HTTP, without a socket
    (and without the test client's request building, which cost more than the command)."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.secret = app.extensions["vmsnap.secret"]

    def _call(self, method: str, path: str, body: bytes,
              headers: dict[str, str]) -> tuple[int, bytes]:
        path, _, query = path.partition("?")
        environ: dict[str, Any] = {
            # WSGI carries the decoded path's bytes as latin-1 text.
            "REQUEST_METHOD": method, "SCRIPT_NAME": "",
            "PATH_INFO": unquote(path).encode().decode("latin-1"), "QUERY_STRING": query,
            "SERVER_NAME": "localhost", "SERVER_PORT": "80",
            "SERVER_PROTOCOL": "HTTP/1.1", "REMOTE_ADDR": "127.0.0.1",
            "CONTENT_LENGTH": str(len(body)), "wsgi.version": (1, 0),
            "wsgi.url_scheme": "http", "wsgi.input": io.BytesIO(body),
            "wsgi.errors": sys.stderr, "wsgi.multithread": True,
            "wsgi.multiprocess": False, "wsgi.run_once": False}
        for name, value in headers.items():
            key = name.upper().replace("-", "_")
            environ[key if key == "CONTENT_TYPE" else f"HTTP_{key}"] = value
        status: list[str] = []

        def start_response(line: str, _headers: Any, _exc: Any = None) -> None:
            status.append(line)

        chunks = self.app(environ, start_response)
        try:
            data = b"".join(chunks)
        finally:
            close = getattr(chunks, "close", None)
            if close is not None:
                close()
        return int(status[0].split(" ", 1)[0]), data

    def send(self, commands: list[dict[str, Any]], timeout: float) -> list[Answer]:
        body = json.dumps(commands).encode()
        status, data = self._call("POST", PATH, body, {
            "Content-Type": "application/json", **signed_headers(self.secret, "POST", PATH, body)})
        return _answers(status, data, len(commands))

    def view(self, path: str, timeout: float = 60.0) -> Any:
        status, data = self._call("GET", path, b"", signed_headers(self.secret, "GET", path, b""))
        return _view(status, data)


class HttpAgent:
    """A driver at a URL (one per KVM host, on real libvirt)."""

    def __init__(self, url: str, secret: str) -> None:
        self.url = url.rstrip("/")
        self.secret = secret
        self.session = requests.Session()

    def send(self, commands: list[dict[str, Any]], timeout: float) -> list[Answer]:
        body = json.dumps(commands).encode()
        try:
            resp = self.session.post(self.url + PATH, data=body, timeout=timeout, headers={
                "Content-Type": "application/json",
                **signed_headers(self.secret, "POST", PATH, body)})
        except requests.RequestException as exc:
            raise AgentUnreachable(f"the host at {self.url} did not answer: {exc}") from None
        return _answers(resp.status_code, resp.content, len(commands))

    def view(self, path: str, timeout: float = 60.0) -> Any:
        try:
            resp = self.session.get(self.url + path, timeout=timeout,
                                    headers=signed_headers(self.secret, "GET", path, b""))
        except requests.RequestException as exc:
            raise AgentUnreachable(f"the host at {self.url} did not answer: {exc}") from None
        return _view(resp.status_code, resp.content)


class AgentFaults:
    """CloudStack's ``configureSimulator`` idea at the agent boundary: make command X fail,
    hang or return a given answer the next N times. Kept in the store, so they survive a
    restart like everything else."""

    KEY = "agent.faults"

    def __init__(self, store: Any) -> None:
        self.store = store

    def all(self) -> list[dict[str, Any]]:
        raw = self.store.setting(self.KEY)
        return json.loads(raw) if raw else []

    def add(self, command: str, action: str, *, count: int = 1, ms: int = 0,
            details: str | None = None, answer: dict[str, Any] | None = None) -> None:
        if action not in ("fail", "fault", "hang", "delay", "answer"):
            raise ValueError(f"unknown action {action!r}")
        if count < 1 or ms < 0:
            raise ValueError("count must be at least 1 and ms not negative")
        if action == "answer" and not isinstance(answer, dict):
            raise ValueError("action 'answer' needs an answer object")
        faults = self.all()
        faults.append({"command": command, "action": action, "count": count, "ms": ms,
                       "details": details, "answer": answer})
        self.store.set_setting(self.KEY, json.dumps(faults))

    def clear(self) -> None:
        self.store.set_setting(self.KEY, "[]")

    def take(self, command: str) -> dict[str, Any] | None:
        """The oldest fault for ``command`` (its short class name), used up once."""
        if not any(f["command"].lower() == command.lower() for f in self.all()):
            return None  # the usual case: a read, without taking the store's write lock
        with self.store.tx():
            faults = self.all()
            for fault in faults:
                if fault["command"].lower() == command.lower():
                    fault["count"] -= 1
                    self.store.set_setting(self.KEY, json.dumps(
                        [f for f in faults if f["count"] > 0]))
                    return fault
        return None


class FaultInjectingAgent:
    """Wraps an agent; consults :class:`AgentFaults` before each command."""

    def __init__(self, inner: Agent, faults: AgentFaults) -> None:
        self.inner = inner
        self.faults = faults

    def view(self, path: str, timeout: float = 60.0) -> Any:
        return self.inner.view(path, timeout)

    def per_host(self) -> dict[str, Agent]:
        """Each host's own agent (faults apply to commands about VMs, not to these)."""
        return per_host(self.inner)

    def send(self, commands: list[dict[str, Any]], timeout: float) -> list[Answer]:
        import time

        out = []
        for command in commands:
            short = next(iter(command)).rsplit(".", 1)[-1]
            fault = self.faults.take(short)
            if fault is None:
                out.extend(self.inner.send([command], timeout))
                continue
            if fault["action"] in ("delay", "hang"):
                time.sleep(fault["ms"] / 1000.0)
                if fault["action"] == "delay":
                    out.extend(self.inner.send([command], timeout))
                    continue
                raise AgentUnreachable(f"{short} timed out after {fault['ms']} ms")
            if fault["action"] == "answer":
                from driver.wire.commands import AnswerSchema

                body = dict(fault["answer"])
                body.setdefault("result", True)
                out.append(AnswerSchema().load(body))
            elif fault["action"] == "fault":
                out.append(Answer(result=False, details="java.lang.Exception: Simulated fault"))
            else:
                out.append(Answer(result=False, details=fault.get("details")
                                  or "Simulated failure"))
        return out
