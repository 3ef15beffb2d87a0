"""The command registry: ``command=`` name -> handler, with what ``listApis`` describes."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Param:
    name: str
    type: str = "string"
    required: bool = False
    description: str = ""


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


APIS: dict[str, Api] = {}


def api(name: str, description: str, *, is_async: bool = False, admin: bool = False,
        open: bool = False, params: list[Param] | None = None, response: str = "",
        package: str = "user") -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    def register(fn: Callable[..., Any]) -> Callable[..., Any]:
        APIS[name.lower()] = Api(
            name=name, handler=fn, description=description, is_async=is_async, admin=admin,
            open=open, params=params or [], response=response,
            cmd_class=f"org.apache.cloudstack.api.command.{package}."
                      f"{name[0].upper()}{name[1:]}Cmd")
        return fn

    return register


def P(name: str, type: str = "string", required: bool = False,  # noqa: N802
      description: str = "") -> Param:
    return Param(name, type, required, description)
