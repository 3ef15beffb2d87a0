"""Both services as served in production (gunicorn + waitress) stay available: clients that
dribble half a request (slowloris) do not starve them, oversized requests get a clear error,
and 48 concurrent keep-alive clients see no connection reset."""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from driver.http.auth import signed_headers
from tests import agentjson as aj
from tests.support.served import DriverProcess, Process

HALF_SENT = 16  # twice the 8, and more than either service's threads


@pytest.fixture(scope="module")
def simulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Process]:
    sim = Process(str(tmp_path_factory.mktemp("sim")), "--threads", "4").start()
    yield sim
    sim.stop()


@pytest.fixture(scope="module")
def driver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DriverProcess]:
    served = DriverProcess(str(tmp_path_factory.mktemp("drv"))).start()
    yield served
    served.stop()


def _half_sent(port: int, path: str) -> list[socket.socket]:
    """Connections that sent a request line, one header and part of another, then stopped."""
    out = []
    for _ in range(HALF_SENT):
        sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        sock.sendall(f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\nX-a: ".encode())
        out.append(sock)
    return out


def _half_body(port: int, path: str) -> list[socket.socket]:
    """Connections that sent their headers and only part of the announced body."""
    out = []
    for _ in range(HALF_SENT):
        sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        sock.sendall(f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     "Content-Length: 1000\r\n\r\n[".encode())
        out.append(sock)
    return out


@pytest.mark.parametrize("opener", [_half_sent, _half_body])
def test_slowloris_does_not_starve_the_simulator(simulator: Process, opener) -> None:
    socks = opener(simulator.port, "/client/api")
    try:
        for _ in range(3):
            resp = requests.get(simulator.url + "/client/api",
                                params={"command": "listZones", "response": "json"}, timeout=10)
            assert resp.status_code == 401
    finally:
        for sock in socks:
            sock.close()


@pytest.mark.parametrize("opener", [_half_sent, _half_body])
def test_slowloris_does_not_starve_the_driver(driver: DriverProcess, opener) -> None:
    socks = opener(driver.port, "/v1/commands")
    try:
        body = aj.body(aj.stop("i-missing"))
        for _ in range(3):
            resp = requests.post(driver.url + "/v1/commands", data=body, timeout=10,
                                 headers=signed_headers(driver.secret, "POST", "/v1/commands",
                                                        body))
            assert resp.status_code == 200
            assert requests.get(driver.url + "/healthz", timeout=10).status_code == 200
    finally:
        for sock in socks:
            sock.close()


def test_long_request_lines_get_cloudstacks_error_shape(simulator: Process) -> None:
    resp = requests.get(simulator.url + "/client/api",
                        params={"command": "listZones", "response": "json",
                                "x": "y" * 6000}, timeout=10)
    assert resp.status_code == 401
    assert resp.json()["listzonesresponse"]["errorcode"] == 401


def test_huge_bodies_are_refused_in_each_services_shape(simulator: Process,
                                                        driver: DriverProcess) -> None:
    resp = requests.post(simulator.url + "/client/api", data={"x": "y" * (1 << 20)},
                         timeout=30)
    assert resp.status_code == 413
    assert resp.json()["errorresponse"]["errorcode"] == 413
    body = b"[" + b" " * (4 << 20) + b"]"
    resp = requests.post(driver.url + "/v1/commands", data=body, timeout=30,
                         headers=signed_headers(driver.secret, "POST", "/v1/commands", body))
    assert resp.status_code == 413
    assert resp.json()["error"]["code"] == 413


def test_48_keep_alive_clients_see_no_connection_reset(simulator: Process) -> None:
    errors: list[BaseException] = []
    lock = threading.Lock()

    def client(_: int) -> int:
        session = requests.Session()
        done = 0
        for _ in range(40):
            try:
                resp = session.get(simulator.url + "/client/api",
                                   params={"command": "listZones", "response": "json"},
                                   timeout=60)
                assert resp.status_code == 401
                done += 1
            except (requests.ConnectionError, AssertionError) as exc:
                with lock:
                    errors.append(exc)
        return done

    with ThreadPoolExecutor(48) as pool:
        total = sum(pool.map(client, range(48)))
    assert errors == []
    assert total == 48 * 40


def test_controls_in_echoed_values_get_cloudstack_json_from_the_served_simulator(
        simulator: Process) -> None:
    admin = simulator.client()
    for command, params, status in (("deleteVMSnapshot", {"vmsnapshotid": "x\x01"}, 431),
                                    ("listZones\x00", {}, 432),
                                    ("listVMSnapshot", {"pagesize": "9" * 25}, 431)):
        resp = admin.raw(command, **params)
        assert resp.status_code == status, resp.text
        assert next(iter(resp.json().values()))["errorcode"] == status
    resp = requests.post(simulator.url + "/client/api", timeout=10, data={
        "command": "login", "username": "a\nb", "password": "x", "response": "json"})
    assert resp.status_code == 531
    assert resp.json()["loginresponse"]["errorcode"] == 531


def _worker(served: Process) -> int:
    """The pid of the one gunicorn worker under the served process."""
    assert served.proc is not None
    with open(f"/proc/{served.proc.pid}/task/{served.proc.pid}/children") as fh:
        return int(fh.read().split()[0])


def test_many_idle_connections_neither_crash_nor_stall_the_server(simulator: Process) -> None:
    """Idle connections up to the limit take the worker's descriptors past 1023 (what
    ``select()`` can watch); the worker keeps serving, and is the same worker after."""
    worker = _worker(simulator)
    socks = [socket.create_connection(("127.0.0.1", simulator.port), timeout=10)
             for _ in range(1010)]  # past the limit (1000): the rest wait in the listen queue
    try:
        deadline = time.monotonic() + 20
        while len(os.listdir(f"/proc/{worker}/fd")) < 1024:  # accepted: past select()'s reach
            assert time.monotonic() < deadline, "the connections were not accepted"
            time.sleep(0.05)
        time.sleep(0.5)
    finally:
        for sock in socks:
            sock.close()
    for _ in range(3):
        resp = requests.get(simulator.url + "/client/api",
                            params={"command": "listZones", "response": "json"}, timeout=20)
        assert resp.status_code == 401
    assert _worker(simulator) == worker
