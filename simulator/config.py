"""The simulator's configuration: where it runs, how it reaches its host, and the world it
offers (zones, templates, offerings), from an INI file over sensible defaults.

.. code-block:: ini

    [simulator]
    port = 8080
    admin_password = password
    vmsnapshot.max = 10
    vmsnapshot.offering.change = discard
    ssh_port = 2222

    [zone:zone1]
    [template:Debian 12]
    size_gb = 2
    guest_agent = true
    username = root
    password = password
    [service_offering:Small Instance]
    cpus = 1
    memory = 512
    [disk_offering:Small]
    size_gb = 5

    # A zone with several hosts (without these, each zone gets one in-process host).
    [pod:pod1]
    zone = zone1
    [cluster:cluster1]
    pod = pod1
    [host:kvm1]
    cluster = cluster1
    url = http://127.0.0.1:8250
    secret = the-driver-secret
    [host:kvm2]
    cluster = cluster1

    # Primary storage (without any, each zone gets one Filesystem pool in data_dir/pool).
    [pool:ceph1]
    zone = zone1
    type = RBD
    host = 10.0.0.11
    port = 6789
    path = cloudstack
    tags = ceph
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import urlsplit

from driver.core.errors import InvalidRequest
from driver.settings import check_choice, check_port, did_you_mean, read_ini
from driver.storage.rbd import check_name

#: ``VMSNAP_SIM_<SETTING>`` (upper case, dots as underscores) sets a ``[simulator]`` setting;
#: the prefix keeps them apart from the driver's ``VMSNAP_<SETTING>``.
ENV_PREFIX = "VMSNAP_SIM_"

OFFERING_CHANGE_POLICIES = ("discard", "block", "restore")
MAX_JOB_DELAY_MS = 600_000  # ten minutes: enough to watch any transition, never a hang
# Bounds of the numeric dynamic settings, wherever they are set (INI, environment, API).
#: Primary storage types a world can declare (CloudStack's StoragePoolType names): a
#: directory the host's driver lists in ``storage_pools``, or a Ceph pool in ``rbd_pools``.
RBD = "RBD"
POOL_TYPES = ("Filesystem", RBD)
RBD_PORT = 6789
SETTING_BOUNDS = {
    "vmsnapshot.max": (1, 1000),
    "vmsnapshot.create.wait": (1, 86_400),
    "job.delay.ms": (0, MAX_JOB_DELAY_MS),
}


@dataclass
class TemplateSpec:
    name: str
    size_gb: int = 2
    guest_agent: bool = True
    ostype: str = "Debian GNU/Linux 12 (64-bit)"
    username: str = "root"  # the image's login, for SSH into the guest
    password: str = "password"  # noqa: S105 - as CloudStack's test templates ship


@dataclass
class OfferingSpec:
    name: str
    cpus: int = 1
    memory: int = 512
    speed: int = 1000
    tags: list[str] = field(default_factory=list)  # storage tags its ROOT volumes need


@dataclass
class DiskOfferingSpec:
    name: str
    size_gb: int = 5  # 0 = custom size
    tags: list[str] = field(default_factory=list)  # storage tags its volumes need


@dataclass
class PodSpec:
    name: str
    zone: str


@dataclass
class ClusterSpec:
    name: str
    pod: str


@dataclass
class HostSpec:
    """A KVM host: reached through a driver at ``url`` (signed with ``secret``), or, with no
    URL, a simulated host with its driver in this process."""

    name: str
    cluster: str
    url: str = ""
    secret: str = ""


@dataclass
class PoolSpec:
    """A primary storage pool of a zone. ``Filesystem``: ``path`` is a directory (relative
    to ``data_dir``). ``RBD``: ``path`` is the Ceph pool, ``host``/``port`` a monitor, and
    ``user``/``keyring``/``conf``/``libvirt_secret`` how the hosts reach the cluster (empty:
    no authentication); ``memory_states``: the hosts keep the memory states of VMs on RBD as
    images of this pool (else as files in ``rbd_memory_dir``). ``tags`` are CloudStack's
    storage tags, matched against offerings'."""

    name: str
    zone: str
    type: str = "Filesystem"
    path: str = ""
    host: str = ""
    port: int = 0
    tags: list[str] = field(default_factory=list)
    user: str = ""
    keyring: str = ""
    conf: str = ""
    libvirt_secret: str = ""
    memory_states: bool = False

    @property
    def monitor(self) -> str:
        """``host:port`` of the monitor (RBD)."""
        return f"{self.host}:{self.port}"

    def cluster_key(self) -> tuple[str, ...]:
        """What names the Ceph cluster and how it is reached (one per zone)."""
        return (self.monitor, self.user, self.keyring, self.conf, self.libvirt_secret)


@dataclass
class Layout:
    """Every pod, cluster and host, defaults filled in."""

    pods: list[PodSpec]
    clusters: list[ClusterSpec]
    hosts: list[HostSpec]

    def zone_of(self, host: HostSpec) -> str:
        cluster = next(c for c in self.clusters if c.name == host.cluster)
        return next(p.zone for p in self.pods if p.name == cluster.pod)


def _default_templates() -> list[TemplateSpec]:
    return [TemplateSpec("Debian 12 (with qemu-guest-agent)", 2, True),
            TemplateSpec("Tiny Linux (no guest agent)", 1, False, "Other Linux (64-bit)")]


def _default_offerings() -> list[OfferingSpec]:
    return [OfferingSpec("Small Instance", 1, 512), OfferingSpec("Medium Instance", 2, 1024)]


def _default_disk_offerings() -> list[DiskOfferingSpec]:
    return [DiskOfferingSpec("Small", 5), DiskOfferingSpec("Medium", 20),
            DiskOfferingSpec("Custom", 0)]


DRIVER_BACKENDS = ("simulated", "libvirt")  # the in-process driver's


@dataclass
class SimConfig:
    data_dir: str = "var/simulator"
    host: str = "127.0.0.1"
    port: int = 8080
    admin_username: str = "admin"
    admin_password: str = "password"  # noqa: S105 - as CloudStack ships
    user_username: str = "user"
    user_password: str = "password"  # noqa: S105 - the simulator's demo user
    # How the host is reached: in-process driver (backend simulated or libvirt) or a URL.
    driver_url: str = ""
    driver_secret: str = ""
    driver_backend: str = "simulated"
    libvirt_uri: str = "qemu:///system"
    libvirt_domain_type: str = "kvm"
    # Dynamic settings (also changed with updateConfiguration).
    vmsnapshot_max: int = 10
    vmsnapshot_offering_change: str = "discard"
    vmsnapshot_create_wait: int = 1800
    job_delay_ms: int = 0
    max_body_bytes: int = 1024 * 1024
    # CloudStack's integration API port: unauthenticated, run as the admin; served on
    # 127.0.0.1 only, and off (0) unless set.
    integration_api_port: int = 0
    session_timeout: int = 1800
    # On a fresh start, one running instance per account (scripts/run.sh turns it on).
    demo_instances: bool = False
    # Whether ordinary users may expunge and recover their VMs (CloudStack's setting).
    allow_user_expunge_recover_vm: bool = False
    # Whether ordinary users may expunge and recover their volumes (CloudStack's setting).
    allow_user_expunge_recover_volume: bool = False
    # CloudStack's storage-based VM snapshots on KVM: a disk-only snapshot of a running VM
    # whose volumes are not all qcow2 (Ceph RBD) needs it.
    kvm_vmstoragesnapshot_enabled: bool = True
    # Jobs running at once (each VM's jobs still run one at a time). Jobs spend most of
    # their time waiting on the host and on SQLite, so more than the cores pay off.
    job_threads: int = 32
    # SSH into guests: 0 = off; else each running VM listens on its address at this port
    # (22 needs CAP_NET_BIND_SERVICE, i.e. root).
    ssh_port: int = 0
    power_sync_interval: float = 60.0  # seconds between reads of the host's VM states; 0: off
    # Where the in-process driver keeps the memory states of VMs whose root disk is on RBD
    # (a directory, relative to data_dir; empty: <data_dir>/pool/vmstate).
    rbd_memory_dir: str = ""
    zones: list[str] = field(default_factory=lambda: ["zone1"])
    # Declared pods, clusters and hosts; see :meth:`layout` for the defaults.
    pods: list[PodSpec] = field(default_factory=list)
    clusters: list[ClusterSpec] = field(default_factory=list)
    hosts: list[HostSpec] = field(default_factory=list)
    # Declared primary storage; see :meth:`storage` for the default.
    pools: list[PoolSpec] = field(default_factory=list)
    templates: list[TemplateSpec] = field(default_factory=_default_templates)
    service_offerings: list[OfferingSpec] = field(default_factory=_default_offerings)
    disk_offerings: list[DiskOfferingSpec] = field(default_factory=_default_disk_offerings)

    @property
    def database(self) -> str:
        return os.path.join(self.data_dir, "simulator.sqlite3")

    @property
    def pool(self) -> str:
        return os.path.abspath(os.path.join(self.data_dir, "pool"))

    @property
    def memory_dir(self) -> str:
        """The in-process driver's ``rbd_memory_dir``: inside the default pool directory
        unless set (inside ``data_dir`` when relative)."""
        return os.path.abspath(os.path.join(self.data_dir, self.rbd_memory_dir)
                               if self.rbd_memory_dir else os.path.join(self.pool, "vmstate"))

    def storage(self) -> list[PoolSpec]:
        """Every primary storage pool, defaults filled in: a zone with none declared gets the
        Filesystem pool ``<zone>-primary`` in ``data_dir/pool``; Filesystem paths are
        absolute; an RBD pool's port defaults to 6789. Refuses pools that do not fit: an
        unknown zone or type, an RBD pool without a Ceph pool or monitor, two names alike,
        or two Ceph clusters in one zone (a host's driver reaches one cluster)."""
        out = []
        for spec in self.pools:
            if not spec.zone and len(self.zones) == 1:  # the one zone may go unnamed
                spec = replace(spec, zone=self.zones[0])
            if spec.zone not in self.zones:
                raise ValueError(f"pool {spec.name}: no zone {spec.zone!r}")
            if spec.type not in POOL_TYPES:
                raise ValueError(f"pool {spec.name}: type must be one of "
                                 f"{', '.join(POOL_TYPES)}, not {spec.type!r}")
            if spec.type == RBD:
                if not spec.path or not spec.host:
                    raise ValueError(f"pool {spec.name}: an RBD pool needs path (the Ceph "
                                     "pool) and host (a monitor)")
                try:
                    check_name(spec.path, "pool")
                except InvalidRequest as exc:
                    raise ValueError(f"pool {spec.name}: {exc}") from None
                spec = replace(spec, port=spec.port or RBD_PORT)
            elif spec.memory_states:
                raise ValueError(f"pool {spec.name}: memory_states needs an RBD pool (a "
                                 "Filesystem pool's VMs keep theirs beside their disks)")
            else:
                spec = replace(spec, path=os.path.abspath(
                    os.path.join(self.data_dir, spec.path) if spec.path else self.pool))
            out.append(spec)
        for zone in self.zones:
            if not any(p.zone == zone for p in out):
                out.append(PoolSpec(f"{zone}-primary", zone, "Filesystem", self.pool))
            clusters = {p.cluster_key() for p in out if p.zone == zone and p.type == RBD}
            if len(clusters) > 1:
                raise ValueError(f"zone {zone}: its RBD pools name different Ceph clusters "
                                 "(monitor or credentials); a host reaches one")
            if sum(p.memory_states for p in out if p.zone == zone) > 1:
                raise ValueError(f"zone {zone}: more than one pool has memory_states; the "
                                 "memory states of its VMs on RBD go to one")
        names = [p.name for p in out]
        if len(set(names)) != len(names):
            raise ValueError("two storage pools have the same name")
        return out

    def layout(self) -> Layout:
        """The declared world with its defaults: a zone with no pod gets ``<zone>-pod1``, a
        pod with no cluster ``<pod>-cluster1``; with no host declared, each zone gets one,
        ``kvm-<zone>-1``, reached through ``driver_url`` or in this process. A host names its
        cluster (it may leave it out when there is only one)."""
        pods = list(self.pods) + [PodSpec(f"{z}-pod1", z) for z in self.zones
                                  if not any(p.zone == z for p in self.pods)]
        clusters = list(self.clusters) + [
            ClusterSpec(f"{p.name}-cluster1", p.name) for p in pods
            if not any(c.pod == p.name for c in self.clusters)]
        hosts = list(self.hosts)
        if not hosts:
            for zone in self.zones:
                pod = next(p for p in pods if p.zone == zone)
                cluster = next(c for c in clusters if c.pod == pod.name)
                hosts.append(HostSpec(f"kvm-{zone}-1", cluster.name, self.driver_url,
                                      self.driver_secret))
        for pod in pods:
            if pod.zone not in self.zones:
                raise ValueError(f"pod {pod.name}: no zone {pod.zone!r}")
        for cluster in clusters:
            if not any(p.name == cluster.pod for p in pods):
                raise ValueError(f"cluster {cluster.name}: no pod {cluster.pod!r}")
        for i, host in enumerate(hosts):
            if host.url:
                _check_driver(f"host {host.name}", host.url, host.secret)
            if not host.cluster:
                if len(clusters) != 1:
                    raise ValueError(f"host {host.name}: name its cluster")
                hosts[i] = HostSpec(host.name, clusters[0].name, host.url, host.secret)
            elif not any(c.name == host.cluster for c in clusters):
                raise ValueError(f"host {host.name}: no cluster {host.cluster!r}")
        names = [h.name for h in hosts]
        if len(set(names)) != len(names):
            raise ValueError("two hosts have the same name")
        return Layout(pods, clusters, hosts)


def _check_driver(what: str, url: str, secret: str) -> None:
    """A served driver's address and secret, refused at start-up rather than failing every
    request to it later."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{what}: the driver URL {url!r} is not an http:// or https:// URL")
    if not secret:
        raise ValueError(f"{what}: a served driver needs its secret (its data_dir/secret, "
                         "or the secret setting it was given)")


# The keys each kind of world section takes (``[pool:NAME]``'s are in _POOL_KEYS).
_WORLD_KEYS: dict[str, tuple[str, ...]] = {
    "zone": (), "template": ("size_gb", "guest_agent", "ostype", "username", "password"),
    "pod": ("zone",), "cluster": ("pod",), "host": ("cluster", "url", "secret"),
    "service_offering": ("cpus", "memory", "speed", "tags"),
    "disk_offering": ("size_gb", "tags"),
}


def parse_bool(raw: str) -> bool:
    """A boolean setting: true/false, yes/no, on/off, 1/0."""
    v = raw.strip().lower()
    if v in ("1", "true", "yes", "on"):
        return True
    if v in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"not a boolean: {raw!r}")


_SCALARS: dict[str, Callable[[str], Any]] = {
    "data_dir": str, "host": str, "port": int, "admin_username": str, "admin_password": str,
    "user_username": str, "user_password": str, "driver_url": str, "driver_secret": str,
    "driver_backend": str, "libvirt_uri": str, "libvirt_domain_type": str, "vmsnapshot.max": int,
    "vmsnapshot.offering.change": str, "vmsnapshot.create.wait": int, "job_delay_ms": int,
    "max_body_bytes": int, "session_timeout": int, "demo_instances": parse_bool,
    "ssh_port": int, "job_threads": int, "allow.user.expunge.recover.vm": parse_bool,
    "allow.user.expunge.recover.volume": parse_bool,
    "kvm.vmstoragesnapshot.enabled": parse_bool,
    "integration.api.port": int,
    "power_sync_interval": float,
    "rbd_memory_dir": str,
}


def _tags(raw: str) -> list[str]:
    return [t.strip() for t in raw.split(",") if t.strip()]


_POOL_KEYS = ("zone", "type", "path", "host", "port", "tags", "user", "keyring", "conf",
              "libvirt_secret", "memory_states")


def _pool(name: str, items: dict[str, str]) -> PoolSpec:
    """A ``[pool:NAME]`` section."""
    for key in items:
        if key not in _POOL_KEYS:
            raise ValueError(f"unknown key {key!r}{did_you_mean(key, _POOL_KEYS)}")
    return PoolSpec(name, items.get("zone", ""), items.get("type", "Filesystem"),
                    items.get("path", ""), items.get("host", ""), int(items.get("port", 0)),
                    _tags(items.get("tags", "")), items.get("user", ""),
                    items.get("keyring", ""), items.get("conf", ""),
                    items.get("libvirt_secret", ""),
                    parse_bool(items.get("memory_states", "false")))


def env_name(key: str) -> str:
    """The environment variable of a ``[simulator]`` setting."""
    return ENV_PREFIX + key.replace(".", "_").upper()


def _set(cfg: SimConfig, key: str, raw: str, where: str) -> None:
    if key not in _SCALARS:
        raise ValueError(f"unknown setting {key!r} in {where}{did_you_mean(key, _SCALARS)}")
    try:
        setattr(cfg, key.replace(".", "_"), _SCALARS[key](raw))
    except ValueError as exc:
        raise ValueError(f"setting {key}: {exc}") from None


def load_config(path: str | None = None, environ: Mapping[str, str] | None = None,
                **overrides: Any) -> SimConfig:
    """Defaults, then the INI file (``path`` or ``$VMSNAP_SIM_CONFIG``), then
    ``VMSNAP_SIM_*`` environment variables, then keyword overrides (the command line)."""
    environ = os.environ if environ is None else environ
    cfg = SimConfig()
    path = path or environ.get(ENV_PREFIX + "CONFIG")
    if path:
        parser = read_ini(path, "configuration file", keep_case=True)
        world: dict[str, list[Any]] = {"zone": [], "template": [], "service_offering": [],
                                       "disk_offering": [], "pod": [], "cluster": [],
                                       "host": [], "pool": []}
        for section in parser.sections():
            items = dict(parser.items(section))
            if section == "simulator":
                for key, raw in items.items():
                    _set(cfg, key, raw, path)
                continue
            kind, _, name = section.partition(":")
            if kind not in world or not name:
                raise ValueError(f"unknown section [{section}] in {path}"
                                 f"{did_you_mean(section, ['simulator', *world], '[{}]')}")
            try:
                for key in items if kind != "pool" else ():
                    if key not in _WORLD_KEYS[kind]:
                        raise ValueError(f"unknown key {key!r}"
                                         f"{did_you_mean(key, _WORLD_KEYS[kind])}")
                if kind == "zone":
                    world[kind].append(name)
                elif kind == "template":
                    world[kind].append(TemplateSpec(
                        name, int(items.get("size_gb", 2)),
                        parse_bool(items.get("guest_agent", "true")),
                        items.get("ostype", "Debian GNU/Linux 12 (64-bit)"),
                        items.get("username", "root"), items.get("password", "password")))
                elif kind == "pod":
                    world[kind].append(PodSpec(name, items["zone"]))
                elif kind == "cluster":
                    world[kind].append(ClusterSpec(name, items["pod"]))
                elif kind == "host":
                    world[kind].append(HostSpec(name, items.get("cluster", ""),
                                                items.get("url", ""), items.get("secret", "")))
                elif kind == "pool":
                    world[kind].append(_pool(name, items))
                elif kind == "service_offering":
                    world[kind].append(OfferingSpec(name, int(items.get("cpus", 1)),
                                                    int(items.get("memory", 512)),
                                                    int(items.get("speed", 1000)),
                                                    _tags(items.get("tags", ""))))
                else:
                    world[kind].append(DiskOfferingSpec(name, int(items.get("size_gb", 5)),
                                                        _tags(items.get("tags", ""))))
            except KeyError as exc:
                raise ValueError(f"section [{section}]: {exc.args[0]} is required") from None
            except ValueError as exc:
                raise ValueError(f"section [{section}]: {exc}") from None
        cfg.zones = world["zone"] or cfg.zones
        cfg.templates = world["template"] or cfg.templates
        cfg.service_offerings = world["service_offering"] or cfg.service_offerings
        cfg.disk_offerings = world["disk_offering"] or cfg.disk_offerings
        cfg.pods, cfg.clusters, cfg.hosts = world["pod"], world["cluster"], world["host"]
        cfg.pools = world["pool"]
    for key in _SCALARS:
        if env_name(key) in environ:
            _set(cfg, key, environ[env_name(key)], f"${env_name(key)}")
    for key, value in overrides.items():
        if value is not None:
            setattr(cfg, key, value)
    check_choice("driver_backend", cfg.driver_backend, DRIVER_BACKENDS)
    check_port("port", cfg.port)
    cfg.layout()  # refuses a world whose pods, clusters and hosts do not fit together
    cfg.storage()  # and pools that do not fit
    if not 1 <= cfg.job_threads <= 1024:
        raise ValueError("job_threads must be between 1 and 1024")
    if not 0 <= cfg.ssh_port <= 65535:
        raise ValueError("ssh_port must be 0 (off) or a TCP port")
    if not 0 <= cfg.integration_api_port <= 65535 or (
            cfg.integration_api_port and cfg.integration_api_port == cfg.port):
        raise ValueError("integration.api.port must be a free port other than port, or 0")
    if cfg.vmsnapshot_offering_change not in OFFERING_CHANGE_POLICIES:
        raise ValueError("vmsnapshot.offering.change must be discard, block or restore")
    for name, (low, high) in SETTING_BOUNDS.items():
        if not low <= getattr(cfg, name.replace(".", "_")) <= high:
            raise ValueError(f"{name} must be between {low} and {high}")
    return cfg
