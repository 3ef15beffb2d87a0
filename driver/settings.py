"""Typed settings: defaults < INI file (section ``[driver]``) < ``VMSNAP_*`` environment."""

from __future__ import annotations

import configparser
import difflib
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any


def _bool(value: str) -> bool:
    v = value.strip().lower()
    if v in ("1", "true", "yes", "on"):
        return True
    if v in ("0", "false", "no", "off", ""):
        return False
    raise ValueError(f"not a boolean: {value!r}")


def _list(value: str) -> list[str]:
    return [p.strip() for p in value.replace(os.pathsep, ",").split(",") if p.strip()]


BACKENDS = ("libvirt", "simulated")
MEMORY_CAPTURES = ("auto", "precopy", "background-snapshot", "savevm")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


def check_choice(name: str, value: str, choices: tuple[str, ...]) -> None:
    """A setting that takes one of a few words, refused in one line naming them."""
    if value not in choices:
        raise ValueError(f"setting {name}: {value!r} is not one of {', '.join(choices)}")


def check_port(name: str, value: int) -> None:
    """A TCP port setting (0: any free port)."""
    if not 0 <= value <= 65535:
        raise ValueError(f"setting {name}: {value} is not a port number (0-65535)")


@dataclass
class Settings:
    """Everything the driver can be told. Each field is also ``VMSNAP_<NAME>`` in upper case."""

    backend: str = "libvirt"  # libvirt | simulated
    libvirt_uri: str = "qemu:///system"
    libvirt_domain_type: str = "kvm"  # domains the lifecycle commands define: kvm or qemu (TCG)
    data_dir: str = "var/driver"
    storage_pools: list[str] = field(default_factory=lambda: ["/var/lib/libvirt/images"])
    # Where CloudStack's agent mounts NFS and Gluster pools, each at <mount_parent>/<uuid>
    # (the agent's own mount.parent); list those directories, or this one, in storage_pools.
    mount_parent: str = "/mnt"
    # Ceph RBD: the pools volumes may live on, and how to reach their cluster (one cluster
    # per driver): monitors "host:port,...", a cephx user and keyring (empty: no auth), or
    # a ceph.conf; QEMU authenticates with the libvirt secret of usage type ceph named here.
    rbd_pools: list[str] = field(default_factory=list)
    ceph_monitors: str = ""
    ceph_user: str = ""
    ceph_keyring: str = ""
    ceph_conf: str = ""
    ceph_libvirt_secret: str = ""
    # Where the memory state of a VM whose root disk is on RBD is kept (a directory inside
    # one of storage_pools; a shared one if VMs move between hosts). Empty: such VMs get
    # disk-only snapshots.
    rbd_memory_dir: str = ""
    # Or keep those memory states on the cluster: images <vm>.vmstate.<snapshot> of this
    # Ceph pool (one of rbd_pools); when set it is used instead of rbd_memory_dir.
    rbd_memory_pool: str = ""
    secret: str = ""  # shared HMAC secret; empty: read or create <data_dir>/secret
    auth_required: bool = True
    auth_window: int = 300  # seconds a signed request stays valid
    max_body_bytes: int = 4 * 1024 * 1024
    freeze_timeout: float = 10.0
    max_freeze_window: float = 30.0
    allow_power_change_on_revert: bool = False
    # vmsnap.GuestDataCommand reads and writes inside guests: for test rigs (the simulator,
    # the test suite), never on a production host.
    guest_data_command: bool = False
    # Memory snapshots of running VMs (libvirt + QEMU): how memory is captured.
    memory_capture: str = "auto"  # auto | background-snapshot | precopy | savevm
    live_converge_timeout: float = 30.0  # seconds to converge (precopy) or resume, else savevm
    live_downtime_ms: int = 20  # precopy: the last pass QEMU may plan, with the guest paused
    live_bandwidth_mib: int = 8192  # MiB/s QEMU may write the memory state at
    prepare_guest_ram: bool = True  # background-snapshot: RAM mapped, in huge pages, first
    host: str = "127.0.0.1"
    port: int = 8250
    threads: int = 8
    log_level: str = "INFO"
    log_json: bool = True

    def __post_init__(self) -> None:
        check_choice("backend", self.backend, BACKENDS)
        check_choice("memory_capture", self.memory_capture, MEMORY_CAPTURES)
        self.log_level = self.log_level.upper()
        check_choice("log_level", self.log_level, LOG_LEVELS)
        check_port("port", self.port)

    @property
    def database(self) -> str:
        return os.path.join(self.data_dir, "driver.sqlite3")

    def with_overrides(self, **values: Any) -> Settings:
        data = {f.name: getattr(self, f.name) for f in fields(self)}
        data.update(values)
        return Settings(**data)


def _coerce(name: str, raw: str, default: Any) -> Any:
    try:
        if isinstance(default, bool):
            return _bool(raw)
        if isinstance(default, int):
            return int(raw)
        if isinstance(default, float):
            return float(raw)
        if isinstance(default, list):
            return _list(raw)
    except ValueError as exc:
        raise ValueError(f"setting {name}: {exc}") from None
    return raw


def read_ini(path: str, what: str, *, keep_case: bool = False) -> configparser.ConfigParser:
    """Parse an INI file; a missing or malformed one is a ``ValueError`` saying so in one
    line (configparser's own errors span several, with a traceback around them)."""
    parser = configparser.ConfigParser(interpolation=None)
    if keep_case:
        parser.optionxform = str  # type: ignore[assignment,method-assign]
    try:
        if not parser.read(path):
            raise ValueError(f"cannot read {what} {path}")
    except configparser.MissingSectionHeaderError:
        raise ValueError(f"{path} is not an INI file: it must start with a [section] "
                         "line") from None
    except (configparser.Error, UnicodeDecodeError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ValueError(f"{path} is not a valid INI file: {first}") from None
    return parser


def did_you_mean(word: str, known: Any, shape: str = "{!r}") -> str:
    """`` (did you mean X?)`` for a near miss among ``known``, else nothing."""
    close = difflib.get_close_matches(word, sorted(known), n=1)
    return f" (did you mean {shape.format(close[0])}?)" if close else ""


def load_settings(path: str | None = None, environ: Mapping[str, str] | None = None,
                  section: str = "driver") -> Settings:
    """Build settings from the defaults, then the INI file, then the environment."""
    environ = os.environ if environ is None else environ
    defaults = Settings()
    values: dict[str, Any] = {}
    path = path or environ.get("VMSNAP_CONFIG")
    if path:
        parser = read_ini(path, "settings file")
        for name in parser.sections():
            if name != section:
                raise ValueError(f"unknown section [{name}] in {path}"
                                 f"{did_you_mean(name, [section], '[{}]')}")
        if parser.has_section(section):
            known = {f.name for f in fields(Settings)}
            for key, raw in parser.items(section):
                if key not in known:
                    raise ValueError(f"unknown setting {key!r} in {path}"
                                     f"{did_you_mean(key, known)}")
                values[key] = _coerce(key, raw, getattr(defaults, key))
    for f in fields(Settings):
        env = environ.get(f"VMSNAP_{f.name.upper()}")
        if env is not None:
            values[f.name] = _coerce(f.name, env, getattr(defaults, f.name))
    return defaults.with_overrides(**values)
