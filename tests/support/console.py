"""The simulator's console script as a process: started on a free port, read up to the end
of its banner (the ``export`` line for ``cs``), stopped."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from contract_tests.target import free_port

LAST_BANNER_LINE = "export CLOUDSTACK_ENDPOINT="


@contextmanager
def served_simulator(executable: str | Path, cwd: Path, env: dict[str, str] | None = None,
                     *args: str) -> Iterator[dict[str, Any]]:
    """Run ``executable --port P --data-dir cwd/data *args``; yield its banner, port and
    url once the banner is complete (the port is bound by then)."""
    port = free_port()
    proc = subprocess.Popen([str(executable), "--port", str(port), "--data-dir",
                             str(cwd / "data"), *args], cwd=cwd, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    assert proc.stdout is not None
    banner = []
    for line in proc.stdout:  # ends at the banner's last line, or when the process exits
        banner.append(line)
        if line.startswith(LAST_BANNER_LINE):
            break
    try:
        assert banner and banner[-1].startswith(LAST_BANNER_LINE), "".join(banner)
        yield {"banner": "".join(banner), "port": port, "url": f"http://127.0.0.1:{port}"}
    finally:
        proc.terminate()
        proc.wait(30)
