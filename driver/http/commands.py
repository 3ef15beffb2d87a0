"""``POST /v1/commands``: CloudStack agent JSON in, answers in the same form out."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, request

from driver.http.errors import error_response
from driver.wire.envelope import EnvelopeError, decode_commands, encode_answers

bp = Blueprint("commands", __name__)


@bp.post("/v1/commands")
def commands() -> Response:
    body = request.get_data(cache=True)
    try:
        decoded = decode_commands(body)
    except EnvelopeError as exc:
        return error_response(400, str(exc))
    service = current_app.extensions["vmsnap.service"]
    answers = [service.execute(item) for item in decoded]
    return Response(encode_answers(answers), mimetype="application/json")
