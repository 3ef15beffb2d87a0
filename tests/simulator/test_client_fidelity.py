"""What CloudStack's clients read off volumes, accounts, users and network rules, and the
checks CloudStack makes on them (found running Ansible's modules, Apache Libcloud's
CloudStack driver and CloudStack's own code against the simulator)."""

from __future__ import annotations

import pytest

from contract_tests.client import ApiError, Client, JobFailed
from tests.support.simulator import World


def _refused(client: Client, command: str, **params) -> ApiError:
    with pytest.raises(ApiError) as info:
        client.call(command, **params)
    return info.value


def test_an_attached_volume_says_so_and_a_detached_one_does_not(admin: Client, world: World):
    vm = world.deploy(running=False)
    volume = admin.run("createVolume", name="data", zoneid=world.zone,
                       diskofferingid=world.disk_offering)["volume"]
    assert "attached" not in volume and "virtualmachineid" not in volume
    attached = admin.run("attachVolume", id=volume["id"], virtualmachineid=vm["id"])["volume"]
    assert attached["attached"] and attached["vmdisplayname"] == vm["displayname"]
    root = admin.list("listVolumes", "volume", virtualmachineid=vm["id"], type="ROOT")[0]
    assert root["attached"] and root["destroyed"] is False
    detached = admin.run("detachVolume", id=volume["id"])["volume"]
    assert "attached" not in detached


def test_a_fixed_size_offering_takes_no_size_and_a_resize_to_an_offering_takes_it(
        admin: Client, world: World):
    offerings = {d["name"]: d for d in admin.list("listDiskOfferings", "diskoffering")}
    small, medium = offerings["Small"], offerings["Medium"]
    err = _refused(admin, "createVolume", name="v", zoneid=world.zone,
                   diskofferingid=small["id"], size=10)
    assert err.status == 431 and err.errortext == "This disk offering does not allow custom size"
    volume = admin.run("createVolume", name="v", zoneid=world.zone,
                       diskofferingid=small["id"])["volume"]
    resized = admin.run("resizeVolume", id=volume["id"], diskofferingid=medium["id"])["volume"]
    assert resized["size"] == medium["disksize"] << 30
    assert (resized["diskofferingid"], resized["diskofferingname"]) == (medium["id"], "Medium")


def test_an_admin_finds_any_account_and_user_by_id_or_domain(admin: Client, user: Client):
    me = user.list("listAccounts", "account")[0]
    assert [a["name"] for a in admin.list("listAccounts", "account", id=me["id"])] == ["user"]
    root = admin.list("listDomains", "domain", name="ROOT")[0]["id"]
    names = {a["name"] for a in admin.list("listAccounts", "account", domainid=root)}
    assert {"admin", "user"} <= names
    users = {u["username"] for u in admin.list("listUsers", "user", domainid=root)}
    assert {"admin", "user"} <= users
    theirs = admin.list("listUsers", "user", username="user", listall=True)[0]
    assert [u["username"] for u in admin.list("listUsers", "user", id=theirs["id"])] == ["user"]
    # An ordinary user still sees only its own.
    assert user.call("listAccounts", id=admin.list("listAccounts", "account")[0]["id"]) == {}


def test_reboot_and_recover_in_the_wrong_state_say_so_as_cloudstack_does(admin: Client,
                                                                        world: World):
    vm = world.deploy(running=False)
    with pytest.raises(JobFailed) as info:
        admin.run("rebootVirtualMachine", id=vm["id"])
    assert info.value.errortext == (f"The VM {vm['id']} ({vm['displayname']}) is not running, "
                                    "unable to reboot it")
    err = _refused(admin, "recoverVirtualMachine", id=vm["id"])
    assert err.status == 431 and err.errortext == f"Vm with id {vm['id']} is not in the right state"


def test_firewall_rules_hold_to_cloudstacks_rules(admin: Client, world: World):
    vm = world.deploy(running=False)
    ip = admin.run("associateIpAddress", zoneid=world.zone)["ipaddress"]
    icmp = admin.run("createFirewallRule", ipaddressid=ip["id"], protocol="icmp",
                     cidrlist="10.0.0.0/8")["firewallrule"]
    assert (icmp["icmptype"], icmp["icmpcode"]) == (-1, -1)
    assert "startport" not in icmp
    for params, text in (
            ({"protocol": "tcp", "startport": 80, "endport": 80, "icmptype": 8},
             "Can specify icmpCode and icmpType for ICMP protocol only"),
            ({"protocol": "icmp", "startport": 80},
             "Can't specify start/end port when protocol is ICMP")):
        err = _refused(admin, "createFirewallRule", ipaddressid=ip["id"], **params)
        assert err.status == 431 and err.errortext == text
    admin.run("createFirewallRule", ipaddressid=ip["id"], protocol="tcp", startport=80,
              endport=90, cidrlist="10.0.0.0/16")
    err = _refused(admin, "createFirewallRule", ipaddressid=ip["id"], protocol="tcp",
                   startport=85, endport=100, cidrlist="10.0.5.0/24")
    assert err.status == 537 and "conflicts with rule" in err.errortext
    # Another protocol, ports apart, or CIDRs that do not overlap: another rule.
    admin.run("createFirewallRule", ipaddressid=ip["id"], protocol="udp", startport=85,
              endport=100, cidrlist="10.0.0.0/16")
    admin.run("createFirewallRule", ipaddressid=ip["id"], protocol="tcp", startport=91,
              endport=100, cidrlist="10.0.0.0/16")
    admin.run("createFirewallRule", ipaddressid=ip["id"], protocol="tcp", startport=85,
              endport=100, cidrlist="192.168.0.0/16")
    err = _refused(admin, "createPortForwardingRule", ipaddressid=ip["id"], protocol="tcp",
                   publicport=3000, publicendport=3010, privateport=22, privateendport=23,
                   virtualmachineid=vm["id"])
    assert err.status == 431 and err.errortext == (
        "Source port and destination port ranges should be of equal sizes.")


def test_list_networks_filters_by_type(admin: Client, world: World):
    world.deploy(running=False)
    assert admin.list("listNetworks", "network", type="Isolated")
    assert admin.call("listNetworks", type="Shared") == {}
    assert admin.call("listNetworks", traffictype="Public") == {}
    assert admin.list("listNetworks", "network", isdefault=True)


def test_a_network_names_its_offering_and_the_offering_is_listed(admin: Client, user: Client,
                                                                 world: World):
    world.deploy(running=False)
    network = admin.list("listNetworks", "network")[0]
    offerings = user.list("listNetworkOfferings", "networkoffering")
    assert [o["id"] for o in offerings] == [network["networkofferingid"]]
    offering = offerings[0]
    assert offering["name"] == network["networkofferingname"] == \
        "DefaultIsolatedNetworkOfferingWithSourceNatService"
    assert (offering["guestiptype"], offering["traffictype"], offering["state"]) == (
        "Isolated", "Guest", "Enabled")
    assert "SourceNat" in {s["name"] for s in offering["service"]}
    for matching in ({"id": offering["id"]}, {"guestiptype": "isolated"},
                     {"isdefault": True}, {"supportedservices": "SourceNat,Dhcp"},
                     {"keyword": "isolated"}, {"forvpc": False}):
        assert user.list("listNetworkOfferings", "networkoffering", **matching), matching
    for other in ({"guestiptype": "Shared"}, {"forvpc": True}, {"traffictype": "Public"},
                  {"supportedservices": "Connectivity"}, {"name": "another"},
                  {"networkid": network["id"]}):
        assert admin.call("listNetworkOfferings", **other) == {}, other
    assert _refused(user, "listNetworkOfferings", id="00000000-0000-4000-8000-000000000000"
                    ).status == 431


def test_listing_instances_as_libcloud_does_finds_no_static_nat(admin: Client, world: World):
    # Libcloud's CloudStack driver lists VMs, public addresses, port forwarding and static
    # NAT rules together for every list_nodes.
    vm = world.deploy(running=False)
    assert admin.list("listVirtualMachines", "virtualmachine", id=vm["id"])
    admin.call("listPublicIpAddresses")
    admin.call("listPortForwardingRules")
    assert admin.call("listIpForwardingRules") == {}
    assert admin.call("listIpForwardingRules", virtualmachineid=vm["id"]) == {}


def test_update_virtual_machine_changes_what_it_names(admin: Client, world: World):
    vm = world.deploy(running=True)
    updated = admin.call("updateVirtualMachine", id=vm["id"], displayname="Web front",
                         group="web")["virtualmachine"]
    assert (updated["displayname"], updated["group"], updated["name"]) == (
        "Web front", "web", vm["name"])
    listed = admin.list("listVirtualMachines", "virtualmachine", id=vm["id"])[0]
    assert listed["displayname"] == "Web front" and listed["state"] == "Running"
    assert listed["securitygroup"] == [] and listed["affinitygroup"] == []
    assert listed["templatedisplaytext"]
    err = _refused(admin, "updateVirtualMachine", id=vm["id"],
                   ostypeid="00000000-0000-4000-8000-000000000000")
    assert err.status == 431


def test_list_nics_gives_a_vms_nics(admin: Client, world: World):
    vm = world.deploy(running=False)
    nics = admin.list("listNics", "nic", virtualmachineid=vm["id"])
    assert [n["ipaddress"] for n in nics] == [vm["nic"][0]["ipaddress"]]
    assert nics[0]["id"] == vm["nic"][0]["id"] and nics[0]["isdefault"] is True


def test_a_public_address_carries_its_tags(admin: Client, world: World):
    world.deploy(running=False)
    ip = admin.run("associateIpAddress", zoneid=world.zone)["ipaddress"]
    assert ip["tags"] == []
    admin.run("createTags", resourcetype="PublicIpAddress", resourceids=ip["id"],
              **{"tags[0].key": "purpose", "tags[0].value": "web"})
    listed = admin.list("listPublicIpAddresses", "publicipaddress", id=ip["id"])[0]
    assert [(t["key"], t["value"], t["resourcetype"]) for t in listed["tags"]] == [
        ("purpose", "web", "PublicIpAddress")]


def test_an_ordinary_user_is_not_shown_what_only_admins_see(admin: Client, user: Client,
                                                            world: World):
    started = user.call("deployVirtualMachine", zoneid=world.zone, templateid=world.template,
                        serviceofferingid=world.offering)
    job = user.job(started["jobid"])
    vm = job["jobresult"]["virtualmachine"]
    hidden_vm = {"instancename", "hostid", "hostname"}
    assert hidden_vm.isdisjoint(vm) and vm["state"] == "Running"
    assert hidden_vm.isdisjoint(user.list("listVirtualMachines", "virtualmachine",
                                          id=vm["id"])[0])
    seen_by_admin = admin.list("listVirtualMachines", "virtualmachine", id=vm["id"])[0]
    assert hidden_vm <= set(seen_by_admin)
    hidden_volume = {"path", "storage", "storageid", "storagetype", "hypervisor"}
    volume = user.list("listVolumes", "volume", virtualmachineid=vm["id"])[0]
    assert hidden_volume.isdisjoint(volume) and volume["attached"]
    assert hidden_volume <= set(admin.list("listVolumes", "volume", id=volume["id"])[0])
    snap = user.run("createVMSnapshot", virtualmachineid=vm["id"],
                    snapshotmemory=True)["vmsnapshot"]
    reverted = user.run("revertToVMSnapshot", vmsnapshotid=snap["id"])["virtualmachine"]
    assert hidden_vm.isdisjoint(reverted)


def test_an_account_can_be_locked_disabled_and_enabled_again(admin: Client, world: World):
    account = admin.call("createAccount", username="shy", password="pw", email="a@b.c",
                         firstname="F", lastname="L", accounttype=0)["account"]
    keys = admin.call("registerUserKeys", id=account["user"][0]["id"])["userkeys"]
    client = Client(admin.endpoint, keys["apikey"], keys["secretkey"], poll=0.01)
    vm = client.run("deployVirtualMachine", zoneid=world.zone, templateid=world.template,
                    serviceofferingid=world.offering)["virtualmachine"]

    locked = admin.run("disableAccount", id=account["id"], lock=True)["account"]
    assert locked["state"] == "locked"
    assert _refused(client, "listVirtualMachines").status == 401
    assert admin.list("listVirtualMachines", "virtualmachine", id=vm["id"])[0][
        "state"] == "Running"  # locking stops nothing
    assert admin.call("enableAccount", id=account["id"])["account"]["state"] == "enabled"
    assert client.list("listVirtualMachines", "virtualmachine")[0]["id"] == vm["id"]

    disabled = admin.run("disableAccount", account="shy", domainid=account["domainid"],
                         lock=False)["account"]
    assert disabled["state"] == "disabled"
    assert admin.list("listVirtualMachines", "virtualmachine", id=vm["id"])[0][
        "state"] == "Stopped"
    assert _refused(client, "listVirtualMachines").status == 401
    admin.call("enableAccount", account="shy", domainid=account["domainid"])
    assert client.call("listVirtualMachines")["count"] == 1

    me = admin.list("listAccounts", "account")[0]
    assert _refused(admin, "disableAccount", id=me["id"], lock=True).status == 531
    assert _refused(admin, "enableAccount").status == 431


def test_ordinary_users_expunge_and_recover_only_when_the_setting_lets_them(
        admin: Client, user: Client, world: World):
    def deploy() -> dict:
        return user.run("deployVirtualMachine", zoneid=world.zone, templateid=world.template,
                        serviceofferingid=world.offering, startvm=False)["virtualmachine"]

    vm = deploy()
    err = _refused(user, "destroyVirtualMachine", id=vm["id"], expunge=True)
    assert err.status == 531 and err.errortext == "Account does not have permission for expunging."
    user.run("destroyVirtualMachine", id=vm["id"])  # destroying without expunge is theirs
    for command in ("recoverVirtualMachine", "expungeVirtualMachine"):
        err = _refused(user, command, id=vm["id"])
        assert err.status == 531 and "allow.user.expunge.recover.vm" in err.errortext
    assert admin.list("listVirtualMachines", "virtualmachine", id=vm["id"])[0][
        "state"] == "Destroyed"  # nothing was done
    admin.call("updateConfiguration", name="allow.user.expunge.recover.vm", value="true")
    try:
        listed = admin.list("listConfigurations", "configuration",
                            name="allow.user.expunge.recover.vm")
        assert listed[0]["value"] == "true"
        assert user.call("recoverVirtualMachine", id=vm["id"])["virtualmachine"][
            "state"] == "Stopped"
        user.run("destroyVirtualMachine", id=vm["id"], expunge=True)
        assert admin.call("listVirtualMachines", id=vm["id"]) == {}
    finally:
        admin.call("updateConfiguration", name="allow.user.expunge.recover.vm", value="false")


def test_a_setting_is_changed_in_the_scope_cloudstack_keeps_it(admin: Client, user: Client,
                                                               world: World):
    name = "allow.user.expunge.recover.vm"
    users_account = admin.list("listAccounts", "account", name="user", listall=True)[0]
    before = admin.list("listConfigurations", "configuration", name="vmsnapshot.max")
    # vmsnapshot.max is global only: another scope is refused and nothing changes.
    for scope in ({"accountid": users_account["id"]}, {"zoneid": world.zone}):
        err = _refused(admin, "updateConfiguration", name="vmsnapshot.max", value="3",
                       **scope)
        assert err.status == 431 and err.errortext == \
            "Invalid scope id provided for the parameter vmsnapshot.max"
    err = _refused(admin, "updateConfiguration", name="vmsnapshot.max", value="3",
                   zoneid=world.zone, accountid=users_account["id"])
    assert "cannot handle multiple IDs" in err.errortext
    assert admin.list("listConfigurations", "configuration", name="vmsnapshot.max") == before
    unknown = _refused(admin, "updateConfiguration", name="no.such.setting", value="1")
    assert unknown.errortext == "Config parameter with name no.such.setting doesn't exist"
    # Without a value the setting is answered unchanged.
    assert admin.call("updateConfiguration", name="vmsnapshot.max")["configuration"][
        "value"] == before[0]["value"]
    # allow.user.expunge.recover.vm is kept per account too: one account's own value.
    vm = user.run("deployVirtualMachine", zoneid=world.zone, templateid=world.template,
                  serviceofferingid=world.offering, startvm=False)["virtualmachine"]
    user.run("destroyVirtualMachine", id=vm["id"])
    changed = admin.call("updateConfiguration", name=name, value="true",
                         accountid=users_account["id"])["configuration"]
    try:
        assert (changed["value"], changed["accountid"]) == ("true", users_account["id"])
        assert admin.list("listConfigurations", "configuration", name=name)[0][
            "value"] == "false"  # the global value is untouched
        assert admin.list("listConfigurations", "configuration", name=name,
                          accountid=users_account["id"])[0]["value"] == "true"
        assert user.call("recoverVirtualMachine", id=vm["id"])["virtualmachine"][
            "state"] == "Stopped"
    finally:
        admin.call("updateConfiguration", name=name, value="false",
                   accountid=users_account["id"])
    user.run("destroyVirtualMachine", id=vm["id"])
    assert _refused(user, "recoverVirtualMachine", id=vm["id"]).status == 531


def test_tags_are_checked_within_one_request_too(user: Client, world: World):
    vm = user.run("deployVirtualMachine", zoneid=world.zone, templateid=world.template,
                  serviceofferingid=world.offering, startvm=False)["virtualmachine"]
    # The same resource named twice is tagged once.
    user.run("createTags", resourcetype="UserVm", resourceids=f"{vm['id']},{vm['id']}",
             tags=[{"key": "once", "value": "v"}])
    assert len(user.list("listTags", "tag", resourceid=vm["id"], key="once")) == 1
    for tags, text in (([{"key": "k" * 256, "value": "v"}], "at most 255"),
                       ([{"key": "k", "value": "v" * 256}], "at most 255"),
                       ([{"key": " ", "value": "v"}], "Tag key cannot be empty"),
                       ([{"key": "twice", "value": "a"}, {"key": "twice", "value": "b"}],
                        "given twice")):
        err = _refused(user, "createTags", resourcetype="UserVm", resourceids=vm["id"],
                       tags=tags)
        assert err.status == 431 and text in err.errortext
    assert [t["key"] for t in user.list("listTags", "tag", resourceid=vm["id"])] == ["once"]


def test_user_data_is_checked_as_cloudstack_checks_it(user: Client, world: World):
    deploy = {"zoneid": world.zone, "templateid": world.template,
              "serviceofferingid": world.offering, "startvm": False}
    before = user.call("listVirtualMachines")
    for value, text in (("!!!not base64!!!", "User data is not base64 encoded."),
                        ("====", "User data is too short."),
                        ("QUJD" * 8193, "User data is too long for http GET request")):
        err = _refused(user, "deployVirtualMachine", userdata=value, **deploy)
        assert err.status == 431 and text in err.errortext
    assert user.call("listVirtualMachines") == before
    vm = user.run("deployVirtualMachine", userdata="aGVsbG8", **deploy)["virtualmachine"]
    assert vm["userdata"] == "aGVsbG8="  # padded, as CloudStack stores it
    err = _refused(user, "updateVirtualMachine", id=vm["id"], userdata="%%%")
    assert "User data is not base64 encoded." in err.errortext


def test_list_domains_filters_by_id_and_name(admin: Client):
    root = admin.list("listDomains", "domain")[0]
    assert [d["id"] for d in admin.list("listDomains", "domain", id=root["id"])] == [root["id"]]
    assert [d["id"] for d in admin.list("listDomains", "domain", name="root")] == [root["id"]]
    assert admin.call("listDomains", name="nosuchdomain") == {}
    err = _refused(admin, "listDomains", id="00000000-0000-4000-8000-000000000000")
    assert err.status == 431


def test_an_address_is_acquired_only_with_ids_that_name_something(user: Client,
                                                                  world: World):
    world.deploy(running=False)
    vm = user.run("deployVirtualMachine", zoneid=world.zone, templateid=world.template,
                  serviceofferingid=world.offering, startvm=False)["virtualmachine"]
    before = user.call("listPublicIpAddresses")
    for param in ("domainid", "vpcid", "projectid"):
        err = _refused(user, "associateIpAddress", zoneid=world.zone, **{param: vm["id"]})
        assert err.status == 431 and f"Invalid parameter {param} value={vm['id']}" in \
            err.errortext
    assert user.call("listPublicIpAddresses") == before  # nothing was acquired
