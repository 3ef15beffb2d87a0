"""The contract suite's own simulator process: started, read, and stopped cleanly."""

from __future__ import annotations

import pytest

from contract_tests.target import SimulatorProcess


def test_a_simulator_that_cannot_start_is_reported_with_its_output():
    proc = SimulatorProcess(["--no-such-option"])
    try:
        with pytest.raises(RuntimeError) as err:
            proc.start(timeout=30)
    finally:
        proc.stop()
    assert "did not start" in str(err.value)
    assert "--no-such-option" in str(err.value)  # the simulator's own complaint is shown


def test_the_output_is_drained_while_the_simulator_runs():
    proc = SimulatorProcess().start()
    try:
        assert set(proc.banner) == {"admin apikey", "admin secret", "control token"}
        assert proc.reader.is_alive()  # still reading after the banner
    finally:
        proc.stop()
    assert proc.proc is not None and proc.proc.poll() is not None
    proc.reader.join(10)
    assert not proc.reader.is_alive()  # and done once the process has ended
