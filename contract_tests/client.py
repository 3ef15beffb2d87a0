"""A small CloudStack API client: signed requests (signature version 3), async jobs polled
until they finish, errors as exceptions that keep CloudStack's codes and text."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import requests


class ApiError(Exception):
    """A CloudStack error: the HTTP status, ``errorcode``, ``cserrorcode`` and ``errortext``."""

    def __init__(self, status: int, body: dict[str, Any]) -> None:
        self.status = status
        self.errorcode = int(body.get("errorcode", status))
        self.cserrorcode = body.get("cserrorcode")
        self.errortext = str(body.get("errortext", ""))
        super().__init__(f"{self.errorcode}: {self.errortext}")


class JobFailed(ApiError):
    """An async job that ended with ``jobstatus`` 2."""

    def __init__(self, job: dict[str, Any]) -> None:
        self.job = job
        super().__init__(200, job.get("jobresult") or {})


class Client:
    def __init__(self, endpoint: str, api_key: str | None = None, secret: str | None = None,
                 *, timeout: float = 60.0, poll: float = 0.05, job_timeout: float = 600.0
                 ) -> None:
        self.endpoint = endpoint
        self.api_key = api_key
        self.secret = secret
        self.timeout = timeout
        self.poll = poll
        self.job_timeout = job_timeout
        self.session = requests.Session()
        self.session_key: str | None = None

    # --- signing ----------------------------------------------------------------------------

    @staticmethod
    def signature(params: dict[str, str], secret: str) -> str:
        text = "&".join(f"{k}={quote(str(v), safe='*')}" for k, v in
                        sorted(params.items())).lower()
        digest = hmac.new(secret.encode(), text.encode(), hashlib.sha1).digest()
        return base64.b64encode(digest).decode()

    def _params(self, command: str, params: dict[str, Any]) -> dict[str, str]:
        out: dict[str, str] = {"command": command, "response": "json"}
        for key, value in params.items():
            if value is None:
                continue
            if isinstance(value, bool):
                out[key] = "true" if value else "false"
            elif isinstance(value, (list, tuple)):
                if value and isinstance(value[0], dict):  # a map: name[i].key=value
                    for i, entry in enumerate(value):
                        for k, v in entry.items():
                            out[f"{key}[{i}].{k}"] = str(v)
                else:
                    out[key] = ",".join(str(v) for v in value)
            else:
                out[key] = str(value)
        if self.session_key:
            out["sessionkey"] = self.session_key
        elif self.api_key and self.secret:
            out["apiKey"] = self.api_key
            out["signatureVersion"] = "3"
            out["expires"] = (datetime.now(UTC) + timedelta(minutes=10)).strftime(
                "%Y-%m-%dT%H:%M:%S+0000")
            out["signature"] = self.signature(out, self.secret)
        return out

    # --- calls ------------------------------------------------------------------------------

    def raw(self, command: str, *, method: str = "GET", **params: Any) -> requests.Response:
        data = self._params(command, params)
        if method == "POST":
            return self.session.post(self.endpoint, data=data, timeout=self.timeout)
        return self.session.get(self.endpoint, params=data, timeout=self.timeout)

    def call(self, command: str, **params: Any) -> dict[str, Any]:
        """One synchronous call: the inside of ``<command>response``, or ApiError."""
        resp = self.raw(command, **params)
        try:
            body = resp.json()
        except ValueError:
            raise ApiError(resp.status_code, {"errortext": resp.text[:200]}) from None
        inner = next(iter(body.values())) if isinstance(body, dict) and body else {}
        if resp.status_code != 200 or "errorcode" in inner:
            raise ApiError(resp.status_code, inner)
        return inner

    def job(self, jobid: str) -> dict[str, Any]:
        """Poll ``queryAsyncJobResult`` until the job ends; JobFailed if it failed."""
        deadline = time.monotonic() + self.job_timeout
        while True:
            job = self.call("queryAsyncJobResult", jobid=jobid)
            if job["jobstatus"] == 1:
                return job
            if job["jobstatus"] == 2:
                raise JobFailed(job)
            if time.monotonic() > deadline:
                raise TimeoutError(f"job {jobid} did not finish in {self.job_timeout} s")
            time.sleep(self.poll)

    def run(self, command: str, **params: Any) -> dict[str, Any]:
        """An async command, waited for: the job's ``jobresult``."""
        started = self.call(command, **params)
        return self.job(started["jobid"])["jobresult"]

    def list(self, command: str, item: str, /, **params: Any) -> list[dict[str, Any]]:
        """A list command's items (``item`` is their key, e.g. ``vmSnapshot``)."""
        return self.call(command, **params).get(item, [])

    def login(self, username: str, password: str, domain: str = "/") -> dict[str, Any]:
        resp = self.session.post(self.endpoint, data={
            "command": "login", "username": username, "password": password,
            "domain": domain, "response": "json"}, timeout=self.timeout)
        body = resp.json()
        inner = next(iter(body.values()))
        if resp.status_code != 200:
            raise ApiError(resp.status_code, inner)
        self.session_key = inner["sessionkey"]
        return inner
