"""What CloudStack's own test framework needs around VM snapshots, over real HTTP: listApis
with fields, NICs, deploy parameters, keys, offerings, deleteAccount, storage pools, limits,
public addresses and rules, OS types, and the integration API port."""

from __future__ import annotations

import os
import socket
from typing import Any

import pytest
import requests

from contract_tests.client import ApiError, Client, JobFailed
from simulator.app import ThreadedServer
from simulator.config import SimConfig
from simulator.models import VM, Account, VolumeSnapshot
from simulator.ssh.server import guest_address
from tests.support.simulator import World, control, read, write


def _new_account(admin: Client, name: str) -> tuple[dict[str, Any], Client]:
    """A fresh user account, its keys registered, and a client signed with them."""
    account = admin.call("createAccount", username=name, password="pw", email="a@b.c",
                         firstname="F", lastname="L")["account"]
    user = account["user"][0]
    keys = admin.call("registerUserKeys", id=user["id"])["userkeys"]
    client = Client(admin.endpoint, keys["apikey"], keys["secretkey"], poll=0.01)
    return account, client


def test_list_apis_lists_parameters_and_nested_response_fields(admin):
    apis = {a["name"]: a for a in admin.list("listApis", "api")}
    deploy = apis["deployVirtualMachine"]
    params = {p["name"]: p for p in deploy["params"]}
    for name in ("networkids", "hypervisor", "account", "domainid", "keypair", "details",
                 "userdata", "startvm", "diskofferingid", "size", "rootdisksize"):
        assert name in params
    assert params["zoneid"]["required"] is True and params["name"]["length"] == 63
    fields = {f["name"]: f for f in deploy["response"]}
    nic = {f["name"] for f in fields["nic"]["response"]}
    assert {"id", "networkid", "networkname", "ipaddress", "netmask", "gateway", "macaddress",
            "isdefault", "traffictype", "type"} <= nic
    snapshot_fields = {f["name"] for f in apis["createVMSnapshot"]["response"]}
    assert {"id", "state", "current", "parent", "virtualmachineid"} <= snapshot_fields
    user_fields = {f["name"]: f for f in apis["createAccount"]["response"]}["user"]
    assert user_fields["type"] == "list" and any(
        f["name"] == "apikey" for f in user_fields["response"])
    assert {f["name"] for f in apis["deleteVMSnapshot"]["response"]} == {"success",
                                                                         "displaytext"}


def test_a_too_long_value_is_refused_by_its_declared_length(admin, world):
    with pytest.raises(ApiError) as err:
        admin.call("deployVirtualMachine", zoneid=world.zone, templateid=world.template,
                   serviceofferingid=world.offering, name="a" * 64)
    assert err.value.status == 431
    assert "max allowed length 63 for param: name" in err.value.errortext


def test_every_vm_has_a_default_nic_with_its_own_loopback_address(sim, admin, world):
    first, second = world.deploy(), world.deploy(running=False)
    nics = [vm["nic"][0] for vm in (first, second)]
    assert nics[0]["ipaddress"] != nics[1]["ipaddress"]
    assert nics[0]["ipaddress"] == guest_address(sim.manager.store.by_uuid(VM, first["id"]))
    assert nics[0]["macaddress"] != nics[1]["macaddress"]
    for nic in nics:
        assert nic["ipaddress"].startswith("127.10.") and nic["netmask"] == "255.255.0.0"
        assert nic["isdefault"] is True and nic["traffictype"] == "Guest"
        assert nic["type"] == "Isolated" and nic["gateway"] == "127.10.0.1"
    networks = admin.list("listNetworks", "network")
    assert nics[0]["networkid"] in {n["id"] for n in networks}
    listed = admin.list("listVirtualMachines", "virtualmachine", id=first["id"])[0]
    assert listed["nic"][0]["ipaddress"] == nics[0]["ipaddress"]


def test_a_display_name_is_free_text_and_the_host_name_is_generated(admin, world):
    vm = admin.run("deployVirtualMachine", zoneid=world.zone, templateid=world.template,
                   serviceofferingid=world.offering, displayname="Test VM",
                   startvm=False)["virtualmachine"]
    assert vm["displayname"] == "Test VM"
    assert vm["name"] == f"VM-{vm['id']}"
    with pytest.raises(ApiError) as err:
        admin.call("deployVirtualMachine", zoneid=world.zone, templateid=world.template,
                   serviceofferingid=world.offering, name="Test VM")
    assert err.value.status == 431 and "Invalid name" in err.value.errortext


def test_deploy_honours_account_startvm_data_disk_and_root_size(admin, world):
    account, client = _new_account(admin, "deployer")
    networks = client.list("listNetworks", "network")
    assert networks == []  # the account's network comes with its first VM
    admin.call("createSSHKeyPair", name="mykey", account=account["name"],
               domainid=account["domainid"])
    vm = admin.run("deployVirtualMachine", zoneid=world.zone, templateid=world.template,
                   serviceofferingid=world.offering, account=account["name"],
                   domainid=account["domainid"], startvm=False, hypervisor="KVM",
                   diskofferingid=world.disk_offering, details=[{"rootdisksize": "3"}],
                   keypair="mykey", notaparameter="ignored")["virtualmachine"]
    assert vm["account"] == "deployer" and vm["state"] == "Stopped"
    assert vm["keypair"] == vm["keypairs"] == "mykey"
    volumes = {v["type"]: v for v in client.list("listVolumes", "volume",
                                                 virtualmachineid=vm["id"])}
    assert volumes["ROOT"]["size"] == 3 << 30 and "DATADISK" in volumes
    assert client.list("listNetworks", "network")[0]["id"] == vm["nic"][0]["networkid"]
    second = client.run("deployVirtualMachine", zoneid=world.zone, templateid=world.template,
                        serviceofferingid=world.offering, startvm=False,
                        networkids=vm["nic"][0]["networkid"])["virtualmachine"]
    assert second["nic"][0]["networkid"] == vm["nic"][0]["networkid"]
    with pytest.raises(ApiError) as err:
        client.call("deployVirtualMachine", zoneid=world.zone, templateid=world.template,
                    serviceofferingid=world.offering, account="admin")
    assert err.value.status == 531
    with pytest.raises(ApiError) as err:
        admin.call("deployVirtualMachine", zoneid=world.zone, templateid=world.template,
                   serviceofferingid=world.offering, hypervisor="VMware")
    assert err.value.status == 431


def test_a_new_user_has_no_keys_until_register_user_keys(admin):
    account = admin.call("createAccount", username="keyless", password="pw", email="a@b.c",
                         firstname="F", lastname="L")["account"]
    user = account["user"][0]
    assert "apikey" not in user
    assert admin.call("getUserKeys", id=user["id"])["userkeys"] == {}
    keys = admin.call("registerUserKeys", id=user["id"])["userkeys"]
    assert admin.call("getUserKeys", id=user["id"])["userkeys"] == keys
    signed = Client(admin.endpoint, keys["apikey"], keys["secretkey"])
    assert signed.list("listAccounts", "account")[0]["name"] == "keyless"


def test_service_and_disk_offerings_are_created_updated_and_deleted(admin, user, world):
    offering = admin.call("createServiceOffering", name="Tiny", displaytext="Tiny one",
                          cpunumber=1, cpuspeed=100, memory=128)["serviceoffering"]
    assert (offering["cpunumber"], offering["cpuspeed"], offering["memory"]) == (1, 100, 128)
    updated = admin.call("updateServiceOffering", id=offering["id"],
                         displaytext="Renamed")["serviceoffering"]
    assert updated["displaytext"] == "Renamed" and updated["name"] == "Tiny"
    vm = world.deploy(running=False)
    vm = admin.run("deployVirtualMachine", zoneid=world.zone, templateid=world.template,
                   serviceofferingid=offering["id"], startvm=False)["virtualmachine"]
    assert admin.call("deleteServiceOffering", id=offering["id"])["success"] == "true"
    assert offering["id"] not in {o["id"] for o in
                                  admin.list("listServiceOfferings", "serviceoffering")}
    listed = admin.list("listVirtualMachines", "virtualmachine", id=vm["id"])[0]
    assert listed["serviceofferingname"] == "Tiny"  # a deleted offering stays on its VMs
    with pytest.raises(ApiError) as err:
        admin.call("deleteServiceOffering", id=offering["id"])
    assert err.value.status == 431
    with pytest.raises(ApiError) as err:
        user.call("createServiceOffering", name="x", displaytext="x")
    assert err.value.status == 432
    disk = admin.call("createDiskOffering", name="Ten", disksize=10)["diskoffering"]
    assert disk["disksize"] == 10 and disk["iscustomized"] is False
    custom = admin.call("createDiskOffering", name="Any", customized=True)["diskoffering"]
    assert custom["iscustomized"] is True
    with pytest.raises(ApiError) as err:
        admin.call("createDiskOffering", name="None")
    assert err.value.status == 431
    assert admin.call("deleteDiskOffering", id=disk["id"])["success"] == "true"
    with pytest.raises(ApiError) as err:
        admin.call("createServiceOffering", displaytext="no name")
    assert err.value.status == 431 and "missing parameter name" in err.value.errortext


def test_delete_account_leaves_nothing_behind(sim, admin, world):
    account, client = _new_account(admin, "doomed")
    vm = client.run("deployVirtualMachine", zoneid=world.zone, templateid=world.template,
                    serviceofferingid=world.offering,
                    diskofferingid=world.disk_offering)["virtualmachine"]
    client.run("createVMSnapshot", virtualmachineid=vm["id"])
    root = client.list("listVolumes", "volume", virtualmachineid=vm["id"], type="ROOT")[0]
    client.run("createSnapshot", volumeid=root["id"])
    loose = client.run("createVolume", name="loose", zoneid=world.zone,
                       diskofferingid=world.disk_offering)["volume"]
    ip = client.run("associateIpAddress", zoneid=world.zone)["ipaddress"]
    client.run("createFirewallRule", ipaddressid=ip["id"], protocol="tcp", startport=22,
               endport=22)
    # What only an admin is shown: the volumes' paths and the VM's name on the host.
    paths = [v["path"] for v in admin.list("listVolumes", "volume", account="doomed",
                                            domainid=account["domainid"])]
    assert admin.list("listVolumes", "volume", id=loose["id"])[0]["path"] in paths
    vm = admin.list("listVirtualMachines", "virtualmachine", id=vm["id"])[0]
    account_id = sim.manager.store.by_uuid(Account, account["id"]).id
    session = Client(admin.endpoint, poll=0.01)
    with pytest.raises(ApiError) as err:
        admin.call("deleteAccount", id=admin.list("listAccounts", "account")[0]["id"])
    assert err.value.status == 531  # not the caller's own account

    assert admin.run("deleteAccount", id=account["id"])["success"] is True

    host = control(sim, "GET", "/state")["host"]
    assert vm["instancename"] not in {v["name"] for v in host["vms"]}
    left = [f for f in os.listdir(sim.manager.config.pool) if any(p in f for p in paths)]
    assert left == []
    objects = control(sim, "GET", "/state")["objects"]
    kept = [(kind, o) for kind, rows in objects.items() for o in rows
            if o.get("account_id") == account_id and not o.get("removed")
            and kind != "AsyncJob"]  # the job history stays, as CloudStack's does
    assert kept == []
    with pytest.raises(ApiError) as err:
        client.call("listVirtualMachines")
    assert err.value.status == 401  # its keys are gone
    with pytest.raises(ApiError):
        session.login("doomed", "pw")
    assert "doomed" not in {a["name"] for a in admin.list("listAccounts", "account",
                                                          listall=True)}



def test_delete_account_waits_for_the_accounts_jobs_and_lets_it_start_nothing(sim, admin,
                                                                              world):
    account, client = _new_account(admin, "busy")
    vm = client.run("deployVirtualMachine", zoneid=world.zone, templateid=world.template,
                    serviceofferingid=world.offering)["virtualmachine"]
    vm = admin.list("listVirtualMachines", "virtualmachine", id=vm["id"])[0]  # instancename
    control(sim, "POST", "/jobs", {"delay_ms": 1500})
    try:
        taking = client.call("createVMSnapshot", virtualmachineid=vm["id"])
        deleting = admin.call("deleteAccount", id=account["id"])
        with pytest.raises(ApiError) as err:  # the account is disabled at once
            client.call("createVolume", name="late", zoneid=world.zone,
                        diskofferingid=world.disk_offering)
        assert err.value.status == 401
        # The snapshot job ends as it would have (it was first in the VM's queue) ...
        assert admin.job(taking["jobid"])["jobresult"]["vmsnapshot"]["state"] == "Ready"
        # ... and then the account goes, whole.
        assert admin.job(deleting["jobid"])["jobresult"]["success"] is True
    finally:
        control(sim, "POST", "/jobs", {"delay_ms": 0})
    assert not [a for a in admin.list("listAccounts", "account", listall=True)
                if a["id"] == account["id"]]
    host = control(sim, "GET", "/state")["host"]
    assert vm["instancename"] not in {v["name"] for v in host["vms"]}


def test_storage_pools_hold_the_volumes_with_cloudstack_types(admin, world):
    vm = world.deploy(running=False)
    root = admin.list("listVolumes", "volume", virtualmachineid=vm["id"])[0]
    [pool] = admin.list("listStoragePools", "storagepool", id=root["storageid"])
    assert pool["type"] in ("Filesystem", "NetworkFilesystem", "RBD")
    assert pool["name"] == root["storage"] and pool["zoneid"] == world.zone
    assert pool["disksizeallocated"] >= root["size"]


def test_resource_limits_are_recorded_and_enforced(admin, world):
    account, client = _new_account(admin, "limited")
    owner = {"account": account["name"], "domainid": account["domainid"]}
    limit = admin.call("updateResourceLimit", resourcetype=0, max=1, **owner)
    assert limit["resourcelimit"]["max"] == 1
    assert limit["resourcelimit"]["resourcetypename"] == "user_vm"
    listed = {r["resourcetype"]: r["max"] for r in
              client.list("listResourceLimits", "resourcelimit")}
    assert listed["0"] == 1 and listed["2"] == -1
    deploy = {"zoneid": world.zone, "templateid": world.template,
              "serviceofferingid": world.offering, "startvm": False}
    client.run("deployVirtualMachine", **deploy)
    with pytest.raises(ApiError) as err:
        client.call("deployVirtualMachine", **deploy)
    assert err.value.status == 535
    assert "Type = 'user_vm'" in err.value.errortext and "Limit = 1" in err.value.errortext
    assert len(client.list("listVirtualMachines", "virtualmachine")) == 1  # nothing added
    admin.call("updateResourceLimit", resourcetype=2, max=1, **owner)
    with pytest.raises(ApiError) as err:
        client.call("createVolume", name="v", zoneid=world.zone,
                    diskofferingid=world.disk_offering)
    assert err.value.status == 535 and "'volume'" in err.value.errortext
    admin.call("updateResourceLimit", resourcetype=2, max=-1, **owner)
    admin.call("updateResourceLimit", resourcetype=10, max=3, **owner)
    with pytest.raises(ApiError) as err:
        client.call("createVolume", name="v", zoneid=world.zone,
                    diskofferingid=world.disk_offering)  # 2 GiB root + 5 GiB > 3 GiB
    assert err.value.status == 535 and "primary_storage" in err.value.errortext
    vm = client.list("listVirtualMachines", "virtualmachine")[0]
    root = client.list("listVolumes", "volume", virtualmachineid=vm["id"])[0]
    with pytest.raises(JobFailed) as failed:
        client.run("resizeVolume", id=root["id"], size=4)  # 4 GiB > 3 GiB
    assert failed.value.errorcode == 535
    assert client.list("listVolumes", "volume", id=root["id"])[0]["size"] == root["size"]
    with pytest.raises(ApiError) as err:
        admin.call("updateResourceLimit", resourcetype=99, max=1, **owner)
    assert err.value.status == 431
    with pytest.raises(ApiError) as err:
        client.call("updateResourceLimit", resourcetype=0, max=100, **owner)
    assert err.value.status == 432  # admin only


def test_public_addresses_and_rules_are_kept_with_cloudstack_shapes(admin, world):
    account, client = _new_account(admin, "netuser")
    vm = client.run("deployVirtualMachine", zoneid=world.zone, templateid=world.template,
                    serviceofferingid=world.offering, startvm=False)["virtualmachine"]
    network = vm["nic"][0]["networkid"]
    started = client.call("associateIpAddress", zoneid=world.zone)
    assert set(started) == {"id", "jobid"}
    ip = client.job(started["jobid"])["jobresult"]["ipaddress"]
    assert ip["id"] == started["id"] and ip["ipaddress"].startswith("127.11.")
    assert ip["associatednetworkid"] == network
    listed = client.list("listPublicIpAddresses", "publicipaddress")
    assert [i["ipaddress"] for i in listed] == [ip["ipaddress"]]
    rule = client.run("createFirewallRule", ipaddressid=ip["id"], protocol="TCP",
                      cidrlist="0.0.0.0/0", startport=22, endport=22)["firewallrule"]
    assert (rule["protocol"], rule["startport"], rule["endport"]) == ("tcp", 22, 22)
    with pytest.raises(ApiError) as err:
        client.call("createFirewallRule", ipaddressid=ip["id"], protocol="TCP",
                    cidrlist="0.0.0.0/0", startport=22, endport=22)
    assert err.value.status == 537  # CloudStack's NetworkRuleConflictException
    assert err.value.errortext.startswith("The range specified, 22-22, conflicts with rule ")
    pf = client.run("createPortForwardingRule", ipaddressid=ip["id"], privateport=22,
                    publicport=2222, protocol="TCP",
                    virtualmachineid=vm["id"])["portforwardingrule"]
    assert pf["vmguestip"] == vm["nic"][0]["ipaddress"] and pf["publicport"] == "2222"
    assert pf["ipaddress"] == ip["ipaddress"]
    egress = client.run("createEgressFirewallRule", networkid=network, protocol="All",
                        cidrlist="0.0.0.0/0")["firewallrule"]
    assert egress["traffictype"] == "Egress"
    with pytest.raises(ApiError) as err:
        client.call("createPortForwardingRule", ipaddressid=ip["id"], privateport=22,
                    publicport=22, protocol="icmp", virtualmachineid=vm["id"])
    assert err.value.status == 431
    with pytest.raises(ApiError) as err:
        client.call("createFirewallRule", ipaddressid=ip["id"], protocol="gre")
    assert err.value.status == 431
    assert [r["id"] for r in client.list("listFirewallRules", "firewallrule")] == [rule["id"]]
    assert [r["id"] for r in client.list("listEgressFirewallRules", "firewallrule")] == [
        egress["id"]]
    assert [r["id"] for r in client.list("listPortForwardingRules",
                                         "portforwardingrule")] == [pf["id"]]
    assert client.run("deleteFirewallRule", id=rule["id"])["success"] is True
    with pytest.raises(ApiError) as err:
        client.call("deleteEgressFirewallRule", id=pf["id"])  # not an egress rule
    assert err.value.status == 431
    assert client.run("deleteEgressFirewallRule", id=egress["id"])["success"] is True
    assert client.run("disassociateIpAddress", id=ip["id"])["success"] is True
    assert client.list("listPortForwardingRules", "portforwardingrule") == []
    assert client.list("listPublicIpAddresses", "publicipaddress") == []
    with pytest.raises(ApiError) as err:
        client.call("disassociateIpAddress", id=ip["id"])
    assert err.value.status == 431


def test_templates_carry_their_os_type_and_os_types_are_listed(admin, user, world):
    templates = user.list("listTemplates", "template", templatefilter="featured")
    ostypes = {o["id"]: o["description"] for o in user.list("listOsTypes", "ostype")}
    for template in templates:
        assert ostypes[template["ostypeid"]] == template["ostypename"]
    some = templates[0]
    same = user.list("listTemplates", "template", templatefilter="featured",
                     ostypeid=some["ostypeid"])
    assert some["id"] in {t["id"] for t in same}
    by_name = user.list("listOsTypes", "ostype", description=some["ostypename"])
    assert [o["id"] for o in by_name] == [some["ostypeid"]]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_the_integration_port_runs_commands_unauthenticated_on_loopback(tmp_path):
    port = _free_port()
    with ThreadedServer(SimConfig(data_dir=str(tmp_path),
                                  integration_api_port=port)) as server:
        open_url = f"http://127.0.0.1:{port}/client/api"
        body = requests.get(open_url, params={"command": "listApis", "response": "json"},
                            timeout=30).json()
        assert body["listapisresponse"]["count"] > 60
        zones = requests.get(open_url, params={"command": "listZones", "response": "json"},
                             timeout=30).json()
        assert zones["listzonesresponse"]["count"] == 1
        resp = requests.get(server.endpoint, params={"command": "listZones",
                                                     "response": "json"}, timeout=30)
        assert resp.status_code == 401  # the main port still wants credentials
        spoofed = requests.get(server.endpoint, params={"command": "listZones"}, timeout=30,
                               headers={"Host": f"127.0.0.1:{port}"})
        assert spoofed.status_code == 401  # the port is the listener's, not the Host header


def test_the_integration_port_is_off_by_default(sim):
    assert sim.manager.config.integration_api_port == 0
    assert sim.integration is None


# --- declarations and rendering cannot drift -----------------------------------------------


def test_every_command_renders_only_its_declared_fields(sim, admin, world):
    from simulator.api.registry import APIS
    from simulator.api.schema import fields_of, undeclared

    seen: dict[str, list[Any]] = {}

    def check(command: str, payload: dict[str, Any]) -> None:
        seen.setdefault(command, []).append(payload)

    def diverge(vm: dict[str, Any]) -> None:  # the host powers the VM off on its own
        sim.app.extensions["sim.host"].simulated.guest(vm["instancename"]).stop()

    scenario = _Scenario(admin, world, check, diverge)
    scenario.run()
    from simulator.api.unmodelled import NOTHING

    served = {a.name for a in APIS.values() if not a.open}
    assert served - set(seen) == set(), "commands the scenario does not call"
    for command, payloads in seen.items():
        api = APIS[command.lower()]
        fields = fields_of(api.response)
        for payload in payloads:
            objects = _objects(api.response, payload)
            # What the simulator does not model is never rendered: nothing can drift there.
            assert objects or command in NOTHING, f"{command} rendered no {api.response}"
            for obj in objects:
                assert undeclared(obj, fields) == [], command


def _objects(response: str, payload: dict[str, Any]) -> list[dict[str, Any]]:
    """The response objects inside a payload: a job result, a list or a single object."""
    if "jobstatus" in payload and response == "asyncjobs":
        return [payload]
    for key, value in payload.items():
        if key.lower() == response.lower() or (key == "publicipaddress"
                                               and response == "publicipaddress"):
            return value if isinstance(value, list) else [value]
    if response == "success" and "success" in payload:
        return [payload]
    return []


class _Scenario:
    """One call (at least) of every registered command, in an order that gives each list
    something to list."""

    def __init__(self, admin: Client, world: World, check: Any, diverge: Any) -> None:
        self.admin, self.world, self.check = admin, world, check
        self.diverge = diverge  # makes a VM's record and its host disagree

    def refused(self, command: str, **params: Any) -> None:
        """A command whose every call is refused: seen, with nothing rendered."""
        with pytest.raises(ApiError):
            self.admin.call(command, **params)
        self.check(command, {})

    def call(self, command: str, **params: Any) -> dict[str, Any]:
        out = self.admin.call(command, **params)
        if "jobid" in out and set(out) <= {"jobid", "id"}:
            job = self.admin.job(out["jobid"])
            self.check("queryAsyncJobResult", job)
            out = job["jobresult"]
        self.check(command, out)
        return out

    def run(self) -> None:
        w, call = self.world, self.call
        zone = w.zone
        call("listZones")
        call("listHosts")
        call("listPods")
        call("listClusters")
        call("listTemplates", templatefilter="featured")
        call("listOsTypes")
        call("listServiceOfferings")
        call("listDiskOfferings")
        call("listStoragePools")
        call("listDomains")
        call("listCapabilities")
        call("listConfigurations")
        call("updateConfiguration", name="vmsnapshot.max", value="10")
        call("listApis")
        call("listManagementServers")
        call("listRegions")
        for listed in ("listSystemVms", "listRouters", "listPhysicalNetworks",
                       "listNetworkServiceProviders", "listVirtualRouterElements",
                       "listVlanIpRanges", "listEvents", "listIsos", "listLoadBalancerRules",
                       "listNetworkOfferings", "listVPCOfferings", "listSnapshotPolicies",
                       "listIpForwardingRules", "listSecurityGroups", "listAffinityGroups",
                       "listProjects"):
            call(listed)
        call("listUsageRecords", startdate="2026-11-01", enddate="2026-11-25")
        self.refused("listLoadBalancerRuleInstances", id="none")
        self.refused("migrateSystemVm", virtualmachineid="none")
        self.refused("addNetworkServiceProvider", physicalnetworkid="none", name="n")
        self.refused("updateNetworkServiceProvider", id="none")
        account = call("createAccount", username="drift", password="pw", email="a@b.c",
                       firstname="F", lastname="L")["account"]
        user_id = account["user"][0]["id"]
        call("registerUserKeys", id=user_id)
        call("getUserKeys", id=user_id)
        call("listUsers")
        call("disableAccount", id=account["id"], lock=True)
        call("enableAccount", id=account["id"])
        call("listAccounts")
        owner = {"account": "drift", "domainid": account["domainid"]}
        call("updateResourceLimit", resourcetype=0, max=5, **owner)
        call("listResourceLimits", **owner)
        ostype = call("listOsTypes")["ostype"][0]["id"]
        template = call("registerTemplate", name="T", format="QCOW2", hypervisor="KVM",
                        url="http://images.example/t.qcow2", zoneid=zone,
                        ostypeid=ostype)["template"][0]
        call("deleteTemplate", id=template["id"])
        host = call("listHosts")["host"][0]
        call("updateHost", id=host["id"], hosttags="")
        caps = call("listHypervisorCapabilities")["hypervisorCapabilities"][0]
        call("updateHypervisorCapabilities", id=caps["id"], maxguestslimit=50)
        call("createSSHKeyPair", name="made", **owner)
        public = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHs0OwkXg1bWcp8f9rYx7oGJW4HYbKJTtYrVvZ1g3n8B"
        call("registerSSHKeyPair", name="given", publickey=public, **owner)
        call("listSSHKeyPairs", **owner)
        call("deleteSSHKeyPair", name="given", **owner)
        offering = call("createServiceOffering", name="S", displaytext="S", cpunumber=1,
                        cpuspeed=100, memory=128)["serviceoffering"]
        call("updateServiceOffering", id=offering["id"], displaytext="T")
        disk = call("createDiskOffering", name="D", disksize=1)["diskoffering"]
        vm = call("deployVirtualMachine", zoneid=zone, templateid=w.template,
                  serviceofferingid=w.offering, diskofferingid=disk["id"])["virtualmachine"]
        call("listVirtualMachines")
        call("updateVirtualMachine", id=vm["id"], displayname="Scenario VM", group="g")
        call("listNics", virtualmachineid=vm["id"])
        call("listNetworks")
        snap = call("createVMSnapshot", virtualmachineid=vm["id"],
                    snapshotmemory=True)["vmsnapshot"]
        call("listVMSnapshot", virtualmachineid=vm["id"])
        call("revertToVMSnapshot", vmsnapshotid=snap["id"])
        call("createTags", resourcetype="UserVm", resourceids=vm["id"],
             tags=[{"key": "k", "value": "v"}])
        call("listTags")
        call("deleteTags", resourcetype="UserVm", resourceids=vm["id"],
             tags=[{"key": "k"}])
        volumes = call("listVolumes", virtualmachineid=vm["id"])["volume"]
        root = next(v for v in volumes if v["type"] == "ROOT")
        data = next(v for v in volumes if v["type"] == "DATADISK")
        from_vm = call("createSnapshotFromVMSnapshot", volumeid=root["id"],
                       vmsnapshotid=snap["id"])["snapshot"]
        call("deleteSnapshot", id=from_vm["id"])
        call("deleteVMSnapshot", vmsnapshotid=snap["id"])
        vsnap = call("createSnapshot", volumeid=root["id"])["snapshot"]
        call("listSnapshots")
        call("deleteSnapshot", id=vsnap["id"])
        call("detachVolume", id=data["id"])
        call("attachVolume", id=data["id"], virtualmachineid=vm["id"])
        call("detachVolume", id=data["id"])
        call("resizeVolume", id=data["id"], size=2)
        call("deleteVolume", id=data["id"])
        loose = call("createVolume", name="l", zoneid=zone, diskofferingid=w.disk_offering)
        call("destroyVolume", id=loose["volume"]["id"])
        call("recoverVolume", id=loose["volume"]["id"])
        call("deleteVolume", id=loose["volume"]["id"])
        ip = call("associateIpAddress", zoneid=zone)["ipaddress"]
        call("listPublicIpAddresses")
        fw = call("createFirewallRule", ipaddressid=ip["id"], protocol="tcp", startport=1,
                  endport=2)["firewallrule"]
        call("listFirewallRules")
        call("deleteFirewallRule", id=fw["id"])
        eg = call("createEgressFirewallRule", networkid=vm["nic"][0]["networkid"],
                  protocol="all")["firewallrule"]
        call("listEgressFirewallRules")
        call("deleteEgressFirewallRule", id=eg["id"])
        pf = call("createPortForwardingRule", ipaddressid=ip["id"], privateport=22,
                  publicport=22, protocol="tcp", virtualmachineid=vm["id"])
        call("listPortForwardingRules")
        call("deletePortForwardingRule", id=pf["portforwardingrule"]["id"])
        call("disassociateIpAddress", id=ip["id"])
        call("stopVirtualMachine", id=vm["id"])
        call("changeServiceForVirtualMachine", id=vm["id"], serviceofferingid=offering["id"])
        call("scaleVirtualMachine", id=vm["id"], serviceofferingid=w.offering)
        call("startVirtualMachine", id=vm["id"])
        call("rebootVirtualMachine", id=vm["id"])
        self.diverge(vm)
        call("reconcileVirtualMachineRecords", repair=True)
        call("destroyVirtualMachine", id=vm["id"])
        call("recoverVirtualMachine", id=vm["id"])
        call("destroyVirtualMachine", id=vm["id"])
        call("expungeVirtualMachine", id=vm["id"])
        call("listAsyncJobs")
        call("deleteServiceOffering", id=offering["id"])
        call("deleteDiskOffering", id=disk["id"])
        call("deleteAccount", id=account["id"])
        try:
            call("queryAsyncJobResult", jobid="none")
        except ApiError:
            pass
        with pytest.raises((ApiError, JobFailed)):
            call("createVMSnapshot", virtualmachineid="none")


def _stored(sim: ThreadedServer, volume_path: str, name: str) -> bytes:
    """The bytes the simulated host keeps for one volume snapshot, block by block."""
    host = sim.app.extensions["sim.host"].simulated
    with host.store.tx() as c:
        rows = c.execute("SELECT data FROM volume_snapshots WHERE name=? AND volume LIKE ?"
                         " AND data IS NOT NULL ORDER BY key", (name, f"%{volume_path}")
                         ).fetchall()
    return b"".join(bytes(r[0]) for r in rows)


def test_a_volume_snapshot_from_a_vm_snapshot_holds_the_volume_as_it_was(sim, admin, world):
    vm = world.deploy(data_disk=True)
    write(sim, vm, b"before the VM snapshot")
    vm_snapshot = world.snapshot(vm, snapshotmemory=True)
    write(sim, vm, b"AFTER THE VM SNAPSHOT!")
    volumes = {v["type"]: v for v in admin.list("listVolumes", "volume",
                                                 virtualmachineid=vm["id"])}
    root = volumes["ROOT"]
    started = admin.call("createSnapshotFromVMSnapshot", volumeid=root["id"],
                         vmsnapshotid=vm_snapshot["id"], name="fromvs")
    snap = admin.job(started["jobid"])["jobresult"]["snapshot"]
    assert snap["id"] == started["id"] and snap["state"] == "BackedUp"
    assert snap["vmsnapshotid"] == vm_snapshot["id"] and snap["volumeid"] == root["id"]
    copy = sim.manager.store.by_uuid(VolumeSnapshot, snap["id"]).path  # the host's name
    assert copy and copy != "fromvs"
    assert b"before the VM snapshot" in _stored(sim, root["path"], copy)
    assert b"AFTER" not in _stored(sim, root["path"], copy)
    assert read(sim, vm, 22) == b"AFTER THE VM SNAPSHOT!"  # the volume is untouched
    listed = admin.list("listSnapshots", "snapshot", id=snap["id"])
    assert listed[0]["vmsnapshotid"] == vm_snapshot["id"]
    with pytest.raises(ApiError) as err:
        admin.call("createSnapshotFromVMSnapshot", volumeid=root["id"],
                   vmsnapshotid=vm_snapshot["id"])
    assert err.value.status == 431 and "created from the same vm snapshot" in \
        err.value.errortext
    other = world.deploy(running=False)
    other_root = admin.list("listVolumes", "volume", virtualmachineid=other["id"])[0]
    with pytest.raises(ApiError) as err:
        admin.call("createSnapshotFromVMSnapshot", volumeid=other_root["id"],
                   vmsnapshotid=vm_snapshot["id"])
    assert err.value.status == 431 and "doesn't attach to vm" in err.value.errortext
    with pytest.raises(ApiError) as err:
        admin.call("createSnapshotFromVMSnapshot", volumeid=root["id"])
    assert err.value.status == 431 and "missing parameter vmsnapshotid" in \
        err.value.errortext
    assert admin.run("deleteSnapshot", id=snap["id"])["success"] is True
    assert _stored(sim, root["path"], copy) == b""


def test_the_integration_port_is_read_from_the_simulator_section(tmp_path):
    from simulator.config import load_config

    ini = tmp_path / "sim.ini"
    ini.write_text("[simulator]\nport = 8080\nintegration.api.port = 8096\n")
    assert load_config(str(ini)).integration_api_port == 8096
    ini.write_text("[simulator]\nport = 8080\nintegration.api.port = 8080\n")
    with pytest.raises(ValueError, match="integration.api.port"):
        load_config(str(ini))
    assert load_config(None).integration_api_port == 0
