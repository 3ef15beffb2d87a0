"""Demo instances: one running instance per account on a fresh start, never again."""

from __future__ import annotations

from contract_tests.client import Client
from simulator.app import ThreadedServer
from simulator.config import SimConfig
from simulator.demo import MARKER, seed_demo_instances


def instances(server: ThreadedServer, username: str) -> list[tuple[str, str]]:
    client = Client(server.endpoint, poll=0.01)
    client.login(username, "password")
    return [(vm["name"], vm["state"])
            for vm in client.list("listVirtualMachines", "virtualmachine")]


def test_one_running_demo_instance_per_account_on_a_fresh_start_only(tmp_path):
    config = SimConfig(data_dir=str(tmp_path), demo_instances=True)
    with ThreadedServer(config) as server:
        assert instances(server, "user") == [("demo-user", "Running")]
        assert instances(server, "admin") == [("demo-admin", "Running")]
        key, secret = server.manager.accounts.admin_keys()
        admin = Client(server.endpoint, key, secret, poll=0.01)
        for vm in admin.list("listVirtualMachines", "virtualmachine", listall=True):
            admin.run("destroyVirtualMachine", id=vm["id"], expunge=True)
    with ThreadedServer(config) as server:  # a restart of an emptied world is not fresh
        assert instances(server, "user") == []


def test_off_by_default(tmp_path):
    with ThreadedServer(SimConfig(data_dir=str(tmp_path))) as server:
        assert instances(server, "user") == []


def test_the_marker_is_written_before_the_first_deploy(tmp_path):
    """A crash after the marker and before any VM record must not seed a second round."""
    with ThreadedServer(SimConfig(data_dir=str(tmp_path))) as server:
        manager = server.manager
        manager.store.set_setting(MARKER, "true")
        assert seed_demo_instances(manager) == []
        manager.store.set_setting(MARKER, "")
        assert sorted(vm.name for vm in seed_demo_instances(manager)) == [
            "demo-admin", "demo-user"]
        assert manager.store.setting(MARKER) == "true"
        assert seed_demo_instances(manager) == []
