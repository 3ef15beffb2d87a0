"""The SSH gateway: every running VM answers SSH on its own loopback address (its NIC
address) at the configured port, with its template's user and password, and gets a
:class:`~simulator.ssh.shell.Shell` over its own files.

It follows the VM records: a listener opens when a VM is Running and closes when it is not
(stopped, destroyed, on a host that is down). The server runs on its own asyncio loop in a
thread; each shell command runs in a worker thread, since it sends agent commands."""

from __future__ import annotations

import asyncio
import hmac
import logging
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from typing import Any

import asyncssh

from simulator.config import SimConfig, TemplateSpec
from simulator.models import (
    VM,
    Host,
    NetworkRule,
    PublicIp,
    ServiceOffering,
    SSHKeyPair,
    Template,
)
from simulator.orchestrator import networks, wire
from simulator.ssh.files import MAX_FILE, GuestFiles
from simulator.ssh.shell import Machine, Result, Shell

log = logging.getLogger(__name__)
HOST_KEY = "ssh_host_ed25519_key"
SESSION_THREADS = 16  # shell commands running at once, over every session
MAX_LINE = 1 << 20  # characters in one command line typed at the prompt
INTERNAL = "sh: 1: internal error (the simulator's log has the details)\n"


def guest_address(vm: VM) -> str:
    """The VM's address on the simulated guest network: its default NIC's (in 127.0.0.0/8,
    so it needs no interface: Linux answers the whole range on ``lo``)."""
    return networks.guest_address(vm.id)


def template_login(config: SimConfig, template_name: str) -> tuple[str, str]:
    """The user and password a template's image ships with."""
    spec = next((t for t in config.templates if t.name == template_name), None)
    spec = spec or TemplateSpec(template_name)
    return spec.username, spec.password


@dataclass
class _Listener:
    vm_id: int
    address: str
    server: Any
    booted: float
    connections: set[Any]  # the open SSH connections it accepted


class _Auth(asyncssh.SSHServer):
    """Authentication as the VM's template user: by its password, in constant time, or by
    one of the VM's SSH key pairs; keeps the listener's set of open connections (closed with
    it when the VM stops)."""

    def __init__(self, username: str, password: str, keys: tuple[str, ...],
                 connections: set[Any]) -> None:
        self._username = username.encode()
        self._password = password.encode()
        self._keys = []
        for key in keys:  # kept as CloudStack keeps them: not every one is a usable key
            try:
                self._keys.append(asyncssh.import_public_key(key))
            except (asyncssh.KeyImportError, ValueError):
                continue
        self._connections = connections
        self._conn: Any = None

    def connection_made(self, conn: Any) -> None:
        self._conn = conn
        self._connections.add(conn)

    def connection_lost(self, exc: Exception | None) -> None:
        self._connections.discard(self._conn)

    def begin_auth(self, username: str) -> bool:
        return True

    def password_auth_supported(self) -> bool:
        return True

    def validate_password(self, username: str, password: str) -> bool:
        user_ok = hmac.compare_digest(username.encode(), self._username)
        return hmac.compare_digest(password.encode(), self._password) and user_ok

    def public_key_auth_supported(self) -> bool:
        return bool(self._keys)

    def validate_public_key(self, username: str, key: asyncssh.SSHKey) -> bool:
        # asyncssh then checks that the client holds the key's private half.
        blob = key.public_data
        return hmac.compare_digest(username.encode(), self._username) and any(
            k.public_data == blob for k in self._keys)


class SshGateway:
    """SSH endpoints for the VMs of one simulator (``ssh_port`` > 0 turns it on)."""

    def __init__(self, manager: Any, config: SimConfig, *, interval: float = 0.25) -> None:
        self.manager = manager
        self.config = config
        self.port = config.ssh_port
        self.interval = interval
        # (address, port) -> listener: each VM's NIC address at ``port``, and the public
        # address and port of each TCP port forwarding rule to that port of a VM.
        self._listeners: dict[tuple[str, int], _Listener] = {}
        self._failed: set[tuple[str, int, str]] = set()  # bind errors already logged
        # Shell commands run in their own pool; following the records has its own thread,
        # so no number of busy sessions can hold up a job that waits for a listener.
        self._workers = ThreadPoolExecutor(max_workers=SESSION_THREADS,
                                           thread_name_prefix="ssh")
        self._control = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ssh-records")
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._main, name="ssh-gateway", daemon=True)
        self._ready = threading.Event()
        self._key: asyncssh.SSHKey | None = None
        self._round: asyncio.Lock | None = None  # one reconcile at a time

    # --- life -------------------------------------------------------------------------------

    def start(self) -> SshGateway:
        # asyncssh logs every connection and command at INFO: a busy guest would fill the
        # log with its users' command lines.
        logging.getLogger("asyncssh").setLevel(max(logging.WARNING,
                                                   logging.getLogger().getEffectiveLevel()))
        self._thread.start()
        self._ready.wait(30)
        return self

    def stop(self) -> None:
        if self._loop is not None and self._stopping is not None:
            self._loop.call_soon_threadsafe(self._stopping.set)
        self._thread.join(10)
        self._workers.shutdown(wait=False, cancel_futures=True)
        self._control.shutdown(wait=False, cancel_futures=True)

    def catch_up(self, timeout: float = 5.0) -> None:
        """Open and close listeners for the records as they are now, and wait for it (a job
        that started a VM or added a forwarding rule calls this before its result is
        visible, so a client that connects at once finds the listener)."""
        loop = self._loop
        if loop is None or self._key is None or not self._thread.is_alive():
            return
        asyncio.run_coroutine_threadsafe(self._reconcile(self._key), loop).result(timeout)

    def endpoint(self, vm_id: int) -> tuple[str, int] | None:
        """Where VM ``vm_id`` answers SSH on its own address now, if it does."""
        vm = self.manager.store.get(VM, vm_id)
        key = (guest_address(vm), self.port) if vm else None
        return key if key in self._listeners else None

    def forwarded(self, vm_id: int) -> list[tuple[str, int]]:
        """The public endpoints whose port forwarding rules reach VM ``vm_id``'s SSH."""
        own = self.endpoint(vm_id)
        return [k for k, v in self._listeners.items() if v.vm_id == vm_id and k != own]

    def _main(self) -> None:
        asyncio.run(self._serve())

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stopping = asyncio.Event()
        self._round = asyncio.Lock()
        key = await self._loop.run_in_executor(self._control, self._host_key)
        self._key = key
        self._ready.set()
        while not self._stopping.is_set():
            try:
                await self._reconcile(key)
            except Exception:  # a bad round must not end the gateway
                log.exception("ssh gateway: reconcile failed")
            try:
                await asyncio.wait_for(self._stopping.wait(), self.interval)
            except TimeoutError:
                pass
        for endpoint in list(self._listeners):
            await self._close(endpoint)

    def _host_key(self) -> asyncssh.SSHKey:
        """The gateway's host key, made once and kept in the data directory (0600)."""
        path = os.path.join(self.config.data_dir, HOST_KEY)
        if not os.path.exists(path):
            key = asyncssh.generate_private_key("ssh-ed25519")
            fd = os.open(path + ".tmp", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "wb") as f:
                f.write(key.export_private_key())
            os.replace(path + ".tmp", path)
        return asyncssh.read_private_key(path)

    # --- following the VM records -----------------------------------------------------------

    def _wanted(self) -> dict[tuple[str, int], tuple[int, str, str, tuple[str, ...]]]:
        """Where running VMs answer: (address, port) -> (VM id, user, password, the public
        keys of the VM's SSH key pairs)."""
        out = {}
        down = {h.id for h in self.manager.store.find(Host) if h.status != "Up"}
        logins = {}
        pairs = {(k.account_id, k.name): k.public_key
                 for k in self.manager.store.find(SSHKeyPair)}
        for vm in self.manager.store.find(VM, state="Running"):
            if vm.host_id in down:  # its host does not answer, nor does the guest
                continue
            template = self.manager.store.get(Template, vm.template_id)
            keys = tuple(pairs[vm.account_id, name] for name in (vm.keypair or "").split(",")
                         if (vm.account_id, name) in pairs)
            logins[vm.id] = (*template_login(self.config, template.name if template else ""),
                             keys)
            out[(guest_address(vm), self.port)] = (vm.id, *logins[vm.id])
        # A port forwarding rule to the guest's SSH port makes it answer on the public
        # address too, as CloudStack's virtual router forwards it.
        for rule in self.manager.store.find(NetworkRule):
            if (rule.purpose != "PortForwarding" or rule.vm_id not in logins
                    or rule.protocol != "tcp" or rule.private_port is None
                    or rule.start_port is None):
                continue
            ip = self.manager.store.get(PublicIp, rule.ip_id)
            offset = self.port - rule.private_port
            last = rule.private_end_port or rule.private_port
            if ip is not None and 0 <= offset <= last - rule.private_port:
                out[(ip.address, rule.start_port + offset)] = (rule.vm_id, *logins[rule.vm_id])
        return out

    async def _reconcile(self, key: asyncssh.SSHKey) -> None:
        assert self._round is not None
        async with self._round:
            await self._reconcile_now(key)

    async def _reconcile_now(self, key: asyncssh.SSHKey) -> None:
        assert self._loop is not None
        wanted = await self._loop.run_in_executor(self._control, self._wanted)
        for gone in [k for k, v in self._listeners.items()
                     if wanted.get(k, (None,))[0] != v.vm_id]:
            await self._close(gone)
        for (address, port), (vm_id, user, password, keys) in wanted.items():
            if (address, port) in self._listeners:
                continue
            connections: set[Any] = set()
            try:
                server = await asyncssh.create_server(
                    partial(_Auth, user, password, keys, connections), address, port,
                    server_host_keys=[key], process_factory=partial(self._session, vm_id),
                    encoding="utf-8", errors="surrogateescape", login_timeout=30,
                    reuse_address=True)
            except OSError as exc:
                if (address, port, str(exc)) not in self._failed:  # say it once, retry quietly
                    self._failed.add((address, port, str(exc)))
                    log.warning("ssh gateway: cannot listen on %s:%s for VM %s: %s",
                                address, port, vm_id, exc)
                continue
            booted = min((v.booted for v in self._listeners.values() if v.vm_id == vm_id),
                         default=time.time())
            self._listeners[(address, port)] = _Listener(vm_id, address, server, booted,
                                                         connections)

    async def _close(self, key: tuple[str, int]) -> None:
        """Stop listening, and end the sessions it accepted: a VM that stopped (or whose
        host is down) is not reachable by anyone, whoever logged in before."""
        listener = self._listeners.pop(key)
        listener.server.close()
        for conn in list(listener.connections):
            conn.close()
        try:
            await asyncio.wait_for(listener.server.wait_closed(), 5)
        except TimeoutError:
            log.warning("ssh gateway: sessions to %s:%s were slow to end", *key)

    # --- sessions ---------------------------------------------------------------------------

    def _shell(self, vm_id: int, user: str, booted: float) -> Shell:
        vm = self.manager.store.load(VM, vm_id)
        offering = self.manager.store.get(ServiceOffering, vm.service_offering_id)
        files = GuestFiles(self.manager.send, partial(wire.guest_data, vm))
        return Shell(files, user, Machine(
            vm.name, offering.memory if offering else 512, booted,
            cpus=offering.cpunumber if offering else 1,
            cpu_mhz=offering.cpuspeed if offering else 1000))

    async def _session(self, vm_id: int, process: asyncssh.SSHServerProcess[str]) -> None:
        assert self._loop is not None
        listener = next((v for v in self._listeners.values() if v.vm_id == vm_id), None)
        user = process.get_extra_info("username")
        try:
            shell = await self._loop.run_in_executor(
                self._workers, self._shell, vm_id, user,
                listener.booted if listener else time.time())
            if process.subsystem:
                process.stderr.write(f"subsystem {process.subsystem} is not available\n")
                process.exit(1)
            elif process.command is not None:
                stdin: bytes | None = b""
                if shell.reads_input(process.command):  # ``ssh vm 'cat > f' < f``
                    stdin = await self._input(process)
                    if stdin is None:
                        process.stderr.write("sh: 1: input too large (the simulated guest "
                                             f"keeps files of up to {MAX_FILE >> 20} MiB)\n")
                        process.exit(1)
                        return
                result = await self._run(shell, process.command, stdin or b"")
                self._write(process, result)
                process.exit(result.status)
            else:
                await self._interactive(process, shell)
        except (asyncssh.Error, ConnectionError, BrokenPipeError):
            process.close()
        except Exception:  # a bug: this session ends with a word, the others carry on
            log.exception("ssh gateway: session to VM %s failed", vm_id)
            try:
                process.stderr.write(INTERNAL)
                process.exit(1)
            except Exception:  # noqa: S110 - the connection is already gone
                process.close()

    @staticmethod
    async def _input(process: asyncssh.SSHServerProcess[str]) -> bytes | None:
        """Everything the client sends until it closes its side (None: more than a file
        holds)."""
        data = b""
        while chunk := await process.stdin.read(1 << 16):
            data += chunk.encode("utf-8", "surrogateescape")
            if len(data) > MAX_FILE:
                return None
        return data

    async def _run(self, shell: Shell, line: str, stdin: bytes = b"") -> Result:
        """One command line in the session pool; a failure of the shell itself is that
        line's error, not the session's end."""
        assert self._loop is not None
        # Bytes that are not UTF-8 arrive as surrogate escapes; the shell's text is UTF-8,
        # so they become U+FFFD as a terminal would show them.
        line = line.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
        try:
            return await self._loop.run_in_executor(self._workers, shell.run, line, stdin)
        except Exception:
            log.exception("ssh gateway: %r failed", line[:200])
            return Result(err=INTERNAL.encode(), status=2)

    async def _interactive(self, process: asyncssh.SSHServerProcess[str], shell: Shell) -> None:
        assert self._loop is not None
        process.stdout.write("Debian GNU/Linux 12 (simulated guest)\n" + shell.prompt)
        while True:
            try:
                line = await process.stdin.readline()
            except asyncssh.TerminalSizeChanged:
                continue
            except asyncssh.BreakReceived:
                process.stdout.write("\n" + shell.prompt)
                continue
            if not line:  # end of input
                process.exit(0)
                return
            if not line.endswith("\n") and not process.stdin.at_eof():
                # Longer than the reader takes at once: the rest of it follows. It is
                # refused whole, never run in pieces.
                while line and not line.endswith("\n"):
                    line = await process.stdin.readline()
                process.stderr.write("sh: 1: command line too long\n")
                process.stdout.write(shell.prompt)
                continue
            if len(line) > MAX_LINE:
                process.stderr.write("sh: 1: command line too long\n")
                process.stdout.write(shell.prompt)
                continue
            result = await self._run(shell, line.rstrip("\n"))
            self._write(process, result)
            if shell.exit_status is not None:
                process.exit(shell.exit_status)
                return
            process.stdout.write(shell.prompt)

    @staticmethod
    def _write(process: asyncssh.SSHServerProcess[str], result: Result) -> None:
        if result.out:
            process.stdout.write(result.out.decode("utf-8", "surrogateescape"))
        if result.err:
            process.stderr.write(result.err.decode("utf-8", "surrogateescape"))
