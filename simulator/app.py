"""``create_app(config)``: the simulator's WSGI app, and a threaded server helper for tests."""

from __future__ import annotations

import os
import threading
from typing import Any

from flask import Flask, Response, jsonify, request
from werkzeug.exceptions import HTTPException
from werkzeug.serving import WSGIRequestHandler, make_server

from driver.http.auth import stored_secret
from simulator import control, ui
from simulator.agents import AgentFaults, FaultInjectingAgent
from simulator.api import commands as _commands  # noqa: F401 - registers every command
from simulator.api import render, server
from simulator.api.commands.vmsnapshots import recovered_result
from simulator.config import SimConfig
from simulator.demo import seed_demo_instances
from simulator.errors import ApiError
from simulator.hosts import LocalHost, build_hosts
from simulator.orchestrator import Manager
from simulator.store import Store


def control_token(config: SimConfig) -> str:
    return stored_secret(os.path.join(config.data_dir, "control-token"))


def prepare(config: SimConfig) -> tuple[str, str, str]:
    """Create the world once (without starting anything); return the admin's API key and
    secret and the control token, for the console script to print."""
    from simulator.orchestrator.accounts import Accounts
    from simulator.orchestrator.core import Context

    store = Store(config.database)
    try:
        accounts = Accounts(Context(config, store, agent=None))  # type: ignore[arg-type]
        accounts.bootstrap()
        key, secret = accounts.admin_keys()
    finally:
        store.close()
    return key, secret, control_token(config)


def create_app(config: SimConfig) -> Flask:
    store = Store(config.database)
    hosts = build_hosts(config, store)
    manager = Manager(config, store, FaultInjectingAgent(hosts.agent, AgentFaults(store)))
    manager.accounts.bootstrap()
    renderer = render.Renderer(store)
    manager.recover(recovered_result(store, renderer))
    if config.demo_instances:
        seed_demo_instances(manager)
    manager.follow_host()
    app = Flask("simulator", static_folder=None)
    app.config["MAX_CONTENT_LENGTH"] = config.max_body_bytes
    app.extensions["sim.manager"] = manager
    app.extensions["sim.renderer"] = renderer
    app.extensions["sim.host"] = hosts.local
    app.extensions["sim.hosts"] = hosts
    app.extensions["sim.control_token"] = control_token(config)
    if config.ssh_port:
        from simulator.ssh import SshGateway

        gateway = app.extensions["sim.ssh"] = SshGateway(manager, config).start()
        manager.jobs.before_finish.append(gateway.catch_up)
    app.register_blueprint(server.bp)
    app.register_blueprint(control.bp)
    app.register_blueprint(ui.bp)

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Response:
        if request.path.startswith("/client/api"):
            # The body may be what was refused (too large): only the query string can say
            # which format was asked for; JSON when it does not.
            asked = (request.args.get("response") or "json").lower()
            return render.error("error", ApiError(exc.description or exc.name,
                                                  code=exc.code or 500),
                                as_json=asked != "xml")
        resp = jsonify({"error": {"code": exc.code, "message": exc.description}})
        resp.status_code = exc.code or 500
        return resp

    return app


class _QuietHandler(WSGIRequestHandler):
    def log_request(self, *args: Any, **kwargs: Any) -> None:
        """Tests make thousands of requests; the access log would drown their output."""


class ThreadedServer:
    """The simulator on a real HTTP server on 127.0.0.1, port 0, in a thread (for tests)."""

    def __init__(self, config: SimConfig) -> None:
        self.app = create_app(config)
        self.server = make_server("127.0.0.1", 0, self.app, threaded=True,
                                  request_handler=_QuietHandler)
        self.port = self.server.server_port
        self.url = f"http://127.0.0.1:{self.port}"
        self.endpoint = self.url + "/client/api"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.integration = None
        if config.integration_api_port:
            self.integration = make_server("127.0.0.1", config.integration_api_port, self.app,
                                           threaded=True, request_handler=_QuietHandler)
            threading.Thread(target=self.integration.serve_forever, daemon=True).start()

    @property
    def manager(self) -> Manager:
        return self.app.extensions["sim.manager"]

    @property
    def host(self) -> LocalHost | None:
        """The in-process driver and its simulated host, if the simulator runs one."""
        return self.app.extensions["sim.host"]

    @property
    def control_token(self) -> str:
        return self.app.extensions["sim.control_token"]

    def start(self) -> ThreadedServer:
        self.thread.start()
        import requests

        requests.get(self.endpoint, timeout=10)  # ready once it answers at all
        return self

    def stop(self) -> None:
        if self.integration is not None:
            self.integration.shutdown()
            self.integration.server_close()
        self.server.shutdown()
        self.thread.join(10)
        gateway = self.app.extensions.get("sim.ssh")
        if gateway is not None:
            gateway.stop()
        self.manager.close()
        self.manager.jobs.wait_idle(10)
        self.manager.jobs.shutdown()

    def __enter__(self) -> ThreadedServer:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()
