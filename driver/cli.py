"""``vmsnap-driver``: serve the driver, check the host, or run crash recovery."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from typing import Any

from driver import logs
from driver.settings import Settings, load_settings

log = logging.getLogger("driver.cli")


def _settings(args: argparse.Namespace) -> Settings:
    settings = load_settings(args.config)
    overrides = {k: v for k, v in {"host": getattr(args, "host", None),
                                   "port": getattr(args, "port", None),
                                   "libvirt_uri": args.uri, "data_dir": args.data_dir}.items()
                 if v is not None}
    return settings.with_overrides(**overrides)


def serve(settings: Settings) -> None:
    """Run the app under gunicorn: one process (the per-VM locks live in it), many threads."""
    from gunicorn.app.base import BaseApplication

    from driver.app import create_app

    class Server(BaseApplication):  # type: ignore[misc]
        def load_config(self) -> None:
            for key, value in {"bind": f"{settings.host}:{settings.port}", "workers": 1,
                               "worker_class": "gthread", "threads": settings.threads,
                               "timeout": 3600, "accesslog": None,
                               "limit_request_line": 8190}.items():
                self.cfg.set(key, value)

        def load(self) -> Any:
            # Built in the worker, never before the fork: a libvirt connection or a SQLite
            # handle must not cross it. A worker that dies is replaced and recovers.
            return create_app(settings)

    log.info("serving on http://%s:%d", settings.host, settings.port)
    Server().run()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="vmsnap-driver", description=__doc__)
    parser.add_argument("--config", help="INI file with a [driver] section")
    parser.add_argument("--uri", help="libvirt URI (default qemu:///system)")
    parser.add_argument("--data-dir", help="where the journal database lives")
    sub = parser.add_subparsers(dest="action", required=True)
    p_serve = sub.add_parser("serve", help="serve the HTTP API")
    p_serve.add_argument("--host")
    p_serve.add_argument("--port", type=int)
    sub.add_parser("check", help="connect to the hypervisor and report")
    sub.add_parser("recover", help="resolve operations a crash interrupted, then exit")
    args = parser.parse_args(argv)
    try:
        settings = _settings(args)
    except ValueError as exc:
        print(f"vmsnap-driver: {exc}", file=sys.stderr)
        return 2
    logs.configure(settings.log_level, settings.log_json)
    if args.action == "serve":
        serve(settings)
        return 0
    from driver.app import build_service
    from driver.core.errors import DriverError
    from driver.recovery import recover

    service = build_service(settings)
    try:
        if args.action == "check":
            print(json.dumps({"hypervisor": service.hv.ping(), "vms": service.store.vms()}))
        else:
            for line in recover(service):
                print(line)
    except DriverError as exc:
        print(f"vmsnap-driver: {exc.details}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
