"""Request parameters: names matched case-insensitively, unknown ones ignored, typed access
with CloudStack's messages."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from simulator.errors import ParamError, invalid_uuid
from simulator.orchestrator.core import integer

INT_MAX = 2**31 - 1  # CloudStack's INTEGER parameters are Java ints
LONG_MAX = 2**63 - 1  # and its LONG ones Java longs
MAX_PAGE_SIZE = 500  # CloudStack's ``default.page.size``
MAX_CUSTOM_GB = 1024  # CloudStack's ``custom.diskoffering.size.max``: a custom disk's largest size
_MAP_KEY = re.compile(r"^([a-z0-9_]+)\[(\d+)\]\.([a-z0-9_]+)$")
# An id: a UUID, as every record here has (an internal number is CloudStack's, not ours).
_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-"
                   r"[0-9a-fA-F]{12}$")


class Params:
    def __init__(self, command: str, pairs: list[tuple[str, str]]) -> None:
        self.command = command
        self.values: dict[str, str] = {}
        self.maps: dict[str, dict[int, dict[str, str]]] = {}
        for key, value in pairs:
            low = key.lower()
            m = _MAP_KEY.match(low)
            if m:
                self.maps.setdefault(m.group(1), {}).setdefault(int(m.group(2)), {})[
                    m.group(3)] = value
            else:
                self.values[low] = value

    def _missing(self, name: str) -> ParamError:
        return ParamError(f"Unable to execute API command {self.command.lower()} due to missing "
                          f"parameter {name}")

    def text(self, name: str, *, required: bool = False, max_len: int | None = None
             ) -> str | None:
        value = self.values.get(name.lower())
        if value is None or value == "":
            if required:
                raise self._missing(name)
            return None
        if max_len is not None and len(value) > max_len:
            raise ParamError(f"Unable to execute API command {self.command.lower()} due to "
                             f"invalid value. Value of parameter {name} is too long "
                             f"(max {max_len} characters)")
        return value

    def require(self, name: str) -> str:
        value = self.text(name, required=True)
        assert value is not None
        return value

    def flag(self, name: str, default: bool = False) -> bool:
        value = self.text(name)
        if value is None:
            return default
        low = value.lower()
        if low in ("true", "false"):
            return low == "true"
        raise ParamError(f"Unable to execute API command {self.command.lower()} due to invalid "
                         f"value. Invalid value {value} for parameter {name}: not a boolean")

    def number(self, name: str, *, required: bool = False, minimum: int | None = None,
               default: int | None = None, maximum: int = INT_MAX,
               value: str | None = None) -> int | None:
        """An integer parameter (or ``value`` given for it). Like Java's
        ``Integer.parseInt`` behind CloudStack's ``INTEGER`` parameters, a value past
        2^31-1 is not a number (it never reaches SQL)."""
        value = self.text(name, required=required) if value is None else value
        if value is None:
            return default
        try:
            number = integer(value)
            if not -maximum - 1 <= number <= maximum:
                raise ValueError(value)
        except ValueError:
            raise ParamError(f"Unable to execute API command {self.command.lower()} due to "
                             f"invalid value {value} for parameter {name}") from None
        if minimum is not None and number < minimum:
            raise ParamError(f"Unable to execute API command {self.command.lower()} due to "
                             f"invalid value. Value of {name} must be at least {minimum}")
        return number

    def items(self, name: str) -> list[str]:
        value = self.text(name)
        return [v.strip() for v in value.split(",") if v.strip()] if value else []

    def mapping(self, name: str) -> list[dict[str, str]]:
        """``name[0].key=k&name[0].value=v`` as a list of dicts, in index order."""
        entries = self.maps.get(name.lower(), {})
        return [entries[i] for i in sorted(entries)]

    def paging(self) -> tuple[int, int | None]:
        """``page`` and ``pagesize`` held to CloudStack's list rules (``BaseListCmd``): each
        needs the other, but for the unlimited page size (-1), which takes no page; a page
        below 1 is the first. Returns the page and its size (None: everything)."""
        page = self.number("page")
        size = self.number("pagesize", minimum=-1)
        if size is not None and size > MAX_PAGE_SIZE:
            raise ParamError("Page size can't exceed max allowed page size value: "
                             f"{MAX_PAGE_SIZE}")
        if size == -1 and page is not None:
            raise ParamError("Can't specify page parameter when pagesize is -1 (Unlimited)")
        if size is not None and size != -1 and page is None:
            raise ParamError('"page" parameter is required when "pagesize" is specified')
        if size is None and page is not None:
            raise ParamError('"pagesize" parameter is required when "page" is specified')
        if size is None or size == -1:
            return 1, None
        return max(page or 1, 1), size

    def check(self, declared: Sequence[Any]) -> None:
        """Hold the request to the command's declared parameters (``registry.Param``) before
        the command runs, as CloudStack's parameter processing does: the required ones
        present, no value longer than its declared length, every boolean, integer, long and
        id well formed (so no command acts on part of a request it then refuses)."""
        for param in declared:
            low = param.name.lower()
            if param.type == "map":
                present = bool(self.maps.get(low)) or bool(self.values.get(low))
            else:
                present = bool(self.values.get(low))
            if param.required and not present:
                raise self._missing(param.name)
            value = self.values.get(low)
            if value is not None and param.type == "string" and len(value) > param.length:
                # CloudStack checks the declared length before the command runs (431).
                raise ParamError(f"Unable to execute API command {self.command.lower()} due to "
                                 f"invalid value. Value greater than max allowed length "
                                 f"{param.length} for param: {param.name}")
            if param.type == "boolean":
                self.flag(param.name)
            elif param.type == "integer":
                self.number(param.name)
            elif param.type == "long":
                self.number(param.name, maximum=LONG_MAX)
            elif param.type == "uuid" and value and not _UUID.match(value):
                raise invalid_uuid(self.command, param.name, value)

    def size_gb(self, name: str, value: str | None = None) -> int | None:
        """A custom disk size in GB (the parameter ``name``, or ``value`` given for it):
        1 to :data:`MAX_CUSTOM_GB`."""
        number = self.number(name, minimum=1, maximum=LONG_MAX, value=value)
        if number is not None and number > MAX_CUSTOM_GB:
            raise ParamError(f"Unable to execute API command {self.command.lower()} due to "
                             f"invalid value. Value of {name} must be at most {MAX_CUSTOM_GB} "
                             "(GB)")
        return number

    def as_dict(self) -> dict[str, Any]:
        return dict(self.values)
