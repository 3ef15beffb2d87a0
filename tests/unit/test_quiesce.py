"""Quiesce timing paths that no real agent produces on demand: a freeze that hangs, a freeze
that fails half-way, a thaw refused while the hypervisor is busy. A hand-made guest stands
in for those faults only; the real agent paths are in tests/integration."""

from __future__ import annotations

import threading
import time

import pytest

from contract_tests.waiting import wait_until
from driver.core.errors import HypervisorError, QuiesceError
from driver.core.model import PowerState
from driver.hypervisors.base import Guest
from driver.quiesce import Quiescer


class FaultyGuest(Guest):
    def __init__(self, freeze_delay=0.0, freeze_error=None, thaw_failures=0):
        self.name = "faulty"
        self.freeze_delay = freeze_delay
        self.freeze_error = freeze_error
        self.thaw_failures = thaw_failures
        self.frozen = False
        self.thaws = 0
        self.landed = False
        self.lock = threading.Lock()

    def freeze(self):
        time.sleep(self.freeze_delay)
        with self.lock:
            self.frozen = self.landed = True
        if self.freeze_error:
            raise self.freeze_error
        return 1

    def thaw(self):
        with self.lock:
            self.thaws += 1
            if self.thaw_failures:
                self.thaw_failures -= 1
                raise HypervisorError("busy")
            was, self.frozen = self.frozen, False
            return int(was)

    def power_state(self): return PowerState.ON
    def disks(self): return []
    def freeze_status(self): return "frozen" if self.frozen else "thawed"
    def capture(self, plan, *, description): pass
    def revert(self, snapshot): return PowerState.ON
    def delete(self, snapshot): pass
    def has_snapshot(self, snapshot): return False
    def stop(self): pass


def test_window_is_measured_and_the_guest_thawed():
    guest = FaultyGuest()
    windows = []
    with Quiescer(1, 5, on_window=windows.append).frozen(guest) as window:
        assert guest.frozen
        time.sleep(0.02)
    assert not guest.frozen and window.ms >= 20 and windows == [window]


def test_thaw_happens_when_the_body_raises():
    guest = FaultyGuest()
    with pytest.raises(RuntimeError), Quiescer(1, 5).frozen(guest):
        raise RuntimeError("capture failed")
    assert not guest.frozen


def test_a_hung_freeze_times_out_and_is_thawed_when_it_lands():
    guest = FaultyGuest(freeze_delay=0.3)
    with pytest.raises(QuiesceError, match="did not freeze the filesystems within"), \
            Quiescer(0.05, 5).frozen(guest):
        pytest.fail("the body must not run")
    wait_until(lambda: guest.landed and not guest.frozen, 5,
               message="the late freeze to land and be thawed")


def test_a_failed_freeze_is_an_error_that_names_the_agent_and_thaws():
    guest = FaultyGuest(freeze_error=HypervisorError("agent exploded"))
    with pytest.raises(QuiesceError, match="qemu-guest-agent"), Quiescer(1, 5).frozen(guest):
        pytest.fail("the body must not run")
    assert not guest.frozen


def test_watchdog_thaws_and_the_operation_fails():
    guest = FaultyGuest()
    with pytest.raises(QuiesceError, match="watchdog"), Quiescer(1, 0.05).frozen(guest):
        time.sleep(0.2)
        assert not guest.frozen  # thawed while the body was still running


def test_thaw_is_retried_while_the_hypervisor_is_busy():
    guest = FaultyGuest(thaw_failures=3)
    with Quiescer(2, 5).frozen(guest):
        pass
    assert not guest.frozen and guest.thaws == 4
