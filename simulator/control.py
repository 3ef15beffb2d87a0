"""``/_sim/``: the control plane beside the API. Reset, state dump, fault injection (at the
agent boundary and, for the simulated host, per step), job timing, and guest data (what a
test would do inside a VM over SSH). Every request needs the control token."""

from __future__ import annotations

import hmac
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request

from simulator import client_ini
from simulator.agents import AgentFaults
from simulator.config import MAX_JOB_DELAY_MS
from simulator.errors import ApiError
from simulator.hosts import LocalHost
from simulator.models import VM
from simulator.orchestrator import Manager, wire

bp = Blueprint("control", __name__, url_prefix="/_sim")
TOKEN_HEADER = "X-Vmsnap-Sim-Token"  # noqa: S105 - a header name


def _error(status: int, message: str) -> Response:
    resp = jsonify({"error": {"code": status, "message": message}})
    resp.status_code = status
    return resp


@bp.before_request
def authenticate() -> Response | None:
    token = current_app.extensions["sim.control_token"]
    given = request.headers.get(TOKEN_HEADER, "")
    if not hmac.compare_digest(given.encode(), token.encode()):
        return _error(401, "a valid control token is required")
    return None


def _manager() -> Manager:
    return current_app.extensions["sim.manager"]


def _body() -> dict[str, Any]:
    data = request.get_json(silent=True)
    return data if isinstance(data, dict) else {}


def _host() -> LocalHost | None:
    """The in-process driver, if the simulator runs one."""
    return current_app.extensions.get("sim.host")


def _faults() -> Any:
    """The in-process simulated host's step faults, if that is what the simulator runs on."""
    host = _host()
    return host.simulated.faults if host is not None and host.simulated is not None else None


@bp.post("/reset")
def reset() -> Response:
    manager = _manager()
    manager.jobs.wait_idle()
    with manager.lock:
        manager.store.reset()
        for host in current_app.extensions["sim.hosts"].locals:
            host.reset()
        manager.accounts.bootstrap()
    key, secret = manager.accounts.admin_keys()
    client_ini.rekey(manager.config, key, secret)  # the written file keeps working
    return jsonify({"status": "reset", "apikey": key, "secretkey": secret})


@bp.get("/state")
def state() -> Response:
    manager = _manager()
    out: dict[str, Any] = {"objects": manager.store.dump(),
                           "agentFaults": AgentFaults(manager.store).all()}
    host = _host()
    host_state = host.state() if host is not None else None
    if host_state is not None:
        out["host"] = host_state
    return jsonify(out)


@bp.route("/faults", methods=["GET", "POST", "DELETE"])
def faults() -> Response:
    """Agent-level: {"command": "CreateVMSnapshotCommand", "action": "fail|fault|hang|delay|
    answer", "count": 1, "ms": 0, "details": "...", "answer": {...}}. Host-level (simulated
    host only): {"step": "freeze|capture.volume.1|...", "action": "fail|hang|delay|die|
    no_agent", "vm": "<vm uuid>", "ms": 0, "count": 1}."""
    manager = _manager()
    agent_faults = AgentFaults(manager.store)
    host_faults = _faults()
    if request.method == "DELETE":
        agent_faults.clear()
        if host_faults is not None:
            host_faults.clear()
        return jsonify({"status": "cleared"})
    if request.method == "GET":
        return jsonify({"agent": agent_faults.all(),
                        "host": host_faults.all() if host_faults is not None else []})
    body = _body()
    try:
        count, ms = int(body.get("count", 1)), int(body.get("ms", 0))
        if "step" in body:
            if host_faults is None:
                return _error(400, "step faults need the in-process simulated host")
            vm = None
            if body.get("vm"):
                found = manager.store.by_uuid(VM, str(body["vm"]))
                if found is None:
                    return _error(404, "no such VM")
                vm = found.instance_name
            host_faults.add(str(body["step"]), str(body.get("action", "fail")), vm=vm,
                            ms=ms, count=count)
        else:
            agent_faults.add(str(body.get("command", "")), str(body.get("action", "fail")),
                             count=count, ms=ms, details=body.get("details"),
                             answer=body.get("answer"))
    except (ValueError, TypeError) as exc:
        return _error(400, str(exc))
    except ApiError as exc:
        return _error(400, exc.text)
    except Exception as exc:  # the host's own validation errors
        details = getattr(exc, "details", None)
        if details is None:
            raise
        return _error(400, details)
    return jsonify({"status": "added"})


@bp.route("/jobs", methods=["GET", "POST"])
def jobs() -> Response:
    """Job timing: {"delay_ms": N} for every job, or with "command" for one API command."""
    manager = _manager()
    if request.method == "POST":
        body = _body()
        try:
            ms = int(body.get("delay_ms", 0))
            if not 0 <= ms <= MAX_JOB_DELAY_MS:
                raise ValueError
        except (TypeError, ValueError):
            return _error(400, f"delay_ms must be an integer from 0 to {MAX_JOB_DELAY_MS}")
        command = body.get("command")
        if command:
            manager.store.set_setting(f"job.delay.{str(command).lower()}", str(ms))
        else:
            manager.set_setting("job.delay.ms", str(ms))
    return jsonify({"delay_ms": manager.setting("job.delay.ms")})


@bp.post("/vms/<vm_uuid>/guest")
def guest(vm_uuid: str) -> Response:
    """Guest data: {"op": "write|read|write_file|read_file|delete_file|set_memory|
    get_memory", "device": 0, "offset": 0, "length": 0, "data": "<base64>", "path": "...",
    "key": "...", "value": "..."}."""
    manager = _manager()
    vm = manager.store.by_uuid(VM, vm_uuid)
    if vm is None or vm.removed:
        return _error(404, "no such VM")
    body = _body()
    names = ("offset", "length", "data", "path", "key", "value")
    fields: dict[str, Any] = {k: body[k] for k in names if k in body}
    if "device" in body:
        fields["deviceId"] = body["device"]
    try:
        command = wire.guest_data(vm, str(body.get("op", "")), **fields)
    except (ValueError, TypeError) as exc:  # refused by the driver's own schema
        return _error(400, str(exc))
    answer = manager.send(command)
    if not answer.result:
        return _error(400, answer.details)
    return jsonify({"result": True, "data": answer.payload, "memory": answer.memory})
