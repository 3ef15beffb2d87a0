"""The command registry: ``command=`` name -> handler, with its declared parameters and
response object. The same declarations check requests (:func:`check_params`) and describe
the command in ``listApis`` (:func:`describe`), so the two cannot drift."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from simulator.api.schema import fields_of


@dataclass(frozen=True)
class Param:
    name: str
    type: str = "string"
    required: bool = False
    description: str = ""
    length: int = 255
    since: str = ""

    def describe(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "type": self.type,
                               "required": self.required, "description": self.description,
                               "length": self.length, "related": ""}
        if self.since:
            out["since"] = self.since
        return out


@dataclass
class Api:
    name: str
    handler: Callable[..., Any]
    description: str
    is_async: bool = False
    admin: bool = False
    open: bool = False  # login needs no credentials
    params: list[Param] = field(default_factory=list)
    response: str = ""
    cmd_class: str = ""
    since: str = ""

    def describe(self) -> dict[str, Any]:
        """This command as ``listApis`` lists it."""
        fields = fields_of(self.response) if self.response else ()
        return {"name": self.name, "description": self.description, "isasync": self.is_async,
                "since": self.since or "4.2.0", "type": "", "related": "",
                "params": [p.describe() for p in self.params],
                "response": [f.describe() for f in fields]}


APIS: dict[str, Api] = {}


def api(name: str, description: str, *, is_async: bool = False, admin: bool = False,
        open: bool = False, params: list[Param] | None = None, response: str = "",
        package: str = "user", since: str = ""
        ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register a command. ``response`` names its response object (see ``schema.OBJECTS``);
    commands without one answer ``success``."""
    response = response or "success"
    fields_of(response)  # an undeclared response object is a bug: fail at import

    def register(fn: Callable[..., Any]) -> Callable[..., Any]:
        APIS[name.lower()] = Api(
            name=name, handler=fn, description=description, is_async=is_async, admin=admin,
            open=open, params=params or [], response=response, since=since,
            cmd_class=f"org.apache.cloudstack.api.command.{package}."
                      f"{name[0].upper()}{name[1:]}Cmd")
        return fn

    return register


def P(name: str, type: str = "string", required: bool = False,  # noqa: N802
      description: str = "", *, length: int = 255, since: str = "") -> Param:
    return Param(name, type, required, description, length, since)
