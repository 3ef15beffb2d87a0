"""The lab on Ceph: the simulator driving real QEMU (``--driver-backend libvirt``) with every
volume on an RBD pool of a real one-node cluster.

The world is ``contract_tests/lab-world.ini`` plus one RBD pool naming the cluster's monitor
(its port is chosen when the cluster starts, so the files are written then) and keeping the
memory states too (``memory_states``). Run the
contract suite against it by hand with::

    scripts/with-libvirtd.sh .venv/bin/python -m tests.support.lab_ceph [pytest args]

which starts a cluster in a temporary directory, runs the suite and stops the cluster. The
test run does the same in ``tests/integration/test_lab_ceph.py`` on the session's cluster.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import contract_tests
from tests.support.ceph import CephCluster, available

LAB = Path(contract_tests.__file__).resolve().parent
POOL_NAME = "ceph"


def write_world(directory: Path, cluster: CephCluster) -> Path:
    """The lab's world with its one zone's storage on ``cluster``'s RBD pool, which also
    keeps the memory states of its VMs (no file pool involved)."""
    host, port = cluster.monitor
    world = directory / "lab-ceph-world.ini"
    world.write_text((LAB / "lab-world.ini").read_text() + f"""
[pool:{POOL_NAME}]
type = RBD
host = {host}
port = {port}
path = {cluster.pool}
memory_states = true
""")
    return world


def write_target(directory: Path, cluster: CephCluster) -> Path:
    """A contract configuration whose simulator is the lab on ``cluster`` (the capabilities
    of ``contract_tests/lab.ini``: the same BIOS-only guests)."""
    world = write_world(directory, cluster)
    lab = (LAB / "lab.ini").read_text()
    target = directory / "lab-ceph.ini"
    target.write_text(lab.replace("name = simulator-lab\n", "name = simulator-lab-ceph\n")
                      .replace("--config lab-world.ini", f"--config {world}"))
    return target


def run_contract_suite(target: Path, *args: str, timeout: float = 1200) -> \
        subprocess.CompletedProcess[str]:
    """The contract suite against ``target`` in a process of its own."""
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rfEs", "--pyargs",
         "contract_tests", "--contract-config", str(target), *args],
        capture_output=True, text=True, timeout=timeout, check=False,
        env={k: v for k, v in os.environ.items() if k != "VMSNAP_CONTRACT_CONFIG"})


def main(argv: list[str]) -> int:
    missing = available()
    if missing:
        print(f"lab on Ceph: {missing}", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="vmsnap-lab-ceph-") as tmp:
        cluster = CephCluster(os.path.join(tmp, "ceph")).start()
        try:
            proc = run_contract_suite(write_target(Path(tmp), cluster), *argv)
            print(proc.stdout, end="")
            print(proc.stderr, end="", file=sys.stderr)
            return proc.returncode
        finally:
            cluster.stop()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
