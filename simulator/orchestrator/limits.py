"""Resource limits per account, CloudStack's way: recorded with ``updateResourceLimit`` and
checked before an instance, a volume or primary storage is allocated."""

from __future__ import annotations

from simulator.errors import ParamError, ResourceAllocation
from simulator.models import VM, Account, ResourceLimit, Volume
from simulator.orchestrator.core import Context

# CloudStack's resource types: number -> name.
TYPES = {0: "user_vm", 1: "public_ip", 2: "volume", 3: "snapshot", 4: "template",
         5: "project", 6: "network", 7: "vpc", 8: "cpu", 9: "memory",
         10: "primary_storage", 11: "secondary_storage"}
USER_VM, VOLUME, PRIMARY_STORAGE = 0, 2, 10
GIB = 1 << 30


def _gb(n: int) -> str:
    return f"{n / GIB:.2f} GB"


class Limits:
    """Recorded limits and the checks that enforce them."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.store = ctx.store
        self.lock = ctx.lock

    def limit(self, account: Account, resource_type: int) -> int:
        """The account's limit on a resource type (-1: unlimited; storage in GiB)."""
        for row in self.store.find(ResourceLimit, account_id=account.id):
            if row.resource_type == resource_type:
                return row.max
        return -1

    def set_limit(self, account: Account, resource_type: int, max: int) -> ResourceLimit:
        if resource_type not in TYPES:
            raise ParamError("Please specify valid resource type")
        if max < -1:
            raise ParamError("Please specify either '-1' for an infinite limit, or a limit "
                             "that is at least '0'.")
        with self.lock:
            for row in self.store.find(ResourceLimit, account_id=account.id):
                if row.resource_type == resource_type:
                    row.max = max
                    self.store.save(row)
                    return row
            return self.store.add(ResourceLimit(account.id, resource_type, max))

    def in_use(self, account: Account, resource_type: int) -> int:
        """What the account holds now: VMs, volumes, or bytes of primary storage."""
        if resource_type == USER_VM:
            return sum(1 for vm in self.store.find(VM, account_id=account.id)
                       if vm.state != "Destroyed")
        volumes = [v for v in self.store.find(Volume, account_id=account.id)
                   if not v.removed and v.state != "Destroy"]
        if resource_type == VOLUME:
            return len(volumes)
        return sum(max(v.size, v.resizing_to or 0) for v in volumes)

    def check(self, account: Account, resource_type: int, amount: int) -> None:
        """Refuse (535) an allocation of ``amount`` that would pass the account's limit."""
        limit = self.limit(account, resource_type)
        if limit < 0:
            return
        used = self.in_use(account, resource_type)
        cap = limit * GIB if resource_type == PRIMARY_STORAGE else limit
        if used + amount <= cap:
            return
        show = _gb if resource_type == PRIMARY_STORAGE else str
        raise ResourceAllocation(
            f"Maximum amount of resources of Type = '{TYPES[resource_type]}', tag = 'null' for "
            f"Account Name = {account.name} in Domain Id = {account.domain_id} is exceeded: "
            f"Account Resource Limit = {show(cap)}, Current Account Resource Amount = "
            f"{show(used)}, Current Account Resource Reservation = {show(0)}, Requested "
            f"Resource Amount = {show(amount)}.")

    def remove_account(self, account: Account) -> None:
        with self.lock:
            for row in self.store.find(ResourceLimit, account_id=account.id):
                self.store.delete(row)
