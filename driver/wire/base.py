"""Shared machinery: schemas that build dataclasses and keep the fields they do not know.

CloudStack objects carry many fields the driver never reads (QoS rates, provisioning
types...). They are kept in ``extra`` and written back unchanged, so an answer echoes a
``VolumeObjectTO`` exactly as it came, with only the fields the driver changed.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass, field
from dataclasses import fields as dc_fields
from typing import Any, ClassVar

from marshmallow import INCLUDE, Schema, ValidationError, post_dump, post_load, validate
from marshmallow import fields as mf


@functools.cache
def schema_of(cls: type[Schema]) -> Schema:
    """One shared instance per schema class: building a schema deep-copies every declared
    field, which cost more than the load itself on every command. Loads and dumps keep no
    state on the instance, so threads share it."""
    return cls()


def _with(validator: Any, kwargs: dict[str, Any]) -> dict[str, Any]:
    given = kwargs.get("validate")
    given = [] if given is None else list(given) if isinstance(given, list | tuple) else [given]
    return {**kwargs, "validate": [*given, validator]}


class Long(mf.Integer):
    """A Java ``long``: a value past 2^63-1 is refused by the schema with a clear message,
    before it can reach SQLite, qemu-img or libvirt (which would fail deep inside)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**_with(validate.Range(
            min=-(2**63), max=2**63 - 1, error="must be a 64-bit integer (a Java long)"),
            kwargs))


def _no_nul(value: str) -> bool:
    if "\x00" in value:
        raise ValidationError("must not contain a NUL character")
    return True


def _unicode(value: str) -> bool:
    """No lone surrogate (JSON can spell one, ``"\\ud800"``; UTF-8 cannot carry it, so
    SQLite and libvirt would fail on it)."""
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise ValidationError("must be valid Unicode (no lone surrogate)") from None
    return True


def _no_control(value: str) -> bool:
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in value):
        raise ValidationError("must not contain control characters")
    return True


class Text(mf.String):
    """A string a C library may receive: no NUL (libvirt and QEMU would cut it short)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**_with(_unicode, _with(_no_nul, kwargs)))


class Name(mf.String):
    """A VM or object name: 1 to 255 characters, no control characters."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**_with(_unicode, _with(_no_control, _with(
            validate.Length(min=1, max=255), kwargs))))


class WireSchema(Schema):
    """Loads into ``__model__`` (a dataclass with an ``extra`` dict); dumps without nulls."""

    __model__: ClassVar[type]

    class Meta:
        unknown = INCLUDE

    @post_load
    def _make(self, data: dict[str, Any], **_: Any) -> Any:
        names = {f.name for f in dc_fields(self.__model__)}
        known = {k: v for k, v in data.items() if k in names and k != "extra"}
        extra = {k: v for k, v in data.items() if k not in names}
        return self.__model__(**known, extra=extra)

    @post_dump(pass_original=True)
    def _merge(self, data: dict[str, Any], original: Any, **_: Any) -> dict[str, Any]:
        out = dict(getattr(original, "extra", {}) or {})
        out.update(data)
        return {k: v for k, v in out.items() if v is not None}


class Wrapped(mf.Field):
    """A field typed by a Java interface: ``{"<class name>": {...fields...}}`` on the wire.

    Known classes load through their schema; others are kept as the raw wrapper.
    """

    def __init__(self, schemas: Mapping[str, type[Schema]], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.schemas = schemas

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> Any:
        if not isinstance(value, dict) or len(value) != 1:
            raise ValidationError("must be an object with exactly one class-name key")
        (cls, body), = value.items()
        schema = self.schemas.get(cls)
        if schema is None:
            return {cls: body}
        if not isinstance(body, dict):
            raise ValidationError(f"{cls} must be an object")
        return schema_of(schema).load(body)

    def _serialize(self, value: Any, attr: Any, obj: Any, **kwargs: Any) -> Any:
        if value is None or isinstance(value, dict):
            return value
        for cls, schema in self.schemas.items():
            if isinstance(value, schema.__model__):  # type: ignore[attr-defined]
                return {cls: schema_of(schema).dump(value)}
        raise ValidationError(f"cannot serialize {type(value).__name__}")


@dataclass
class Command:
    """Fields every CloudStack ``Command`` carries."""

    contextMap: dict[str, Any] = field(default_factory=dict)
    wait: int = 0
    bypassHostMaintenance: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


class CommandSchema(WireSchema):
    __model__ = Command
    contextMap = mf.Dict(keys=mf.String(), load_default=dict)
    wait = Long(load_default=0, validate=validate.Range(min=0))
    bypassHostMaintenance = mf.Boolean(load_default=False)


@dataclass(frozen=True)
class CommandType:
    """One command class the driver serves: its schema and the class of its answer."""

    name: str
    schema: type[WireSchema]
    answer: str

    @property
    def short(self) -> str:
        return self.name.rsplit(".", 1)[-1]
