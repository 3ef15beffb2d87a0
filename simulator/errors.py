"""Typed API errors with CloudStack's codes; rendered in one place (``api/render.py``)."""

from __future__ import annotations


class ApiError(Exception):
    """An error as CloudStack reports it: HTTP status = ``code``, plus ``cserrorcode``."""

    code = 530
    cserrorcode = 4250

    def __init__(self, text: str, *, code: int | None = None,
                 cserrorcode: int | None = None) -> None:
        super().__init__(text)
        self.text = text
        if code is not None:
            self.code = code
        if cserrorcode is not None:
            self.cserrorcode = cserrorcode


class ParamError(ApiError):
    """InvalidParameterValueException: 431 / 4350."""

    code = 431
    cserrorcode = 4350


class PermissionDenied(ApiError):
    code = 531
    cserrorcode = 4365


class Unsupported(ApiError):
    code = 432
    cserrorcode = 9999


class CloudRuntime(ApiError):
    """CloudRuntimeException: 530 / 4250."""

    code = 530
    cserrorcode = 4250


class ResourceAllocation(ApiError):
    code = 535
    cserrorcode = 4370


class ResourceUnavailable(ApiError):
    code = 534
    cserrorcode = 4380


class RuleConflict(ApiError):
    """NetworkRuleConflictException: 537."""

    code = 537
    cserrorcode = 4390


class Unauthorized(ApiError):
    code = 401
    cserrorcode = 9999

    def __init__(self, text: str = "unable to verify user credentials and/or request "
                 "signature") -> None:
        super().__init__(text)


def invalid_uuid(command: str, param: str, value: str) -> ParamError:
    """CloudStack's text when a uuid parameter names nothing (or nothing of the caller's)."""
    return ParamError(
        f"Unable to execute API command {command.lower()} due to invalid value. Invalid "
        f"parameter {param} value={value} due to incorrect long value format, or entity does "
        "not exist or due to incorrect parameter annotation for the field in api cmd class."
    )
