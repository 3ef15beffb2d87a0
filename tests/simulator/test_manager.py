"""The management rules called directly, with no HTTP in front: the manager talks to an
in-process driver on the simulated host, exactly as ``make run`` does."""

from __future__ import annotations

import pytest

from contract_tests.waiting import wait_until
from driver.app import create_app as create_driver
from driver.settings import Settings
from simulator.agents import AgentUnreachable, InProcessAgent
from simulator.config import SimConfig
from simulator.errors import CloudRuntime, ParamError
from simulator.models import (
    VM,
    Account,
    ServiceOffering,
    Template,
    User,
    VMSnapshot,
    Zone,
)
from simulator.orchestrator import Manager, wire
from simulator.orchestrator.core import Caller
from simulator.store import Store


@pytest.fixture
def manager(tmp_path):
    config = SimConfig(data_dir=str(tmp_path))
    driver = create_driver(Settings(backend="simulated", guest_data_command=True,
                                   data_dir=str(tmp_path / "driver"),
                                   storage_pools=[config.pool], secret="s", log_json=False))
    m = Manager(config, Store(config.database), InProcessAgent(driver))
    m.accounts.bootstrap()
    yield m
    m.jobs.shutdown()


@pytest.fixture
def admin(manager):
    account = next(a for a in manager.store.find(Account) if a.is_admin)
    user = next(u for u in manager.store.find(User) if u.account_id == account.id)
    return Caller(user, account)


def deploy(manager, caller, *, start=True):
    zone = manager.store.find(Zone)[0]
    template = manager.store.find(Template)[0]
    offering = manager.store.find(ServiceOffering)[0]
    vm = manager.vms.allocate_vm(caller, zone.id, template, offering, None, None)
    return manager.vms.deploy_vm(vm.id, start)


def snap(manager, caller, vm, **kw):
    s = manager.vm_snapshots.allocate_vm_snapshot(caller, vm, kw.get("name"), None,
                                     kw.get("memory", False), False)
    return manager.vm_snapshots.take_vm_snapshot(s.id)


def test_allocation_records_an_allocated_snapshot_without_parent_or_current(manager, admin):
    vm = deploy(manager, admin)
    s = manager.vm_snapshots.allocate_vm_snapshot(admin, vm, "n", "d", True, False)
    assert (s.state, s.current, s.parent_id, s.type) == ("Allocated", None, None,
                                                         "DiskAndMemory")
    assert s.name.startswith(f"{vm.instance_name}_VS_") and s.display_name == "n"


def test_allocation_checks_come_in_cloudstacks_order(manager, admin):
    vm = deploy(manager, admin, start=False)
    with pytest.raises(CloudRuntime) as err:  # the length check comes before the state
        manager.vm_snapshots.allocate_vm_snapshot(admin, vm, "x" * 256, None, True, False)
    assert "vsDisplayName should not exceed 255" in err.value.text
    assert err.value.cserrorcode == 4350
    with pytest.raises(CloudRuntime) as err:
        manager.vm_snapshots.allocate_vm_snapshot(admin, vm, None, None, True, False)
    assert err.value.text.endswith("Can not snapshot memory when VM is not in Running state")


def test_names_within_one_second_get_a_suffix(manager, admin):
    vm = deploy(manager, admin, start=False)
    names = {snap(manager, admin, vm).name for _ in range(3)}
    assert len(names) == 3


def test_create_sets_parent_and_current_and_delete_relinks(manager, admin):
    vm = deploy(manager, admin, start=False)
    a, b, c = (snap(manager, admin, vm, name=n) for n in "abc")
    assert (b.parent_id, c.parent_id) == (a.id, b.id)
    manager.vm_snapshots.delete_vm_snapshot(b.id)
    c = manager.store.load(VMSnapshot, c.id)
    assert c.parent_id == a.id and c.current is True
    manager.vm_snapshots.delete_vm_snapshot(c.id)
    assert manager.store.load(VMSnapshot, a.id).current is True
    assert [s.display_name for s in manager.snapshots_of(vm)] == ["a"]


def test_revert_checks_fail_with_431(manager, admin):
    vm = deploy(manager, admin)
    disk = snap(manager, admin, vm)
    with pytest.raises(ParamError) as err:
        manager.vm_snapshots.revert_vm_snapshot(disk.id)
    assert err.value.text.startswith("VM Snapshot revert not allowed")
    assert manager.store.load(VMSnapshot, disk.id).state == "Ready"


def test_recovery_leaves_nothing_in_a_transitional_state(manager, admin):
    vm = deploy(manager, admin, start=False)
    rows = {}
    for state in ("Allocated", "Creating", "Reverting", "Expunging", "Ready"):
        s = manager.vm_snapshots.allocate_vm_snapshot(admin, vm, state, None, False, False) \
            if state == "Allocated" else manager.store.add(VMSnapshot(
                name=f"x-{state}", display_name=state, vm_id=vm.id, account_id=vm.account_id,
                domain_id=vm.domain_id, service_offering_id=vm.service_offering_id,
                state=state))
        rows[state] = s.id
    manager.recover()
    after = {k: manager.store.load(VMSnapshot, v) for k, v in rows.items()}
    assert after["Allocated"].removed
    assert after["Creating"].state == "Error" and after["Expunging"].state == "Error"
    assert after["Reverting"].state == "Ready" and after["Ready"].state == "Ready"


def test_settings_are_validated(manager):
    manager.set_setting("vmsnapshot.max", "3")
    assert manager.setting("vmsnapshot.max") == 3
    for name, value in (("vmsnapshot.max", "many"), ("vmsnapshot.max", "-1"),
                        ("vmsnapshot.offering.change", "sometimes"), ("nope", "1")):
        with pytest.raises(ParamError):
            manager.set_setting(name, value)


def test_list_scope(manager, admin):
    user_account = next(a for a in manager.store.find(Account) if not a.is_admin)
    user = Caller(next(u for u in manager.store.find(User)
                       if u.account_id == user_account.id), user_account)
    deploy(manager, admin, start=False)
    deploy(manager, user, start=False)
    vms = manager.store.find(VM)
    assert len(manager.visible(user, vms, listall=True, account=None)) == 1
    assert len(manager.visible(admin, vms, listall=False, account=None)) == 1
    assert len(manager.visible(admin, vms, listall=True, account=None)) == 2
    assert len(manager.visible(admin, vms, listall=False, account=user_account)) == 1


def test_keys_and_secrets_never_begin_with_a_dash(monkeypatch, tmp_path):
    """A key or secret is pasted after an option on command lines (``--secret-key KEY``,
    ``--driver-secret SECRET``); one that began with ``-`` would be read as an option, so
    such a draw is replaced."""
    from driver.http import auth
    from simulator.orchestrator.accounts import new_api_key
    draws = iter(["-W_v11hMOjzQn6CsNvH", "_second", "-x", "third"])
    monkeypatch.setattr(auth.secrets, "token_urlsafe", lambda n: next(draws))
    assert new_api_key() == "_second"
    assert auth.stored_secret(str(tmp_path / "secret")) == "third"


class _Killed(Exception):
    """The management server dying while the host carries out a command."""


def test_a_command_the_host_did_not_answer_at_start_up_is_never_resent(manager, admin,
                                                                        monkeypatch):
    vm = deploy(manager, admin, start=False)
    s = manager.vm_snapshots.allocate_vm_snapshot(admin, vm, "lost", None, False, False)
    real_send = manager.agent.send

    def killed(commands, timeout):
        raise _Killed()

    # The create is recorded in flight and sent; the management server dies before the answer.
    monkeypatch.setattr(manager.agent, "send", killed)
    manager.jobs.inflight.begin_job()
    with pytest.raises(_Killed):
        manager.vm_snapshots.take_vm_snapshot(s.id)
    manager.jobs.inflight._local.tokens = None  # the job's thread died with it
    assert len(manager.jobs.inflight.all()) == 1

    # Start-up, the host down: the record is marked failed and the command is dropped.
    def down(commands, timeout):
        raise AgentUnreachable("connection refused")

    monkeypatch.setattr(manager.agent, "send", down)
    notes = manager.recover()
    assert any("did not answer" in n for n in notes)
    assert manager.store.load(VMSnapshot, s.id).state == "Error"
    assert manager.jobs.inflight.all() == {}

    # The user deletes the Error record; the next start (host up) sends nothing for it, so
    # no snapshot appears on the host behind the records.
    sent = []
    monkeypatch.setattr(manager.agent, "send",
                        lambda commands, timeout: sent.extend(commands) or real_send(
                            commands, timeout))
    manager.vm_snapshots.delete_vm_snapshot(s.id)
    sent.clear()
    manager.recover()
    assert not any("VMSnapshotCommand" in next(iter(c)) for c in sent)
    assert manager.agent.view(f"/v1/vms/{vm.instance_name}/snapshots")["snapshots"] == []


def test_an_expunge_the_host_refused_can_be_asked_for_again(manager, admin, monkeypatch):
    vm = deploy(manager, admin, start=False)
    snap(manager, admin, vm, name="kept")
    manager.vms.destroy_vm(vm.id, expunge=False)
    real_send = manager.agent.send

    def down(commands, timeout):
        raise AgentUnreachable("connection refused")

    monkeypatch.setattr(manager.agent, "send", down)
    with pytest.raises(CloudRuntime, match="Unable to expunge"):
        manager.vms.expunge_vm(vm.id)
    assert manager.store.load(VM, vm.id).state == "Destroyed"  # not stuck in Expunging

    monkeypatch.setattr(manager.agent, "send", real_send)
    manager.vms.expunge_vm(vm.id)
    assert manager.store.load(VM, vm.id).removed
    report = manager.agent.send([wire.host_report()], 10)[0].hostVmStateReport
    assert vm.instance_name not in report  # undefined on the host


def test_a_host_that_missed_the_recovery_is_asked_again_within_seconds(tmp_path, manager,
                                                                       admin, monkeypatch):
    vm = deploy(manager, admin, start=False)
    vm.state = "Running"  # what the records say; the host has it powered off
    manager.store.save(vm)
    real_send = manager.agent.send

    def down(commands, timeout):
        raise AgentUnreachable("connection refused")

    monkeypatch.setattr(manager.agent, "send", down)
    manager.config.power_sync_interval = 3600.0  # the regular round is an hour away
    manager.recover()
    assert manager.store.load(VM, vm.id).state == "Running"  # nobody to ask
    manager.follow_host()
    try:
        monkeypatch.setattr(manager.agent, "send", real_send)  # the host is back
        wait_until(lambda: manager.store.load(VM, vm.id).state == "Stopped", 15,
                   message="the record to follow the host")
    finally:
        manager.close()
