"""Snapshot names: CloudStack's internal names become libvirt and qcow2 identifiers, so only a
safe alphabet is accepted (libvirt 9.0 + QEMU 7.2 report a snapshot whose name holds a double
quote as created while writing nothing, and refuse ``/``)."""

from __future__ import annotations

import re

from driver.core.errors import InvalidRequest

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:+-]{0,127}$")


def check_snapshot_name(name: str) -> str:
    if not _NAME.match(name or ""):
        raise InvalidRequest(
            f"Invalid snapshot name {name[:64]!r}: use 1-128 letters, digits and _ . : + -, "
            "starting with a letter or digit"
        )
    return name
