"""The contract suite's own simulator process: started, read, and stopped cleanly."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from contract_tests.target import SimulatorProcess, free_port


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


def _suite(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """``pytest --pyargs contract_tests`` as a tester runs it."""
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           "--pyargs", "contract_tests", *args], capture_output=True,
                          text=True, timeout=300, env={**os.environ, **(env or {})})


@pytest.mark.parametrize("ini,message", [
    (None, "cannot read contract configuration"),
    ("[target]\napikey = x\nendpoint = http://127.0.0.1:1/client/api\n",
     "unknown [target] settings: apikey"),
    ("[target]\nendpoint = 127.0.0.1:8080\n", "is not an http:// or https:// URL"),
])
def test_a_contract_configuration_that_cannot_work_says_why_once(tmp_path, ini, message):
    path = tmp_path / "contract.ini"
    if ini is not None:
        path.write_text(ini)
    run = _suite(env={"VMSNAP_CONTRACT_CONFIG": str(path)})
    out = run.stdout + run.stderr
    assert run.returncode != 0 and message in out
    assert "INTERNALERROR" not in out


def test_an_endpoint_that_does_not_answer_is_said_once(tmp_path):
    run = _suite("--endpoint", f"http://127.0.0.1:{free_port()}/client/api", "--api-key", "x",
                 "--secret-key", "y")
    assert run.returncode == pytest.ExitCode.USAGE_ERROR
    assert "cannot reach the target" in run.stdout + run.stderr
    assert "passed" not in run.stdout and "failed" not in run.stdout


def test_credentials_the_target_refuses_are_said_once(sim):
    run = _suite("--endpoint", sim.endpoint, "--api-key", "x", "--secret-key", "y")
    assert run.returncode == pytest.ExitCode.USAGE_ERROR, run.stdout[-2000:]
    assert "refused the credentials (HTTP 401)" in run.stdout + run.stderr
