"""SSH into simulated guests with a real SSH client (paramiko) over loopback: the files a
shell writes are the guest's own, so a snapshot and a revert bring them back."""

from __future__ import annotations

import base64
import hashlib
import io
import socket
import time
from collections.abc import Iterator
from typing import Any

import paramiko
import pytest

from contract_tests.client import Client
from simulator.app import ThreadedServer
from simulator.config import SimConfig
from simulator.models import VM
from simulator.ssh.server import guest_address
from tests.simulator.conftest import World, control


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def ssh_sim(tmp_path_factory: Any) -> Iterator[ThreadedServer]:
    config = SimConfig(data_dir=str(tmp_path_factory.mktemp("sim")), ssh_port=free_port())
    server = ThreadedServer(config).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def world(ssh_sim: ThreadedServer) -> World:
    key, secret = ssh_sim.manager.accounts.admin_keys()
    return World(Client(ssh_sim.endpoint, key, secret, poll=0.01))


def endpoint(sim: ThreadedServer, vm: dict[str, Any], *, present: bool = True
             ) -> tuple[str, int] | None:
    """Wait (bounded) until the gateway has, or no longer has, a listener for ``vm``."""
    record = sim.manager.store.by_uuid(VM, vm["id"])
    assert record is not None
    gateway = sim.app.extensions["sim.ssh"]
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        found = gateway.endpoint(record.id)
        if (found is not None) == present:
            return found  # type: ignore[no-any-return]
        time.sleep(0.05)
    raise AssertionError(f"no SSH listener change for {vm['id']}")


def connect(sim: ThreadedServer, vm: dict[str, Any], password: str = "password"
            ) -> paramiko.SSHClient:
    found = endpoint(sim, vm)
    assert found is not None
    client = paramiko.SSHClient()
    client.set_missing_host_key_policy(paramiko.AutoAddPolicy())  # noqa: S507 - a test guest
    client.connect(found[0], port=found[1], username="root", password=password,
                   allow_agent=False, look_for_keys=False, timeout=20)
    return client


def run(client: paramiko.SSHClient, command: str) -> tuple[str, str, int]:
    _, stdout, stderr = client.exec_command(command, timeout=30)
    out, err = stdout.read().decode(), stderr.read().decode()
    return out, err, stdout.channel.recv_exit_status()


def interactive(client: paramiko.SSHClient, typed: bytes) -> bytes:
    """What an interactive session shows for ``typed`` (which ends with ``exit``)."""
    channel = client.invoke_shell()
    channel.settimeout(20)
    channel.send(typed)
    received = b""
    while not channel.exit_status_ready() or channel.recv_ready():
        chunk = channel.recv(4096)
        if not chunk:
            break
        received += chunk
    return received


def test_the_listener_is_on_the_vms_own_loopback_address(ssh_sim: ThreadedServer,
                                                         world: World) -> None:
    vm = world.deploy()
    record = ssh_sim.manager.store.by_uuid(VM, vm["id"])
    assert record is not None
    # listening once the deploy job has ended, with no wait
    found = ssh_sim.app.extensions["sim.ssh"].endpoint(record.id)
    assert found == (guest_address(record), ssh_sim.manager.config.ssh_port)
    assert found[0].startswith("127.10.")


def test_write_snapshot_delete_revert_read_back(ssh_sim: ThreadedServer, world: World) -> None:
    """What CloudStack's test_vm_snapshots does: the file comes back with the revert."""
    vm = world.deploy()
    data = "d0e5b4c1" * 12
    with connect(ssh_sim, vm) as ssh:
        assert run(ssh, f"echo {data} > /tmp/random.data") == ("", "", 0)
        assert run(ssh, "cat /tmp/random.data") == (data + "\n", "", 0)
    snap = world.snapshot(vm, snapshotmemory=False, name="TestSnapshot")
    assert snap["state"] == "Ready"
    with connect(ssh_sim, vm) as ssh:
        assert run(ssh, "rm -rf /tmp/random.data")[2] == 0
        out, err, status = run(ssh, "ls /tmp/random.data")
        assert out == "" and status == 2
        assert "No such file or directory" in err
    world.client.run("stopVirtualMachine", id=vm["id"])
    endpoint(ssh_sim, vm, present=False)  # a stopped guest does not answer
    world.client.run("revertToVMSnapshot", vmsnapshotid=snap["id"])
    world.client.run("startVirtualMachine", id=vm["id"])
    with connect(ssh_sim, vm) as ssh:
        assert run(ssh, "cat /tmp/random.data") == (data + "\n", "", 0)


def test_the_shell_writes_the_files_the_control_plane_sees(ssh_sim: ThreadedServer,
                                                          world: World) -> None:
    vm = world.deploy()
    with connect(ssh_sim, vm) as ssh:
        assert run(ssh, "mkdir -p /srv/a/b && echo one > /srv/a/b/f && "
                        "echo two >> /srv/a/b/f")[2] == 0
    seen = control(ssh_sim, "POST", f"/vms/{vm['id']}/guest",
                   {"op": "read_file", "path": "/srv/a/b/f"})
    assert base64.b64decode(seen["data"]) == b"one\ntwo\n"
    control(ssh_sim, "POST", f"/vms/{vm['id']}/guest", {
        "op": "write_file", "path": "/srv/from-outside",
        "data": base64.b64encode(b"\x00\xffbinary").decode()})
    with connect(ssh_sim, vm) as ssh:
        out, _, _ = run(ssh, "md5sum /srv/from-outside")
        assert out == hashlib.md5(b"\x00\xffbinary").hexdigest() + "  /srv/from-outside\n"  # noqa: S324
        assert run(ssh, "cd /srv && ls") == ("a\nfrom-outside\n", "", 0)
        assert run(ssh, "ls -a /srv/a")[0] == ".\n..\nb\n"


def test_a_wrong_password_is_refused(ssh_sim: ThreadedServer, world: World) -> None:
    vm = world.deploy()
    with pytest.raises(paramiko.AuthenticationException):
        connect(ssh_sim, vm, password="wrong")


def test_what_a_person_at_the_prompt_uses(ssh_sim: ThreadedServer, world: World) -> None:
    vm = world.deploy()
    with connect(ssh_sim, vm) as ssh:
        assert run(ssh, "uptime")[0].startswith(" ")
        assert "load average" in run(ssh, "uptime")[0]
        free = run(ssh, "free -m")[0].splitlines()
        assert free[1].split()[:2] == ["Mem:", "512"]  # the service offering's memory
        # /proc as CloudStack's own tests read it: the offering's CPUs, speed and memory.
        offering = next(o for o in world.client.list("listServiceOfferings", "serviceoffering")
                        if o["id"] == vm["serviceofferingid"])
        cpuinfo = run(ssh, "cat /proc/cpuinfo")[0].splitlines()
        assert len([line for line in cpuinfo if "processor" in line]) == offering["cpunumber"]
        mhz = [line for line in cpuinfo if "cpu MHz" in line][0].split()[3]
        assert float(mhz) == offering["cpuspeed"]
        memtotal = [line for line in run(ssh, "cat /proc/meminfo")[0].splitlines()
                    if "MemTotal" in line][0].split()[1]
        assert int(memtotal) // 1024 == offering["memory"]
        assert run(ssh, "nproc") == (f"{offering['cpunumber']}\n", "", 0)
        assert run(ssh, "whoami; pwd; hostname") == (f"root\n/root\n{vm['name']}\n", "", 0)
        assert run(ssh, "sync && echo ok || echo no") == ("ok\n", "", 0)
        # Each command is expanded when it runs: it sees what ran before it.
        assert run(ssh, "false; echo $?") == ("1\n", "", 0)
        assert run(ssh, "A=1 B=2; echo $A$B; cat /nope 2>/dev/null; echo rc=$?")[0] == (
            "12\nrc=1\n")
        assert run(ssh, "nosuchthing")[1:] == ("sh: 1: nosuchthing: not found\n", 127)
        assert run(ssh, "cat /nope")[1:] == ("cat: /nope: No such file or directory\n", 1)
        assert run(ssh, "echo 'a b' \"$HOME\" | wc -c") == ("10\n", "", 0)
        assert run(ssh, "echo x > /no/such/dir/f")[2] == 2
        assert run(ssh, "exit 3")[2] == 3
        received = interactive(ssh, b"cd /tmp\npwd\nexit\n")
        assert b"/tmp\r\n" in received
        assert b"root@" in received


def test_a_port_forwarding_rule_to_the_ssh_port_answers_on_the_public_address(
        ssh_sim: ThreadedServer, world: World) -> None:
    """Marvin in an Advanced zone reaches a guest at its port forwarding rule's address."""
    vm = world.deploy()
    record = ssh_sim.manager.store.by_uuid(VM, vm["id"])
    assert record is not None
    port = ssh_sim.manager.config.ssh_port
    ip = world.client.run("associateIpAddress", zoneid=world.zone)["ipaddress"]
    rule = world.client.run("createPortForwardingRule", ipaddressid=ip["id"], protocol="TCP",
                            privateport=port, publicport=port,
                            virtualmachineid=vm["id"])["portforwardingrule"]
    gateway = ssh_sim.app.extensions["sim.ssh"]
    # listening once the rule's job has ended: a client may connect at once, as Marvin does
    assert (ip["ipaddress"], port) in gateway.forwarded(record.id)
    client = paramiko.SSHClient()
    client.set_missing_host_key_policy(paramiko.AutoAddPolicy())  # noqa: S507 - a test guest
    client.connect(ip["ipaddress"], port=port, username="root", password="password",
                   allow_agent=False, look_for_keys=False, timeout=20)
    with client:
        assert run(client, "echo through the rule > /tmp/pf")[2] == 0
    with connect(ssh_sim, vm) as ssh:  # the same guest, on its own address
        assert run(ssh, "cat /tmp/pf") == ("through the rule\n", "", 0)
    world.client.run("deletePortForwardingRule", id=rule["id"])
    deadline = time.monotonic() + 20
    while gateway.forwarded(record.id):
        assert time.monotonic() < deadline, "the listener outlived its rule"
        time.sleep(0.05)


def test_a_session_ends_when_its_vm_stops(ssh_sim: ThreadedServer, world: World) -> None:
    vm = world.deploy()
    with connect(ssh_sim, vm) as ssh:
        assert run(ssh, "echo before > /tmp/s")[2] == 0
        transport = ssh.get_transport()
        assert transport is not None and transport.is_active()
        world.client.run("stopVirtualMachine", id=vm["id"])
        deadline = time.monotonic() + 20
        while transport.is_active():  # the gateway ends the sessions it let in
            assert time.monotonic() < deadline, "a session outlived its VM"
            time.sleep(0.05)
    world.client.run("startVirtualMachine", id=vm["id"])
    with connect(ssh_sim, vm) as ssh:
        assert run(ssh, "cat /tmp/s") == ("before\n", "", 0)  # nothing written after the stop


def test_what_a_guest_user_sends_cannot_hurt_the_simulator(ssh_sim: ThreadedServer,
                                                           world: World) -> None:
    vm = world.deploy()
    with connect(ssh_sim, vm) as ssh:
        # A file past the guest's limit is refused as too large; the host stays Up.
        assert run(ssh, "echo x > /tmp/small")[2] == 0
        for _ in range(6):  # 600 kB, in lines an SSH request carries
            assert run(ssh, f"echo {'A' * 100_000} >> /tmp/a")[2] == 0
        assert run(ssh, "cat /tmp/a /tmp/a > /tmp/b")[1].endswith(
            "File too large (the simulated guest keeps files of up to 1 MiB)\n")
        assert [h["state"] for h in world.client.list("listHosts", "host")] == ["Up"]
        # Odd input is that line's error, never the session's end.
        assert run(ssh, "sleep nan")[1:] == ("sleep: invalid time interval 'nan'\n", 1)
        assert "File name too long" in run(ssh, "cat /tmp/" + "a" * 5000)[1]
        assert run(ssh, "echo after")[0] == "after\n"
        # The base image's usual folders, as in the documented example.
        assert run(ssh, "echo hello > /srv/note && md5sum /srv/note")[2] == 0
        # Bytes that are not UTF-8 do not end an interactive session.
        assert b"still here" in interactive(ssh, b"echo caf\xe9 > /tmp/u\necho still here\n"
                                                 b"exit\n")
        assert run(ssh, "echo alive")[0] == "alive\n"


def test_a_command_gets_what_the_client_sends(ssh_sim: ThreadedServer, world: World) -> None:
    vm = world.deploy()
    data = b"line one\nline two\n" * 100
    with connect(ssh_sim, vm) as ssh:
        for command in ("cat > /tmp/up", "md5sum", "wc -l"):
            stdin, stdout, stderr = ssh.exec_command(command, timeout=30)
            stdin.write(data)
            stdin.channel.shutdown_write()
            out = stdout.read().decode()
            assert stdout.channel.recv_exit_status() == 0, stderr.read()
            if command == "md5sum":
                assert out == f"{hashlib.md5(data).hexdigest()}  -\n"  # noqa: S324
            elif command == "wc -l":
                assert out.strip() == "200"
        # A command that reads no input runs at once, without waiting for the client's end.
        assert run(ssh, "echo ignored") == ("ignored\n", "", 0)
        assert run(ssh, "md5sum /tmp/up")[0].split()[0] == hashlib.md5(data).hexdigest()  # noqa: S324


def test_a_vms_key_pair_logs_in_and_another_key_does_not(ssh_sim: ThreadedServer,
                                                         world: World) -> None:
    made = world.client.call("createSSHKeyPair", name="login-key")["keypair"]
    vm = world.client.run("deployVirtualMachine", zoneid=world.zone, templateid=world.template,
                          serviceofferingid=world.offering,
                          keypair="login-key")["virtualmachine"]
    found = endpoint(ssh_sim, vm)
    assert found is not None

    def login(key: paramiko.PKey) -> paramiko.SSHClient:
        client = paramiko.SSHClient()
        client.set_missing_host_key_policy(paramiko.AutoAddPolicy())  # noqa: S507 - a test guest
        client.connect(found[0], port=found[1], username="root", pkey=key,
                       allow_agent=False, look_for_keys=False, timeout=20)
        return client

    with login(paramiko.RSAKey.from_private_key(io.StringIO(made["privatekey"]))) as ssh:
        assert run(ssh, "echo in") == ("in\n", "", 0)
    with pytest.raises(paramiko.AuthenticationException):
        login(paramiko.RSAKey.generate(2048))


def test_a_key_pair_that_is_no_usable_key_leaves_the_password_login(ssh_sim: ThreadedServer,
                                                                    world: World) -> None:
    # CloudStack keeps a key pair of any "<type> <word>"; the guest cannot use such a key.
    world.client.call("registerSSHKeyPair", name="not-a-key", publickey="ssh-rsa nonsense")
    vm = world.client.run("deployVirtualMachine", zoneid=world.zone, templateid=world.template,
                          serviceofferingid=world.offering,
                          keypair="not-a-key")["virtualmachine"]
    with connect(ssh_sim, vm) as ssh:
        assert run(ssh, "echo up") == ("up\n", "", 0)
