"""``vmsnap-simulator``: a CloudStack management server in a box."""

from __future__ import annotations

import argparse
import logging
import sys
from typing import Any

from driver import logs
from simulator.config import load_config


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="vmsnap-simulator", description=__doc__)
    parser.add_argument("--config", help="INI file ([simulator], [zone:NAME], ...)")
    parser.add_argument("--host")
    parser.add_argument("--port", type=int)
    parser.add_argument("--data-dir")
    parser.add_argument("--driver-url", help="a driver to use as the host (default: an "
                                             "in-process driver on the simulated host)")
    parser.add_argument("--driver-secret")
    parser.add_argument("--driver-backend", choices=["simulated", "libvirt"],
                        help="backend of the in-process driver (libvirt: lab mode)")
    parser.add_argument("--threads", type=int, default=8)
    args = parser.parse_args(argv)
    try:
        config = load_config(args.config, host=args.host, port=args.port,
                             data_dir=args.data_dir, driver_url=args.driver_url,
                             driver_secret=args.driver_secret,
                             driver_backend=args.driver_backend)
    except ValueError as exc:
        print(f"vmsnap-simulator: {exc}", file=sys.stderr)
        return 2
    logs.configure("INFO", as_json=False)
    from gunicorn.app.base import BaseApplication

    from simulator.app import create_app, prepare

    key, secret, token = prepare(config)
    url = f"http://{config.host}:{config.port}"
    print(f"web UI:         {url}/client/\n"
          f"CloudStack API: {url}/client/api\n"
          f"admin login:    {config.admin_username} / {config.admin_password} (domain ROOT)\n"
          f"user login:     {config.user_username} / {config.user_password} (domain ROOT)\n"
          f"admin apikey:   {key}\nadmin secret:   {secret}\n"
          f"control token:  {token} (header X-Vmsnap-Sim-Token"
          f" for {url}/_sim/)", flush=True)

    class Server(BaseApplication):  # type: ignore[misc]
        def load_config(self) -> None:
            for k, v in {"bind": f"{config.host}:{config.port}", "workers": 1,
                         "worker_class": "gthread", "threads": args.threads, "timeout": 3600,
                         "accesslog": None}.items():
                self.cfg.set(k, v)

        def load(self) -> Any:
            # Built in the worker: a worker that dies is replaced and recovers on start.
            return create_app(config)

    logging.getLogger(__name__).info("serving on %s", url)
    Server().run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
