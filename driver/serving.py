"""What both console scripts share: the version, start-up errors as one line, the listening
socket bound before anything is printed, and gunicorn without its control socket."""

from __future__ import annotations

import argparse
import errno
import importlib
import socket
from collections.abc import Callable
from importlib import metadata
from typing import Any

from driver.settings import LOG_LEVELS

DISTRIBUTION = "cloudstack-vmsnap"


class StartupError(Exception):
    """A reason not to start, said in one line that tells the user what to do."""


def version() -> str:
    """The installed distribution's version (``unknown`` when run from a bare checkout)."""
    try:
        return metadata.version(DISTRIBUTION)
    except metadata.PackageNotFoundError:
        return "unknown"


def parser(prog: str, description: str, *, config_help: str, log_level: str,
           log_level_default: str | None = None) -> argparse.ArgumentParser:
    """A console script's parser with the flags both share: ``--version``, ``--config`` and
    ``--log-level`` (``log_level`` is the default the help names)."""
    p = argparse.ArgumentParser(prog=prog, description=description,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--version", action="version", version=f"%(prog)s {version()}")
    p.add_argument("--config", metavar="FILE", help=config_help)
    p.add_argument("--log-level", type=str.upper, choices=LOG_LEVELS,
                   default=log_level_default,
                   help=f"least important log lines shown (default: {log_level})")
    return p


def require_backend(backend: str) -> None:
    """Refuse to start a backend whose binding is not installed, naming the extra to install
    (found here, not as an import error in a worker that then "failed to boot")."""
    if backend != "libvirt":
        return
    try:
        importlib.import_module("libvirt")
    except ImportError:
        raise StartupError(
            "the libvirt backend needs the libvirt Python binding, which is not installed: "
            f"pip install '{DISTRIBUTION}[libvirt]' (it builds against Debian's libvirt-dev "
            "and pkg-config), or choose the simulated backend") from None


def url(host: str, port: int) -> str:
    """``http://host:port``, an IPv6 address in brackets."""
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def listen(host: str, port: int) -> socket.socket:
    """Bind and listen now, so that a port in use is reported before any banner. Port 0
    takes a free one: ``getsockname()`` tells which. (The settings hold ports in range.)"""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise StartupError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    # As gunicorn does: a restart may reuse a port whose old connections are in TIME_WAIT.
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
        sock.listen(2048)
    except OSError as exc:
        sock.close()
        hint = (" (another server is using it: stop it or choose another --port)"
                if exc.errno == errno.EADDRINUSE else "")
        raise StartupError(f"cannot listen on {host}:{port}: {exc.strerror or exc}{hint}"
                           ) from None
    return sock


def run_gunicorn(sock: socket.socket, factory: Callable[[], Any], *, threads: int,
                 log_level: str, **options: Any) -> None:
    """Serve ``factory()``'s app on the already bound ``sock``: one worker process (the
    per-VM locks and the job threads live in it) serving with waitress's ``threads``
    threads."""
    from gunicorn.app.base import BaseApplication

    from driver.worker import WORKER

    # Waitress inside the worker reads each request whole before a thread runs it (see
    # driver.worker); the worker's heartbeat runs on its own thread, so a long command never
    # looks like a hung worker.
    settings = {"bind": f"fd://{sock.fileno()}", "workers": 1, "worker_class": WORKER,
                "threads": threads, "timeout": 60, "accesslog": None,
                "loglevel": log_level.lower(),
                # Its default path is the same for every instance on a machine, and nothing
                # here uses it.
                "control_socket_disable": True, **options}

    class Server(BaseApplication):  # type: ignore[misc]
        def load_config(self) -> None:
            for key, value in settings.items():
                if key in self.cfg.settings:  # older gunicorn has no control socket
                    self.cfg.set(key, value)

        def load(self) -> Any:
            # Built in the worker, never before the fork: a libvirt connection or a SQLite
            # handle must not cross it. A worker that dies is replaced and recovers.
            return factory()

    Server().run()
