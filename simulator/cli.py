"""vmsnap-simulator: a CloudStack management server in a box."""

from __future__ import annotations

import argparse
import configparser
import logging
import os
import sys

from driver import logs, serving
from simulator.config import SimConfig, load_config

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
    p.add_argument("--driver-backend", choices=["simulated", "libvirt"],
                   help="backend of the in-process driver; libvirt drives real QEMU "
                        f"(default: {d.driver_backend})")
    p.add_argument("--demo-instances", action=argparse.BooleanOptionalAction,
                   help="on a fresh start, deploy one running instance per account "
                        "(default: off; scripts/run.sh turns it on)")
    p.add_argument("--threads", type=int, default=8,
                   help="request threads of the one server process (default: 8)")
    return p


def write_client_config(config: SimConfig, endpoint: str, key: str, secret: str) -> str:
    """``cloudstack.ini`` in the data directory, as the ``cs`` client reads it; only the
    owner may read it (it holds the admin's secret)."""
    path = os.path.join(config.data_dir, "cloudstack.ini")
    ini = configparser.ConfigParser(interpolation=None)
    ini["cloudstack"] = {"endpoint": endpoint, "key": key, "secret": secret}
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        ini.write(fh)
    return path


def banner(config: SimConfig, key: str, secret: str, token: str, ini: str) -> str:
    """What a newcomer needs: where to point a browser and a client, and how to log in."""
    url = f"http://{config.host}:{config.port}"
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
    except (ValueError, serving.StartupError) as exc:
        print(f"vmsnap-simulator: {exc}", file=sys.stderr)
        return 2
    logs.configure(args.log_level, as_json=False)
    from simulator.app import create_app, prepare

    key, secret, token = prepare(config)
    url = f"http://{config.host}:{config.port}"
    ini = write_client_config(config, url + "/client/api", key, secret)
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
