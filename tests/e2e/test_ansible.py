"""The "With Ansible" playbook of docs/first-ten-minutes.rst, run as written by
``ansible-playbook`` with the ``ngine_io.cloudstack`` collection against the simulator."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from contract_tests.client import Client
from simulator.app import ThreadedServer
from simulator.config import SimConfig

DOC = Path(__file__).resolve().parents[2] / "docs" / "first-ten-minutes.rst"
PLAYBOOK = shutil.which("ansible-playbook", path=os.path.dirname(sys.executable))


def playbook_in_the_docs() -> str:
    text = DOC.read_text()
    block = text[text.index(".. code-block:: yaml"):].split("\n\n", 1)[1]
    lines = []
    for line in block.splitlines():
        if line and not line.startswith("    "):
            break
        lines.append(line)
    return textwrap.dedent("\n".join(lines))


def test_the_documented_playbook(tmp_path):
    if PLAYBOOK is None:
        if os.environ.get("CI"):
            pytest.fail("ansible is needed (the test extra)")
        pytest.skip("ansible is not installed (the test extra)")
    (tmp_path / "first.yml").write_text(playbook_in_the_docs())
    with ThreadedServer(SimConfig(data_dir=str(tmp_path / "sim"))) as sim:
        key, secret = sim.manager.accounts.admin_keys()
        env = dict(os.environ, CLOUDSTACK_ENDPOINT=sim.endpoint, CLOUDSTACK_KEY=key,
                   CLOUDSTACK_SECRET=secret, ANSIBLE_STDOUT_CALLBACK="default",
                   ANSIBLE_LOCAL_TEMP=str(tmp_path / "tmp"), HOME=str(tmp_path))
        out = subprocess.run([PLAYBOOK, "-e", f"ansible_python_interpreter={sys.executable}",
                              "first.yml"], cwd=tmp_path, env=env, capture_output=True,
                             text=True, timeout=300, check=False)
        assert out.returncode == 0, out.stdout + out.stderr
        assert "failed=0" in out.stdout
        admin = Client(sim.endpoint, key, secret)
        vms = admin.list("listVirtualMachines", "virtualmachine", name="web-1")
        assert [(vm["name"], vm["state"]) for vm in vms] == [("web-1", "Running")]
        snaps = admin.list("listVMSnapshot", "vmSnapshot", virtualmachineid=vms[0]["id"])
        assert [(s["displayname"], s["type"], s["current"]) for s in snaps] == [
            ("first", "DiskAndMemory", True)]
