"""The web UI: the seed's "Using Instance Snapshots" flow, one more client of /client/api.

Static files only (no build step): ``/client/`` serves the page, which signs in with the
user's login and then calls the API with its session key, so it sees exactly what that
account may see.
"""

from __future__ import annotations

import os

from flask import Blueprint, Response, redirect, send_from_directory

STATIC = os.path.join(os.path.dirname(__file__), "static")
bp = Blueprint("ui", __name__)


@bp.get("/")
def root() -> Response:
    return redirect("/client/")  # type: ignore[return-value]


@bp.get("/client/")
def index() -> Response:
    resp = send_from_directory(STATIC, "index.html")
    resp.headers["Content-Security-Policy"] = (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "frame-ancestors 'none'")
    resp.headers["X-Content-Type-Options"] = "nosniff"
    return resp


@bp.get("/client/static/<path:name>")
def static(name: str) -> Response:
    return send_from_directory(STATIC, name)
