"""``create_app(settings)``: the Flask factory. Nothing is built at import time."""

from __future__ import annotations

import os
from typing import Any

from flask import Flask, Response, request

from driver.http import commands, errors, views
from driver.http.auth import NONCE, SIGNATURE, TIMESTAMP, Verifier, stored_secret
from driver.http.errors import error_response
from driver.hypervisors.base import Hypervisor
from driver.metrics import Metrics
from driver.paths import inside
from driver.recovery import recover
from driver.service import SnapshotService
from driver.settings import Settings
from driver.store import Database

OPEN_PATHS = {"/healthz", "/readyz", "/metrics", "/v1/openapi.json"}


def ceph_access(settings: Settings) -> Any:
    """The Ceph cluster of ``rbd_pools`` (None when the driver has none)."""
    if not settings.rbd_pools:
        return None
    from driver.hypervisors.libvirt.connection import Ceph
    from driver.storage.rbd import Cluster, Rbd

    if settings.rbd_memory_dir and not inside(settings.rbd_memory_dir + "/x",
                                              settings.storage_pools):
        raise ValueError("rbd_memory_dir must be a directory inside one of storage_pools")
    if settings.rbd_memory_pool and settings.rbd_memory_pool not in settings.rbd_pools:
        raise ValueError("rbd_memory_pool must be one of rbd_pools")
    return Ceph(rbd=Rbd(Cluster(monitors=settings.ceph_monitors, user=settings.ceph_user,
                                keyring=settings.ceph_keyring, conf=settings.ceph_conf)),
                monitors=settings.ceph_monitors, user=settings.ceph_user,
                secret_uuid=settings.ceph_libvirt_secret,
                memory_dir=settings.rbd_memory_dir, memory_pool=settings.rbd_memory_pool)


def make_hypervisor(settings: Settings) -> Hypervisor:
    if settings.backend == "libvirt":
        from driver.hypervisors.libvirt import LibvirtHost, LiveOptions

        live = LiveOptions(mechanism=settings.memory_capture,
                           converge_timeout=settings.live_converge_timeout,
                           bandwidth_mib=settings.live_bandwidth_mib,
                           downtime_ms=settings.live_downtime_ms,
                           prepare_ram=settings.prepare_guest_ram)
        return LibvirtHost(settings.libvirt_uri, agent_timeout=int(settings.freeze_timeout),
                           domain_type=settings.libvirt_domain_type, live=live,
                           ceph=ceph_access(settings))
    if settings.backend == "simulated":
        from driver.hypervisors.simulated import SimulatedHost

        return SimulatedHost(os.path.join(settings.data_dir, "simhost.sqlite3"))
    raise AssertionError(settings.backend)  # Settings admits no other


def load_secret(settings: Settings) -> str:
    """The configured secret, or one kept in ``<data_dir>/secret``."""
    return settings.secret or stored_secret(os.path.join(settings.data_dir, "secret"))


def build_service(settings: Settings, hypervisor: Hypervisor | None = None) -> SnapshotService:
    return SnapshotService(hypervisor or make_hypervisor(settings), Database(settings.database),
                           settings, Metrics())


def create_app(settings: Settings, hypervisor: Hypervisor | None = None, *,
               run_recovery: bool = True, service: SnapshotService | None = None) -> Flask:
    """Build the driver app, on ``service`` if given (an embedding program keeps its own
    handle) or on one built for ``hypervisor``. ``run_recovery`` resolves operations a crash
    interrupted."""
    service = service or build_service(settings, hypervisor)
    if run_recovery:
        recover(service)
    app = Flask("driver")
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_bytes
    app.extensions["vmsnap.service"] = service
    app.extensions["vmsnap.settings"] = settings
    verifier = Verifier(load_secret(settings), settings.auth_window)
    app.extensions["vmsnap.secret"] = verifier.secret

    @app.before_request
    def authenticate() -> Response | None:
        if not settings.auth_required or request.path in OPEN_PATHS:
            return None
        reason = verifier.check(request.headers.get(TIMESTAMP), request.headers.get(NONCE),
                                request.headers.get(SIGNATURE),
                                request.method, request.path, request.get_data(cache=True))
        if reason is not None:
            return error_response(401, f"unauthenticated: {reason}")
        return None

    app.register_blueprint(commands.bp)
    app.register_blueprint(views.bp)
    errors.register(app)
    return app
