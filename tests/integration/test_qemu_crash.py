"""Kill -9 the served driver in the middle of a live memory capture, start it again: its
start-up recovery leaves the guest running and thawed, the migration cancelled, no disk tag
and no state file behind, the journal finished, and a new snapshot works."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from contract_tests.waiting import wait_until
from driver.http.auth import signed_headers
from driver.journal import Journal
from driver.store import Database
from tests import agentjson as aj
from tests.support.served import Served, free_port

pytestmark = [pytest.mark.qemu, pytest.mark.agent]
SECRET = "crash-secret"

# Run in the served driver's process before gunicorn forks its worker: stop at a named
# point of the capture, say so in a file, and wait there to be killed.
HOLD = """
import os, sys, time
from driver.hypervisors.libvirt import live
def hold(step):
    if step == os.environ["HOLD_STEP"]:
        open(os.environ["HOLD_FILE"], "w").close()
        time.sleep(3600)
live.HOOKS.append(hold)
from driver.cli import main
sys.exit(main(["serve"]))
"""


class Driver(Served):
    """The driver as its own process group, on a real port, against the real libvirtd."""

    def __init__(self, tmp: Any, pool: str, **env: str) -> None:
        self.tmp, self.pool = tmp, pool
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.env = dict(os.environ, VMSNAP_SECRET=SECRET, VMSNAP_STORAGE_POOLS=pool,
                        VMSNAP_DATA_DIR=str(tmp / "data"), VMSNAP_PORT=str(self.port),
                        VMSNAP_LIBVIRT_URI="qemu:///system", HOLD_FILE=str(tmp / "held"),
                        **env)
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, hold: str | None = None) -> None:
        env = dict(self.env, HOLD_STEP=hold or "")
        log = open(self.tmp / "driver.log", "ab")  # noqa: SIM115
        self.proc = subprocess.Popen([sys.executable, "-c", HOLD], env=env, stdout=log,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        # The port listens before the app is loaded: a request may wait, then time out.
        wait_until(self._ready, 120, interval=0.1, message="the driver to serve",
                   ignore=(requests.RequestException,))

    def _ready(self) -> bool:
        assert self.proc is not None and self.proc.poll() is None, \
            (self.tmp / "driver.log").read_text()[-2000:]
        return requests.get(self.base + "/readyz", timeout=2).status_code == 200

    def post_in_background(self, command: dict[str, Any]) -> None:
        data = aj.body(command)
        headers = {"Content-Type": "application/json",
                   **signed_headers(SECRET, "POST", "/v1/commands", data)}

        def send() -> None:
            try:
                requests.post(self.base + "/v1/commands", data=data, headers=headers,
                              timeout=600)
            except requests.RequestException:
                pass  # the driver is killed under it

        import threading

        threading.Thread(target=send, daemon=True).start()

    def post(self, command: dict[str, Any]) -> dict[str, Any]:
        data = aj.body(command)
        resp = requests.post(self.base + "/v1/commands", data=data, timeout=600, headers={
            "Content-Type": "application/json",
            **signed_headers(SECRET, "POST", "/v1/commands", data)})
        return dict(next(iter(resp.json()[0].values())))



@pytest.fixture
def served(tmp_path: Any, pool: str, libvirtd: str) -> Iterator[Any]:
    made: list[Driver] = []

    def make(**env: str) -> Driver:
        made.append(Driver(tmp_path, pool, **env))
        return made[-1]

    yield make
    for driver in made:
        driver.stop()


def leftovers(vm: Any) -> list[str]:
    return sorted(f for f in os.listdir(vm.pool) if "@" in f or f.endswith(".partial"))


@pytest.mark.parametrize("mechanism,step,quiesce,bandwidth", [
    ("background-snapshot", "copy-running", True, 2),  # frozen, stream being written
    ("background-snapshot", "file-complete", False, 256),  # stream done, file not committed
    ("precopy", "pre-switchover", False, 256),  # guest paused by QEMU, waiting for us
], ids=["copy-running", "file-complete", "pre-switchover"])
def test_recovery_after_a_kill_during_a_live_capture(served, agent_guest, mechanism, step,
                                                     quiesce, bandwidth):
    vm = agent_guest
    driver = served(VMSNAP_MEMORY_CAPTURE=mechanism, VMSNAP_LIVE_BANDWIDTH_MIB=str(bandwidth))
    driver.start(hold=step)
    driver.post_in_background(aj.create(vm.name, "k1", vm.volumes(), type="DiskAndMemory",
                                        quiesce=quiesce))
    wait_until(lambda: os.path.exists(driver.env["HOLD_FILE"]), 120, interval=0.05,
               message=f"the capture to reach {step}")
    if quiesce:
        assert vm.agent("guest-fsfreeze-status") == "frozen"
    if step == "pre-switchover":
        assert vm.monitor_status() == "pre-switchover" and not vm.qmp("query-status")["running"]
    if step == "copy-running":
        assert vm.monitor_status() == "active"
    assert leftovers(vm)  # the partial state file is there
    driver.kill()

    driver.start()  # recovery runs before the driver serves
    assert vm.qmp("query-status")["running"] is True
    assert vm.monitor_status() in ("cancelled", "completed")
    assert vm.agent("guest-fsfreeze-status") == "thawed"
    assert leftovers(vm) == [] and vm.tags(0) == [] and vm.dom.listAllSnapshots() == []
    db = Database(str(driver.tmp / "data" / "driver.sqlite3"))
    assert Journal(db).unfinished() == []
    caps = {c["capability"]: c["state"] for c in vm.qmp("query-migrate-capabilities")}
    assert not caps["pause-before-switchover"] and not caps["background-snapshot"]
    answer = driver.post(aj.create(vm.name, "k2", vm.volumes(), type="DiskAndMemory"))
    assert answer["result"] is True, answer["details"]
    assert vm.tags(0) == ["k2"] and leftovers(vm) == [f"{vm.name}@k2.vmstate"]
