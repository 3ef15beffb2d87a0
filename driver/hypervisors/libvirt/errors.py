"""Libvirt errors, translated once into the driver's own errors."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import libvirt

from driver.core.errors import (
    DriverError,
    HypervisorError,
    InvalidRequest,
    NotFound,
    QuiesceError,
    Unsupported,
)

_BY_CODE: dict[int, type[DriverError]] = {
    libvirt.VIR_ERR_NO_DOMAIN: NotFound,
    libvirt.VIR_ERR_NO_DOMAIN_SNAPSHOT: NotFound,
    libvirt.VIR_ERR_NO_SUPPORT: Unsupported,
    libvirt.VIR_ERR_INVALID_ARG: InvalidRequest,
    libvirt.VIR_ERR_XML_DETAIL: InvalidRequest,
    libvirt.VIR_ERR_XML_ERROR: InvalidRequest,
    libvirt.VIR_ERR_AGENT_UNRESPONSIVE: QuiesceError,
}

T = TypeVar("T")

# Agent problems that arrive under generic codes.
_AGENT_TEXTS = ("guest agent", "QEMU agent command", "agent is in frozen state")


def translate(exc: libvirt.libvirtError, doing: str) -> DriverError:
    """Turn a libvirt error into a DriverError whose details say what was being done."""
    code = exc.get_error_code()
    message = (exc.get_error_message() or str(exc)).strip().splitlines()[0]
    kind = _BY_CODE.get(code, HypervisorError)
    if code == libvirt.VIR_ERR_ARGUMENT_UNSUPPORTED and "agent" in message:
        kind = QuiesceError
    elif kind is HypervisorError and any(t in message for t in _AGENT_TEXTS):
        kind = QuiesceError
    err = kind(f"{doing} failed: {message}")
    err.libvirt_code = code  # type: ignore[attr-defined]
    return err


def is_missing(exc: libvirt.libvirtError) -> bool:
    return exc.get_error_code() in (libvirt.VIR_ERR_NO_DOMAIN, libvirt.VIR_ERR_NO_DOMAIN_SNAPSHOT)


def is_broken_connection(exc: libvirt.libvirtError) -> bool:
    return exc.get_error_code() in (
        libvirt.VIR_ERR_SYSTEM_ERROR,
        libvirt.VIR_ERR_RPC,
        libvirt.VIR_ERR_INTERNAL_ERROR,
        libvirt.VIR_ERR_INVALID_CONN,
    ) and exc.get_error_domain() in (libvirt.VIR_FROM_RPC, libvirt.VIR_FROM_REMOTE)


def call(doing: str, fn: Callable[[], T]) -> T:
    """Run one libvirt call; a libvirt error becomes the driver's own, saying what failed."""
    try:
        return fn()
    except libvirt.libvirtError as exc:
        raise translate(exc, doing) from None


def _silence(_ctx: object, _err: object) -> None:
    """Libvirt prints every error to stderr unless a handler is registered."""


libvirt.registerErrorHandler(_silence, None)
