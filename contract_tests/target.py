"""The endpoint under test: from a config file, or a simulator this suite starts itself.

The config file (INI) is named by ``VMSNAP_CONTRACT_CONFIG`` or ``--contract-config``;
``--endpoint``, ``--api-key`` and ``--secret-key`` override it. See ``sample.ini``.
"""

from __future__ import annotations

import collections
import configparser
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import requests

from contract_tests.waiting import wait_until

CAPABILITIES = {
    "memory_snapshots": True,     # DiskAndMemory snapshots of running VMs
    "quiesce": True,              # quiescevm through a guest agent
    "no_agent_template": True,    # a template whose VMs have no guest agent
    "guest_data": True,           # write/read bytes on a VM's disks (the simulator's /_sim/)
    "guest_memory": True,         # memory markers inside a running guest
    "power_change_revert": False,  # reverts that change the power state are allowed
    "offering_change_policy": "discard",  # discard | block | restore
    "offering_change_configurable": True,  # vmsnapshot.offering.change can be set
    "volume_snapshots": True,
    "configuration": True,        # the suite may change vmsnapshot.max (needs an admin)
    "job_timing": True,           # jobs can be slowed (the simulator's /_sim/jobs)
}


@dataclass
class Target:
    name: str
    endpoint: str
    api_key: str = ""
    secret_key: str = ""
    username: str = ""
    password: str = ""
    domain: str = "/"
    user_api_key: str = ""
    user_secret_key: str = ""
    zone: str = ""
    template: str = ""
    template_no_agent: str = ""
    service_offering: str = ""
    service_offering2: str = ""
    disk_offering: str = ""
    network: str = ""
    prefix: str = "vmsnap-contract"
    # Resources of an earlier run (named with ``prefix``) older than this many seconds are
    # swept at the start of a run; younger ones may belong to a run still going on.
    stale_after: int = 3600
    control_url: str = ""
    control_token: str = ""
    capabilities: dict[str, Any] = field(default_factory=lambda: dict(CAPABILITIES))

    def capable(self, name: str) -> Any:
        return self.capabilities.get(name, CAPABILITIES.get(name))


def _parse_bool(value: str) -> Any:
    low = value.strip().lower()
    if low in ("true", "yes", "on", "1"):
        return True
    if low in ("false", "no", "off", "0"):
        return False
    return value.strip()


@dataclass
class Plan:
    """What the suite runs against: a configured ``target``, or (when it is None) a
    simulator it starts itself with ``simulator_args``, named ``name``."""

    target: Target | None
    name: str = "simulator"
    capabilities: dict[str, Any] = field(default_factory=lambda: dict(CAPABILITIES))
    simulator_args: list[str] = field(default_factory=list)


def load_plan(path: str | None, overrides: dict[str, str | None]) -> Plan:
    values: dict[str, Any] = {}
    caps = dict(CAPABILITIES)
    if path:
        parser = configparser.ConfigParser()
        try:
            if not parser.read(path):
                raise ValueError(f"cannot read contract configuration {path}")
        except (configparser.Error, UnicodeDecodeError) as exc:
            first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise ValueError(f"{path} is not a valid INI file: {first}") from None
        if parser.has_section("target"):
            values.update(dict(parser.items("target")))
        if parser.has_section("capabilities"):
            caps.update({k: _parse_bool(v) for k, v in parser.items("capabilities")})
    values.update({k: v for k, v in overrides.items() if v})
    name = values.pop("name", "simulator" if not values.get("endpoint") else "custom")
    args = shlex.split(values.pop("simulator_args", ""))
    if path:  # a --config given to the simulator is relative to this file
        here = os.path.dirname(os.path.abspath(path))
        args = [os.path.join(here, a) if prev == "--config" and not os.path.isabs(a) else a
                for prev, a in zip(["", *args], args, strict=False)]
    if not values.get("endpoint"):
        return Plan(None, name, caps, args)
    known = {f for f in Target.__dataclass_fields__ if f not in ("capabilities", "name")}
    unknown = set(values) - known
    if unknown:
        raise ValueError(f"unknown [target] settings: {', '.join(sorted(unknown))}")
    if not str(values["endpoint"]).startswith(("http://", "https://")):
        raise ValueError(f"endpoint {values['endpoint']!r} is not an http:// or https:// URL "
                         "(e.g. http://127.0.0.1:8080/client/api)")
    if "stale_after" in values:
        try:
            values["stale_after"] = int(values["stale_after"])
        except ValueError:
            raise ValueError(f"stale_after {values['stale_after']!r} is not a number of "
                             "seconds") from None
    return Plan(Target(name=name, capabilities=caps, **values), name, caps)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class SimulatorProcess:
    """``vmsnap-simulator`` started as a process on a free port, on a fresh data dir."""

    def __init__(self, args: list[str] | None = None) -> None:
        self.args = args or []
        self.data_dir = tempfile.mkdtemp(prefix="vmsnap-contract-")
        self.port = free_port()
        self.proc: subprocess.Popen[str] | None = None
        self.banner: dict[str, str] = {}
        self.output: collections.deque[str] = collections.deque(maxlen=50)
        self._banner_read = threading.Event()

    def _read_output(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        for line in self.proc.stdout:
            self.output.append(line)
            m = re.match(r"^(admin apikey|admin secret|control token):\s+(\S+)", line)
            if m:
                self.banner[m.group(1)] = m.group(2)
                if len(self.banner) == 3:
                    self._banner_read.set()
        self._banner_read.set()  # the process ended: stop waiting

    def start(self, timeout: float = 60.0) -> SimulatorProcess:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "simulator.cli", "--port", str(self.port), "--data-dir",
             self.data_dir, *self.args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            text=True, start_new_session=True)
        # The process's output is read for as long as it runs (a pipe nobody reads fills up
        # and blocks the simulator's logging); its last lines are kept for error messages.
        self.reader = threading.Thread(target=self._read_output, daemon=True)
        self.reader.start()
        deadline = time.monotonic() + timeout
        if not self._banner_read.wait(timeout) or len(self.banner) != 3:
            raise RuntimeError("the simulator did not start:\n" + "".join(self.output))
        url = f"http://127.0.0.1:{self.port}"
        try:
            wait_until(lambda: requests.get(url + "/client/api", timeout=1) is not None,
                       max(1.0, deadline - time.monotonic()), interval=0.1,
                       ignore=(requests.ConnectionError, requests.Timeout),
                       message="the simulator to answer")
        except TimeoutError as exc:
            raise RuntimeError(str(exc)) from None
        return self

    def target(self, plan: Plan) -> Target:
        url = f"http://127.0.0.1:{self.port}"
        return Target(name=plan.name, endpoint=url + "/client/api",
                      capabilities=plan.capabilities,
                      api_key=self.banner["admin apikey"],
                      secret_key=self.banner["admin secret"], control_url=url + "/_sim",
                      control_token=self.banner["control token"])

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
