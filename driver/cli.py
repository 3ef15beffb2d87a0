"""vmsnap-driver: serve the driver, check the host, or run crash recovery."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys

from driver import logs, serving
from driver.settings import Settings, load_settings

log = logging.getLogger("driver.cli")

DESCRIPTION = """\
The cloudstack-vmsnap driver: executes CloudStack's VM snapshot agent commands against
libvirt (or the simulated host). Settings come from the defaults, then the INI file
(section [driver]), then VMSNAP_<SETTING> environment variables, then these flags."""


def _settings(args: argparse.Namespace) -> Settings:
    settings = load_settings(args.config)
    overrides = {k: v for k, v in {"host": getattr(args, "host", None),
                                   "port": getattr(args, "port", None),
                                   "libvirt_uri": args.uri, "data_dir": args.data_dir,
                                   "log_level": args.log_level}.items()
                 if v is not None}
    return settings.with_overrides(**overrides)


def _usable_data_dir(settings: Settings) -> None:
    """The data directory made, and the secret read or made, before anything starts: a
    directory that cannot be used is a one-line reason, not a worker's traceback."""
    from driver.app import load_secret

    try:
        os.makedirs(settings.data_dir, exist_ok=True)
        load_secret(settings)
    except OSError as exc:
        raise serving.StartupError(f"cannot use the data directory {settings.data_dir}: "
                                   f"{exc.strerror or exc}"
                                   f"{f' ({exc.filename})' if exc.filename else ''}") from None


def serve(settings: Settings) -> None:
    """Run the app under gunicorn on a socket bound before anything else happens."""
    from driver.app import create_app

    _usable_data_dir(settings)
    sock = serving.listen(settings.host, settings.port)
    log.info("serving on %s", serving.url(settings.host, sock.getsockname()[1]))
    serving.run_gunicorn(sock, lambda: create_app(settings), threads=settings.threads,
                         log_level=settings.log_level, limit_request_line=8190)


def parser() -> argparse.ArgumentParser:
    """The command line, every flag with its help and default."""
    d = Settings()
    p = serving.parser("vmsnap-driver", DESCRIPTION, log_level=d.log_level,
                       config_help="INI file with a [driver] section "
                                   "(default: $VMSNAP_CONFIG, or none)")
    p.add_argument("--uri", metavar="URI",
                   help=f"libvirt connection URI (default: {d.libvirt_uri})")
    p.add_argument("--data-dir", metavar="DIR",
                   help=f"where the journal database and the secret live (default: {d.data_dir})")
    sub = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    p_serve = sub.add_parser("serve", help="serve the HTTP API",
                             description="Recover, then serve the HTTP API under gunicorn.")
    p_serve.add_argument("--host", help=f"address to listen on (default: {d.host})")
    p_serve.add_argument("--port", type=int, help=f"port to listen on (default: {d.port})")
    sub.add_parser("check", help="connect to the hypervisor and report its versions",
                   description="Connect to the hypervisor; print its versions and the VMs "
                               "the journal knows.")
    sub.add_parser("recover", help="resolve operations a crash interrupted, then exit",
                   description="Resolve operations a crash interrupted and thaw guests left "
                               "frozen; one line each.")
    p_reconcile = sub.add_parser(
        "reconcile", help="compare the journal's snapshots with what the hypervisor holds",
        description="Print one JSON line per difference between the journal and the "
                    "hypervisor; exit 1 while any is left.")
    p_reconcile.add_argument("--repair", action="store_true",
                             help="delete orphans from storage, drop records of snapshots "
                                  "held nowhere")
    return p


def main(argv: list[str] | None = None) -> int:
    """The ``vmsnap-driver`` console script."""
    args = parser().parse_args(argv)
    try:
        settings = _settings(args)
        logs.configure(settings.log_level, settings.log_json)
        serving.require_backend(settings.backend)
        if args.action == "serve":
            serve(settings)
            return 0
        _usable_data_dir(settings)
    except (ValueError, serving.StartupError) as exc:
        print(f"vmsnap-driver: {exc}", file=sys.stderr)
        return 2
    from driver.app import build_service
    from driver.core.errors import DriverError
    from driver.recovery import recover

    service = build_service(settings)
    try:
        if args.action == "check":
            print(service.hv.ping())
            readiness = service.hv.capture_readiness()
            if readiness:
                print(readiness)
            vms = service.store.vms()
            print(f"VMs in the journal: {', '.join(vms) if vms else 'none'}")
        elif args.action == "reconcile":
            from driver.reconcile import reconcile

            found = reconcile(service.ctx, repair=args.repair)
            for diff in found:
                print(json.dumps(diff.as_dict()))
            # Exit 1 while differences remain (a monitoring check can run this).
            return 1 if any(not d.repaired for d in found) else 0
        else:
            for line in recover(service):
                print(line)
    except DriverError as exc:
        print(f"vmsnap-driver: {exc.details}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
