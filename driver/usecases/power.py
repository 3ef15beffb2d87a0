"""Power-state questions a management server asks a host: one VM's state
(``CheckVirtualMachineCommand``) and every VM's (the host VM state report). They take no
VM slot: reading a state never waits for an operation."""

from __future__ import annotations

import socket
from typing import Any

from driver.core.errors import DriverError, NotFound
from driver.core.model import PowerState
from driver.usecases.context import Context
from driver.wire.commands import Answer
from driver.wire.lifecycle import HostVmStateReportCommand, VmNameCommand


def _state(ctx: Context, vm: str) -> PowerState:
    try:
        return ctx.hv.guest(vm).power_state()
    except NotFound:
        return PowerState.MISSING


def check_vm(ctx: Context, cmd: VmNameCommand, raw: Any) -> Answer:
    """``CheckVirtualMachineAnswer``: ``state`` is PowerOn, PowerOff, or PowerReportMissing
    for a VM the host does not have."""
    return Answer(details="", state=_state(ctx, cmd.vmName).value)


def host_report(ctx: Context, cmd: HostVmStateReportCommand, raw: Any) -> Answer:
    """Every VM of the host with its power state, as ``PingRoutingCommand`` reports them."""
    host = socket.gethostname()
    report: dict[str, dict[str, str]] = {}
    for name in ctx.hv.guest_names():
        try:
            state = _state(ctx, name)
        except DriverError:
            state = PowerState.UNKNOWN
        if state is not PowerState.MISSING:  # undefined between the listing and the look-up
            report[name] = {"state": state.value, "host": host}
    return Answer(details="", hostVmStateReport=report)
