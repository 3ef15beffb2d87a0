"""The OpenAPI document of the driver's HTTP resources."""

from __future__ import annotations

from typing import Any

from driver import __version__
from driver.http.auth import SIGNATURE_DESCRIPTION
from driver.wire.commands import COMMANDS

_ERROR = {"type": "object", "properties": {"error": {"type": "object", "properties": {
    "code": {"type": "integer"}, "message": {"type": "string"}}}}}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def document() -> dict[str, Any]:
    envelope = {
        "type": "array",
        "items": {"type": "object", "minProperties": 1, "maxProperties": 1,
                  "description": "one key: the Java class name; value: the object's fields"},
    }
    signed: list[dict[str, list[str]]] = [{"hmac": []}]
    return {
        "openapi": "3.0.3",
        "info": {"title": "cloudstack-vmsnap driver", "version": __version__},
        "components": {"securitySchemes": {"hmac": {
            "type": "apiKey", "in": "header", "name": "X-Vmsnap-Signature",
            "description": SIGNATURE_DESCRIPTION,
        }}},
        "paths": {
            "/v1/commands": {"post": {
                "summary": "Execute CloudStack agent commands",
                "description": "Accepted: " + ", ".join(sorted(c.short for c in
                                                              COMMANDS.values())),
                "security": signed,
                "requestBody": {"required": True,
                                "content": {"application/json": {"schema": envelope}}},
                "responses": {"200": _json(envelope, "answers, one per command, in order"),
                              "400": _json(_ERROR, "not an agent envelope"),
                              "401": _json(_ERROR, "not authenticated"),
                              "413": _json(_ERROR, "body too large")},
            }},
            "/v1/vms/{vm}/snapshots": {"get": {
                "summary": "A VM's snapshot tree", "security": signed,
                "parameters": [{"name": "vm", "in": "path", "required": True,
                                "schema": {"type": "string"}}],
                "responses": {"200": _json({"type": "object"}, "the tree")},
            }},
            "/v1/vms/{vm}/operations": {"get": {
                "summary": "A VM's recent operations from the journal", "security": signed,
                "parameters": [{"name": "vm", "in": "path", "required": True,
                                "schema": {"type": "string"}}],
                "responses": {"200": _json({"type": "object"}, "the operations")},
            }},
            "/v1/reconcile": {"get": {
                "summary": "Differences between the journal and the hypervisor (read-only)",
                "security": signed,
                "responses": {"200": _json({"type": "object"}, "the differences")},
            }},
            "/healthz": {"get": {"summary": "Liveness",
                                 "responses": {"200": _json({"type": "object"}, "alive")}}},
            "/readyz": {"get": {"summary": "Readiness: the hypervisor answers",
                                "responses": {"200": _json({"type": "object"}, "ready"),
                                              "503": _json(_ERROR, "not ready")}}},
            "/metrics": {"get": {"summary": "Prometheus metrics",
                                 "responses": {"200": {"description": "text exposition"}}}},
        },
    }
