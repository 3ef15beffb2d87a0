"""FreezeThawVMCommand: freeze, thaw or ask the status of a guest's filesystems. A freeze
the management server never ends is ended by a timer after ``max_freeze_window``."""

from __future__ import annotations

import threading
from typing import Any

from driver.core.errors import InvalidRequest
from driver.core.model import PowerState
from driver.quiesce import thaw_quietly
from driver.usecases.context import Context
from driver.wire.commands import Answer, FreezeThawVMCommand


class FreezeThaw:
    """The command, with one pending safety thaw per frozen VM."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self._timers: dict[str, threading.Timer] = {}
        self._guard = threading.Lock()

    def __call__(self, cmd: FreezeThawVMCommand, raw: Any) -> Answer:
        vm, option = cmd.vmName, cmd.option
        guest = self.ctx.guest(vm, option, f"Failed to {option} due to {vm} was not found")
        if option == "status":
            return Answer(details=guest.freeze_status())
        if guest.power_state() is not PowerState.ON:
            raise InvalidRequest(f"{option} of VM failed due to vm {vm} is not running")
        with self._guard:
            timer = self._timers.pop(vm, None)
        if timer is not None:
            timer.cancel()
        if option == "thawed":
            guest.thaw()
            return Answer(details=f"thawed of VM - {vm} is successful")
        self.ctx.quiescer.freeze(guest)
        # A management server that never sends the thaw must not leave the guest frozen.
        timer = threading.Timer(self.ctx.settings.max_freeze_window, thaw_quietly,
                                args=(guest,))
        timer.daemon = True
        with self._guard:
            self._timers[vm] = timer
        timer.start()
        return Answer(details=f"frozen of VM - {vm} is successful")
