"""A one-node Ceph cluster for the tests and benchmarks, started by hand in a directory of
its own (no systemd, no cephadm, nothing in /etc/ceph): one monitor on 127.0.0.1 and one
bluestore OSD on a sparse file, pool size 1, no authentication. Everything the cluster
keeps is under that directory; stopping it kills its daemons and removes the directory."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import time
import uuid
from typing import Any

from contract_tests.waiting import wait_until

BINARIES = ("ceph-mon", "ceph-osd", "ceph", "rbd", "monmaptool", "ceph-authtool")


def available() -> str | None:
    """None when the Ceph daemons and tools are installed, else what is missing."""
    missing = [b for b in BINARIES if shutil.which(b) is None]
    return f"missing {', '.join(missing)} (scripts/setup.sh --test installs them)" \
        if missing else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class CephCluster:
    """The cluster under ``root``; ``pool`` is its one RBD pool."""

    def __init__(self, root: str, pool: str = "rbd") -> None:
        self.root = os.path.abspath(root)
        self.pool = pool
        self.conf = os.path.join(self.root, "ceph.conf")
        self.v1_port = _free_port()
        self.v2_port = _free_port()
        self.env = dict(os.environ, CEPH_CONF=self.conf)

    @property
    def monitor(self) -> tuple[str, int]:
        """Where clients (QEMU, the driver) reach the monitor (its v1 address)."""
        return "127.0.0.1", self.v1_port

    def run(self, *args: str, timeout: float = 60, input: bytes | None = None) -> str:
        """Run a Ceph tool against this cluster; raise with its output if it fails."""
        proc = subprocess.run(list(args), env=self.env, capture_output=True, timeout=timeout,
                              input=input, check=False)
        if proc.returncode != 0:
            raise RuntimeError(f"{' '.join(args)}: rc {proc.returncode}: "
                               f"{proc.stderr.decode(errors='replace').strip()}")
        return proc.stdout.decode(errors="replace")

    def _write_conf(self) -> None:
        r = self.root
        mon = f"[v2:127.0.0.1:{self.v2_port},v1:127.0.0.1:{self.v1_port}]"
        with open(self.conf, "w") as fh:
            fh.write(f"""[global]
fsid = {self.fsid}
mon_host = {mon}
auth_cluster_required = none
auth_service_required = none
auth_client_required = none
run_dir = {r}/run
admin_socket = {r}/run/$cluster-$name.asok
pid_file = {r}/run/$cluster-$name.pid
log_file = {r}/log/$cluster-$name.log
crash_dir = {r}/crash
mon_data = {r}/mon/$cluster-$id
osd_data = {r}/osd/$cluster-$id
keyring = {r}/keyring
osd_pool_default_size = 1
osd_pool_default_min_size = 1
mon_allow_pool_size_one = true
osd_crush_chooseleaf_type = 0
osd_pool_default_pg_autoscale_mode = off
mon_warn_on_pool_no_redundancy = false
mon_data_avail_warn = 5
paxos_propose_interval = 0.05
paxos_min_wait = 0.01
[osd]
osd_objectstore = bluestore
bluestore_block_path = {r}/osd/$cluster-$id.block
bluestore_block_create = true
bluestore_block_size = 10G
osd_memory_target = 1G
""")

    def start(self, timeout: float = 120.0) -> CephCluster:
        """Bootstrap the monitor, the OSD and the pool; return once an image can be made."""
        for sub in ("run", "log", "crash", "mon", "osd/ceph-0"):
            os.makedirs(os.path.join(self.root, sub), exist_ok=True)
        self.fsid = str(uuid.uuid4())
        self._write_conf()
        keyring = os.path.join(self.root, "keyring")
        self.run("ceph-authtool", "--create-keyring", keyring, "--gen-key", "-n", "mon.",
                 "--cap", "mon", "allow *")
        self.run("ceph-authtool", keyring, "--gen-key", "-n", "client.admin", "--cap", "mon",
                 "allow *", "--cap", "osd", "allow *", "--cap", "mgr", "allow *")
        monmap = os.path.join(self.root, "monmap")
        self.run("monmaptool", "--create", "--fsid", self.fsid, "--addv", "a",
                 f"[v2:127.0.0.1:{self.v2_port},v1:127.0.0.1:{self.v1_port}]", monmap)
        self.run("ceph-mon", "-c", self.conf, "--mkfs", "-i", "a", "--monmap", monmap,
                 "--keyring", keyring)
        self.run("ceph-mon", "-c", self.conf, "-i", "a")
        wait_until(lambda: self.run("ceph", "mon", "stat", timeout=10), timeout,
                   interval=0.1, ignore=(RuntimeError, subprocess.TimeoutExpired),
                   message="the Ceph monitor to answer")
        osd_uuid = str(uuid.uuid4())
        key = self.run("ceph-authtool", "--gen-print-key").strip()
        secrets_file = os.path.join(self.root, "osd-secrets.json")
        with open(secrets_file, "w") as fh:
            json.dump({"cephx_secret": key}, fh)
        osd_id = self.run("ceph", "osd", "new", osd_uuid, "-i", secrets_file).strip()
        with open(os.path.join(self.root, "osd", f"ceph-{osd_id}", "keyring"), "w") as fh:
            fh.write(f"[osd.{osd_id}]\n\tkey = {key}\n")
        self.run("ceph-osd", "-c", self.conf, "-i", osd_id, "--mkfs", "--osd-uuid", osd_uuid,
                 timeout=120)
        self.run("ceph-osd", "-c", self.conf, "-i", osd_id)

        def osd_up() -> bool:
            stat = json.loads(self.run("ceph", "osd", "stat", "-f", "json", timeout=10))
            return int(stat.get("num_up_osds", 0)) == 1

        wait_until(osd_up, timeout, interval=0.2, ignore=(RuntimeError,),
                   message="the Ceph OSD to come up")
        self.run("ceph", "osd", "pool", "create", self.pool, "8", "8", "replicated")
        self.run("ceph", "osd", "pool", "set", self.pool, "size", "1",
                 "--yes-i-really-mean-it")
        self.run("ceph", "osd", "pool", "set", self.pool, "min_size", "1")
        self.run("rbd", "pool", "init", self.pool, timeout=120)
        self.run("rbd", "create", "--size", "4M", f"{self.pool}/bootstrap-probe", timeout=120)
        self.run("rbd", "rm", f"{self.pool}/bootstrap-probe")
        return self

    def _pids(self) -> list[int]:
        out = []
        run = os.path.join(self.root, "run")
        for name in os.listdir(run) if os.path.isdir(run) else []:
            if name.endswith(".pid"):
                try:
                    with open(os.path.join(run, name)) as fh:
                        out.append(int(fh.read().strip()))
                except (OSError, ValueError):
                    pass
        return out

    def stop(self) -> None:
        """Stop every daemon of the cluster and remove its directory."""
        pids = self._pids()
        for pid in pids:
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + 20
        for pid in pids:
            while time.monotonic() < deadline:
                try:
                    os.kill(pid, 0)
                except ProcessLookupError:
                    break
                time.sleep(0.1)
            else:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> CephCluster:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()
