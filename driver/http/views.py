"""Read-only views, health, readiness, metrics and the OpenAPI document."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, jsonify
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from driver import __version__
from driver.core.errors import DriverError
from driver.http.errors import error_response
from driver.http.openapi import document
from driver.names import check_snapshot_name
from driver.reconcile import reconcile
from driver.usecases.views import tree_view

bp = Blueprint("views", __name__)


def _service():  # type: ignore[no-untyped-def]
    return current_app.extensions["vmsnap.service"]


@bp.get("/v1/vms/<vm>/snapshots")
def snapshot_tree(vm: str) -> Response:
    try:
        check_snapshot_name(vm)
    except DriverError:
        return error_response(400, "invalid VM name")
    return jsonify(tree_view(_service().store, vm))


@bp.get("/v1/vms/<vm>/operations")
def operations(vm: str) -> Response:
    return jsonify({"vm": vm, "operations": _service().journal.history(vm)})


@bp.get("/v1/reconcile")
def reconcile_view() -> Response:
    """Differences between the journal and the hypervisor (read-only: repair is the
    command line's ``reconcile --repair``)."""
    found = reconcile(_service().ctx)
    return jsonify({"differences": [d.as_dict() for d in found], "count": len(found)})


@bp.get("/healthz")
def health() -> Response:
    return jsonify({"status": "ok", "version": __version__})


@bp.get("/readyz")
def ready() -> Response:
    try:
        host = _service().hv.ping()
    except DriverError as exc:
        return error_response(503, f"hypervisor not reachable: {exc.details}")
    return jsonify({"status": "ready", "hypervisor": host})


@bp.get("/metrics")
def metrics() -> Response:
    registry = _service().metrics.registry
    return Response(generate_latest(registry), mimetype=CONTENT_TYPE_LATEST)


@bp.get("/v1/openapi.json")
def openapi() -> Response:
    return jsonify(document())
