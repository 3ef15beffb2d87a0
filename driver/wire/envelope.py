"""The agent envelope: a JSON array of one-key objects keyed by Java class name."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from typing import Any

from marshmallow import ValidationError

from driver.wire.base import schema_of
from driver.wire.commands import COMMANDS, UNSUPPORTED_ANSWER, Answer, AnswerSchema, CommandType

# Gson nests a snapshot's whole ancestor chain in ``parent``; CPython's json codec counts
# each level against the recursion limit, so a chain of a few hundred would not decode.
_DEPTH = 20_000
if sys.getrecursionlimit() < _DEPTH:
    sys.setrecursionlimit(_DEPTH)


class EnvelopeError(ValueError):
    """The body is not JSON, or not an array of one-key class-name objects."""


@dataclass
class Decoded:
    """One element of a request: its class name, and the loaded command or why it failed."""

    class_name: str
    command_type: CommandType | None
    command: Any = None
    error: str | None = None
    raw: Any = None


def unsupported_text(class_name: str) -> str:
    return (f"Unsupported command issued: {class_name}.  "
            "Are you sure you got the right type of server?")


def _elements(body: bytes | str) -> list[tuple[str, Any]]:
    try:
        data = json.loads(body)
    except (ValueError, RecursionError) as exc:
        raise EnvelopeError(f"body is not valid JSON: {exc}") from None
    if isinstance(data, dict):
        data = [data]
    if not isinstance(data, list) or not data:
        raise EnvelopeError("body must be a non-empty JSON array of commands")
    out = []
    for i, item in enumerate(data):
        if not isinstance(item, dict) or len(item) != 1:
            raise EnvelopeError(f"element {i} must be an object with exactly one class-name key")
        (name, value), = item.items()
        out.append((name, value))
    return out


def _validation_text(messages: Any) -> str:
    def flat(prefix: str, value: Any) -> list[str]:
        if isinstance(value, dict):
            return [m for k, v in value.items() for m in flat(f"{prefix}{k}.", v)]
        if isinstance(value, list) and value and not isinstance(value[0], str):
            return [m for v in value for m in flat(prefix, v)]
        text = "; ".join(value) if isinstance(value, list) else str(value)
        return [f"{prefix.rstrip('.')}: {text}"]

    return ", ".join(flat("", messages))


def decode_commands(body: bytes | str) -> list[Decoded]:
    """Decode a request body. Raises EnvelopeError only when the envelope itself is wrong."""
    decoded = []
    for name, value in _elements(body):
        ctype = COMMANDS.get(name)
        if ctype is None:
            decoded.append(Decoded(name, None, error=unsupported_text(name), raw=value))
            continue
        if not isinstance(value, dict):
            decoded.append(Decoded(name, ctype, error=f"Invalid {ctype.short}: not an object"))
            continue
        try:
            command = schema_of(ctype.schema).load(value)
            decoded.append(Decoded(name, ctype, command=command, raw=value))
        except ValidationError as exc:
            text = _validation_text(exc.messages)
            decoded.append(Decoded(name, ctype, error=f"Invalid {ctype.short}: {text}"))
    return decoded


def answer_class(item: Decoded) -> str:
    return item.command_type.answer if item.command_type else UNSUPPORTED_ANSWER


def encode_answers(answers: list[tuple[str, Answer]]) -> str:
    """Encode ``(answer class name, answer)`` pairs as the response array."""
    schema = schema_of(AnswerSchema)
    return json.dumps([{name: schema.dump(ans)} for name, ans in answers])


def decode_answers(body: bytes | str) -> list[tuple[str, Answer]]:
    """Decode a response body (used by clients of the driver, such as the simulator)."""
    schema = schema_of(AnswerSchema)
    try:
        return [(name, schema.load(value)) for name, value in _elements(body)]
    except ValidationError as exc:
        raise EnvelopeError(f"invalid answer: {_validation_text(exc.messages)}") from None


def encode_command(name: str, command: Any) -> dict[str, Any]:
    """One ``{class name: body}`` element for a command object, checked against the schema
    the driver decodes it with, so a malformed command fails where it is built."""
    ctype = COMMANDS[name]
    schema = schema_of(ctype.schema)
    body: dict[str, Any] = schema.dump(command)
    errors = schema.validate(body)
    if errors:
        raise ValueError(f"Invalid {ctype.short}: {_validation_text(errors)}")
    return {name: body}


def encode_commands(commands: list[tuple[str, Any]]) -> str:
    """Encode ``(class name, command)`` pairs as a request body."""
    return json.dumps([encode_command(name, command) for name, command in commands])
