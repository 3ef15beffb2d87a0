"""vmsnap-simulator: a CloudStack management server in a box."""

from __future__ import annotations

import argparse
import logging
import sqlite3
import sys
from dataclasses import replace

from driver import logs, serving
from simulator import client_ini
from simulator.config import DRIVER_BACKENDS, SimConfig, load_config

DESCRIPTION = """\
A CloudStack management server in a box: CloudStack's API and a web UI, reaching its host
through the cloudstack-vmsnap driver. Settings come from the defaults, then the INI file
([simulator], [zone:NAME], ...), then VMSNAP_SIM_<SETTING> environment variables, then
these flags."""


def parser() -> argparse.ArgumentParser:
    """The command line, every flag with its help and default."""
    d = SimConfig()
    p = serving.parser("vmsnap-simulator", DESCRIPTION, log_level="INFO",
                       log_level_default="INFO",
                       config_help="INI file ([simulator], [zone:NAME], [template:NAME], ...) "
                                   "(default: $VMSNAP_SIM_CONFIG, or none)")
    p.add_argument("--host", help=f"address to listen on (default: {d.host})")
    p.add_argument("--port", type=int, help=f"port to listen on (default: {d.port})")
    p.add_argument("--data-dir", metavar="DIR",
                   help=f"where the state is kept (default: {d.data_dir})")
    p.add_argument("--driver-url", metavar="URL",
                   help="a driver to use as the host (default: an in-process driver)")
    p.add_argument("--driver-secret", metavar="SECRET",
                   help="the secret that driver checks signatures with (default: generated "
                        "in DIR/driver for the in-process driver)")
    p.add_argument("--driver-backend", choices=DRIVER_BACKENDS,
                   help="backend of the in-process driver; libvirt drives real QEMU "
                        f"(default: {d.driver_backend})")
    p.add_argument("--demo-instances", action=argparse.BooleanOptionalAction,
                   help="on a fresh start, deploy one running instance per account "
                        "(default: off; scripts/run.sh turns it on)")
    p.add_argument("--threads", type=int, default=8,
                   help="request threads of the one server process (default: 8)")
    return p


def banner(config: SimConfig, key: str, secret: str, token: str, ini: str) -> str:
    """What a newcomer needs: where to point a browser and a client, and how to log in."""
    url = serving.url(config.host, config.port)
    demo = ("on: a fresh start deploys one running instance per account "
            "(--no-demo-instances to start empty)" if config.demo_instances else
            "off (--demo-instances deploys one per account on a fresh start)")
    return (f"web UI:         {url}/client/\n"
            f"CloudStack API: {url}/client/api\n"
            f"admin login:    {config.admin_username} / {config.admin_password} (domain ROOT)\n"
            f"user login:     {config.user_username} / {config.user_password} (domain ROOT)\n"
            f"admin apikey:   {key}\nadmin secret:   {secret}\n"
            f"control token:  {token} (header X-Vmsnap-Sim-Token for {url}/_sim/)\n"
            f"demo instances: {demo}\n"
            f"\nFor the cs client (or CLOUDSTACK_CONFIG={ini}):\n"
            f"export CLOUDSTACK_ENDPOINT={url}/client/api CLOUDSTACK_KEY={key} "
            f"CLOUDSTACK_SECRET={secret}\n")


def main(argv: list[str] | None = None) -> int:
    """The ``vmsnap-simulator`` console script."""
    args = parser().parse_args(argv)
    try:
        config = load_config(args.config, host=args.host, port=args.port,
                             data_dir=args.data_dir, driver_url=args.driver_url,
                             driver_secret=args.driver_secret,
                             driver_backend=args.driver_backend,
                             demo_instances=args.demo_instances)
        if not config.driver_url:
            serving.require_backend(config.driver_backend)
        sock = serving.listen(config.host, config.port)
        # CloudStack's integration API port: no credentials, so loopback only.
        integration = (serving.listen("127.0.0.1", config.integration_api_port)
                       if config.integration_api_port else None)
        # Port 0 takes a free port: the banner and cloudstack.ini name the one taken.
        config = replace(config, port=sock.getsockname()[1])
        from simulator.app import prepare

        try:
            key, secret, token = prepare(config)
            url = serving.url(config.host, config.port)
            ini = client_ini.write(config, url + "/client/api", key, secret)
        except (OSError, sqlite3.Error) as exc:
            raise serving.StartupError(
                f"cannot use the data directory {config.data_dir}: "
                f"{getattr(exc, 'strerror', None) or exc}") from None
    except (ValueError, serving.StartupError) as exc:
        print(f"vmsnap-simulator: {exc}", file=sys.stderr)
        return 2
    logs.configure(args.log_level, as_json=False)
    from simulator.app import create_app
    print(banner(config, key, secret, token, ini), flush=True)
    binds = [f"fd://{sock.fileno()}"]
    if integration is not None:
        print(f"integration API: http://127.0.0.1:{config.integration_api_port}/client/api "
              "(no credentials; loopback only)", flush=True)
        binds.append(f"fd://{integration.fileno()}")
    logging.getLogger(__name__).info("serving on %s", url)
    # Built in the worker: a worker that dies is replaced and recovers on start.
    serving.run_gunicorn(sock, lambda: create_app(config), threads=args.threads,
                         log_level=args.log_level, bind=binds)
    return 0


if __name__ == "__main__":
    sys.exit(main())
