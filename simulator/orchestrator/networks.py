"""Guest networking as records: each account's isolated guest network, a default NIC per VM
with an address of its own, public addresses, firewall and port forwarding rules.

Guest addresses come from the loopback range (``127.10.0.0/16``) and public ones from
``127.11.0.0/16``, one per NIC or address, so that whatever listens for a VM can bind its
address on this machine without privileges or real networking.
"""

from __future__ import annotations

import ipaddress

from simulator.errors import ParamError, RuleConflict
from simulator.models import VM, Account, Network, NetworkOffering, NetworkRule, Nic, PublicIp
from simulator.orchestrator.core import Context

GUEST_CIDR = ipaddress.ip_network("127.10.0.0/16")
PUBLIC_CIDR = ipaddress.ip_network("127.11.0.0/16")
# The one guest network offering: CloudStack's default isolated offering, and the services
# its virtual router provides.
OFFERING = ("DefaultIsolatedNetworkOfferingWithSourceNatService",
            "Offering for Isolated networks with Source Nat service enabled")
OFFERING_SERVICES = ("Dhcp", "Dns", "Firewall", "Gateway", "Lb", "PortForwarding", "SourceNat",
                     "StaticNat", "UserData", "Vpn")


def guest_address(vm_id: int) -> str:
    """A VM's default NIC address: one per VM in ``127.10.0.0/16`` (Linux answers the whole
    of 127.0.0.0/8 on ``lo``, so it needs no interface), from ``127.10.1.0`` on."""
    if vm_id + 256 >= GUEST_CIDR.num_addresses - 1:
        raise ParamError(f"Insufficient capacity: no free address left in {GUEST_CIDR}")
    return str(GUEST_CIDR.network_address + 256 + vm_id)


def _address(cidr: ipaddress.IPv4Network | ipaddress.IPv6Network, n: int) -> str:
    """The ``n``-th host address of ``cidr`` after its gateway (``.1``)."""
    if n + 2 >= cidr.num_addresses:
        raise ParamError(f"Insufficient capacity: no free address left in {cidr}")
    return str(cidr.network_address + 1 + n)


def _cidrs_overlap(a: str, b: str) -> bool:
    """Whether two comma-separated CIDR lists share any address."""
    def nets(text: str) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
        out = []
        for item in (text or "0.0.0.0/0").split(","):
            try:
                out.append(ipaddress.ip_network(item.strip(), strict=False))
            except ValueError:
                continue
        return out

    return any(x.version == y.version and x.overlaps(y)  # type: ignore[arg-type]
               for x in nets(a) for y in nets(b))


class Networks:
    """Networks, NICs, public addresses and rules of accounts."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.store = ctx.store
        self.lock = ctx.lock

    def offering(self) -> NetworkOffering | None:
        """The guest network offering every network is of."""
        found = self.store.find(NetworkOffering)
        return found[0] if found else None

    def default_network(self, account: Account, zone_id: int) -> Network:
        """The account's guest network in the zone, created with its first VM."""
        with self.lock:
            for network in self.store.find(Network, account_id=account.id):
                if network.zone_id == zone_id and not network.removed:
                    return network
            return self.store.add(Network(
                f"{account.name}-network", account.id, account.domain_id, zone_id,
                str(GUEST_CIDR), _address(GUEST_CIDR, 0), str(GUEST_CIDR.netmask)))

    def add_default_nic(self, vm: VM, network: Network) -> Nic:
        """The VM's default NIC: an address and MAC of its own on ``network``."""
        with self.lock:
            nic = self.store.add(Nic(vm.id, network.id, "", ""))
            nic.ip_address = guest_address(vm.id)
            nic.mac_address = "02:00:" + ":".join(f"{b:02x}" for b in nic.id.to_bytes(4, "big"))
            self.store.save(nic)
            return nic

    def nics(self, vm: VM) -> list[Nic]:
        return sorted(self.store.find(Nic, vm_id=vm.id), key=lambda n: n.device_id)

    def release_vm(self, vm: VM) -> None:
        """An expunged VM gives up its NICs and the port forwarding rules to it."""
        with self.lock:
            for rule in self.store.find(NetworkRule, vm_id=vm.id):
                self.store.delete(rule)
            for nic in self.store.find(Nic, vm_id=vm.id):
                self.store.delete(nic)

    def associate_ip(self, account: Account, zone_id: int, network: Network | None) -> PublicIp:
        with self.lock:
            ip = self.store.add(PublicIp("", account.id, account.domain_id, zone_id,
                                         network.id if network else None))
            ip.address = _address(PUBLIC_CIDR, ip.id)
            self.store.save(ip)
            return ip

    def disassociate_ip(self, ip: PublicIp) -> None:
        """Release a public address with every rule on it."""
        with self.lock:
            if ip.source_nat:
                raise ParamError(f"IP address id={ip.uuid} is a source NAT address and can't be "
                                 "released")
            for rule in self.store.find(NetworkRule, account_id=ip.account_id):
                if rule.ip_id == ip.id:
                    self.store.delete(rule)
            self.store.delete(ip)

    def add_rule(self, rule: NetworkRule) -> NetworkRule:
        """Record a rule unless it conflicts with one of the same purpose on the same address
        (or network, for egress) as CloudStack's rule check has it: same protocol, source
        CIDRs that overlap, and port ranges that overlap (no ports on either: the same
        rule); for ICMP, the same type and code."""
        with self.lock:
            for other in self.store.find(NetworkRule, account_id=rule.account_id):
                if (other.purpose != rule.purpose or other.ip_id != rule.ip_id
                        or other.network_id != rule.network_id
                        or other.protocol != rule.protocol
                        or not _cidrs_overlap(other.cidrs, rule.cidrs)):
                    continue
                if rule.protocol == "icmp":
                    if (other.icmp_type, other.icmp_code) == (rule.icmp_type, rule.icmp_code):
                        raise ParamError(f"New rule conflicts with existing rule: {other.uuid}")
                    continue
                if rule.start_port is None and other.start_port is None:
                    raise RuleConflict("There is already a firewall rule specified with "
                                       f"protocol = {rule.protocol} and no ports")
                if None in (rule.start_port, rule.end_port, other.start_port, other.end_port):
                    continue
                if (rule.start_port <= other.end_port  # type: ignore[operator]
                        and other.start_port <= rule.end_port):  # type: ignore[operator]
                    raise RuleConflict(
                        f"The range specified, {rule.start_port}-{rule.end_port}, conflicts "
                        f"with rule {other.uuid} which has {other.start_port}-{other.end_port}")
            return self.store.add(rule)

    def delete_rule(self, rule: NetworkRule) -> None:
        with self.lock:
            self.store.delete(rule)

    def remove_account(self, account: Account) -> None:
        """Drop the records of a deleted account's networking."""
        with self.lock:
            for cls in (NetworkRule, PublicIp, Network):
                for obj in self.store.find(cls, account_id=account.id):
                    self.store.delete(obj)
