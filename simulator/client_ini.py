"""``cloudstack.ini`` in the data directory: the admin's endpoint and keys, as the ``cs``
client reads them. Only the owner may read it (it holds the admin's secret)."""

from __future__ import annotations

import configparser
import os

from simulator.config import SimConfig


def path(config: SimConfig) -> str:
    return os.path.join(config.data_dir, "cloudstack.ini")


def write(config: SimConfig, endpoint: str, key: str, secret: str) -> str:
    """Write the file; return its path."""
    ini = configparser.ConfigParser(interpolation=None)
    ini["cloudstack"] = {"endpoint": endpoint, "key": key, "secret": secret}
    fd = os.open(path(config), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        ini.write(fh)
    return path(config)


def rekey(config: SimConfig, key: str, secret: str) -> None:
    """The admin's new keys (after a reset) into the file the console script wrote, its
    endpoint kept; nothing when there is no such file (an embedded simulator)."""
    ini = configparser.ConfigParser(interpolation=None)
    try:
        if not ini.read(path(config)) or not ini.has_section("cloudstack"):
            return
    except configparser.Error:
        return
    write(config, ini["cloudstack"].get("endpoint", ""), key, secret)
