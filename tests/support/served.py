"""Both services as real processes (``vmsnap-simulator``, ``vmsnap-driver serve``) on real
ports: started, killed with SIGKILL, started again on the same data."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time

import requests

from contract_tests.client import Client
from contract_tests.waiting import wait_until


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Served:
    """A service in a process group of its own: killed (SIGKILL) or stopped as a whole."""

    proc: subprocess.Popen[bytes] | None = None

    def kill(self) -> None:
        assert self.proc is not None
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(10)


class Process(Served):
    """``vmsnap-simulator`` on its own port and data directory."""

    def __init__(self, data_dir: str, *extra: str) -> None:
        self.data_dir = data_dir
        self.extra = list(extra)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Process:
        log = open(os.path.join(self.data_dir, f"sim-{time.time()}.log"), "wb")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "simulator.cli", "--data-dir", self.data_dir, "--port",
             str(self.port), *self.extra], stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True)
        proc = self.proc

        def answering() -> bool:
            assert proc.poll() is None, "the simulator exited"
            return requests.get(self.url + "/client/api", timeout=1) is not None

        wait_until(answering, 30, interval=0.1, ignore=(requests.ConnectionError, requests.Timeout),
                   message="the simulator to answer")
        return self

    def token(self) -> str:
        with open(os.path.join(self.data_dir, "control-token")) as fh:
            return fh.read().strip()

    def control(self, method: str, path: str, body: object = None) -> dict:
        resp = requests.request(method, self.url + "/_sim" + path, json=body, timeout=10,
                                headers={"X-Vmsnap-Sim-Token": self.token()})
        assert resp.status_code == 200, resp.text
        return resp.json()

    def client(self) -> Client:
        state = self.control("GET", "/state")
        admin = next(u for u in state["objects"]["User"] if u["username"] == "admin")
        return Client(self.url + "/client/api", admin["api_key"], admin["secret_key"],
                      poll=0.02)




class DriverProcess(Served):
    """``vmsnap-driver serve`` on the simulated host, on its own port and data directory."""

    def __init__(self, data_dir: str, secret: str = "served-secret",  # noqa: S107
                 pool: str | None = None) -> None:
        self.data_dir = data_dir
        self.secret = secret
        self.pool = os.path.abspath(pool or os.path.join(data_dir, "pool"))
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> DriverProcess:
        pool = self.pool
        os.makedirs(pool, exist_ok=True)
        env = dict(os.environ, VMSNAP_BACKEND="simulated", VMSNAP_SECRET=self.secret,
                   VMSNAP_DATA_DIR=os.path.join(self.data_dir, "driver"),
                   VMSNAP_STORAGE_POOLS=pool, VMSNAP_PORT=str(self.port),
                   VMSNAP_GUEST_DATA_COMMAND="true")
        log = open(os.path.join(self.data_dir, f"driver-{time.time()}.log"), "wb")  # noqa: SIM115
        self.proc = subprocess.Popen([sys.executable, "-m", "driver.cli", "serve"], env=env,
                                     stdout=log, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        proc = self.proc

        def ready() -> bool:
            assert proc.poll() is None, "the driver exited"
            return requests.get(self.url + "/healthz", timeout=1).status_code == 200

        wait_until(ready, 30, interval=0.1, ignore=(requests.ConnectionError, requests.Timeout),
                   message="the driver to answer")
        return self
