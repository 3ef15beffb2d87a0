"""Demo instances: on a fresh start, one running instance per account, so that a first
login shows something to snapshot (the ``demo_instances`` setting; ``scripts/run.sh`` turns
it on)."""

from __future__ import annotations

import logging

from simulator.models import VM, Account, ServiceOffering, Template, User, Zone
from simulator.orchestrator import Manager
from simulator.orchestrator.core import Caller

log = logging.getLogger(__name__)
# Kept with the records it concerns, in the store's settings (never listed by the API).
MARKER = "simulator.demo_instances.seeded"


def demo_name(account: Account) -> str:
    """``demo-<account>``, reduced to what a VM name may hold."""
    cleaned = "".join(c if c.isalnum() else "-" for c in account.name.lower()).strip("-")
    return f"demo-{cleaned or account.id}"[:63]


def seed_demo_instances(manager: Manager) -> list[VM]:
    """Deploy and start one instance per account, once in the life of the store:
    a restart, or a world whose instances were all deleted, is not a fresh start. The
    marker is written first, so a crash half-way leaves what recovery cleans up, not a
    second round of demo instances."""
    if manager.store.setting(MARKER) or manager.store.find(VM, include_removed=True):
        return []
    manager.store.set_setting(MARKER, "true")
    zone = manager.store.find(Zone)[0]
    templates = [t for t in manager.store.find(Template) if t.zone_id == zone.id]
    template = next((t for t in templates if t.guest_agent), templates[0])
    offering = manager.store.find(ServiceOffering)[0]
    made = []
    for account in manager.store.find(Account):
        users = manager.store.find(User, account_id=account.id)
        if not users:
            continue
        vm = manager.vms.allocate_vm(Caller(users[0], account), zone.id, template, offering,
                                     demo_name(account), None)
        made.append(manager.vms.deploy_vm(vm.id, start=True))
        log.info("demo instance %s deployed for account %s", vm.name, account.name)
    return made
