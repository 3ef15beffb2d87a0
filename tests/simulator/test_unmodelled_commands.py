"""The commands for what the simulator does not model (system VMs, routers, physical
networks, load balancers, ISOs, events, usage records, ...), over real HTTP: described by
listApis, CloudStack's empty lists, admin-only where CloudStack's are, 431 for an ID that
names nothing; and the management server and region the simulator is."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from contract_tests.client import ApiError, Client
from tests.support.simulator import World

NOWHERE = str(uuid.uuid4())
USAGE_PERIOD = {"startdate": "2026-11-01", "enddate": "2026-11-25 12:00:00"}

# Each list with the parameters it needs, and whether CloudStack keeps it for admins.
LISTS: dict[str, tuple[dict[str, Any], bool]] = {
    "listSystemVms": ({}, True), "listRouters": ({}, True),
    "listPhysicalNetworks": ({}, True), "listNetworkServiceProviders": ({}, True),
    "listVirtualRouterElements": ({}, True), "listVlanIpRanges": ({}, True),
    "listUsageRecords": (USAGE_PERIOD, True), "listEvents": ({}, False),
    "listIsos": ({"isofilter": "featured"}, False), "listLoadBalancerRules": ({}, False),
    "listVPCOfferings": ({}, False), "listSnapshotPolicies": ({}, False),
    "listIpForwardingRules": ({}, False), "listSecurityGroups": ({}, False),
    "listAffinityGroups": ({}, False), "listProjects": ({}, False),
}
# Each command that changes such a thing, with the ID parameter naming it.
CHANGES: dict[str, tuple[str, dict[str, Any]]] = {
    "migrateSystemVm": ("virtualmachineid", {"autoselect": True}),
    "addNetworkServiceProvider": ("physicalnetworkid", {"name": "VirtualRouter"}),
    "updateNetworkServiceProvider": ("id", {"state": "Enabled"}),
}
ADMIN_ONLY = [c for c, (_, admin) in LISTS.items() if admin] + list(CHANGES) + [
    "listManagementServers"]


def _refused(client: Client, command: str, **params: Any) -> ApiError:
    with pytest.raises(ApiError) as err:
        client.call(command, **params)
    return err.value


def _invalid(err: ApiError, command: str, param: str, value: str) -> bool:
    return err.status == 431 and err.cserrorcode == 4350 and (
        f"Unable to execute API command {command.lower()} due to invalid value. Invalid "
        f"parameter {param} value={value}") in err.errortext


def test_list_apis_describes_them_with_cloudstacks_parameters_and_fields(admin):
    apis = {a["name"]: a for a in admin.list("listApis", "api")}
    expected = {
        "listSystemVms": ({"systemvmtype", "zoneid", "hostid", "storageid"},
                          {"id", "systemvmtype", "state", "privateip", "publicip"}),
        "listRouters": ({"networkid", "vpcid", "forvpc", "listall", "account"},
                        {"id", "role", "guestnetworkid", "nic", "redundantstate"}),
        "listManagementServers": ({"id", "name", "peers"}, {"id", "name", "state", "version"}),
        "listRegions": ({"id", "name"}, {"id", "name", "endpoint"}),
        "listUsageRecords": ({"startdate", "enddate", "accountid", "type"},
                             {"usagetype", "rawusage", "startdate", "enddate"}),
        "listIsos": ({"isofilter", "bootable", "tags"}, {"id", "bootable", "isready"}),
        "listLoadBalancerRuleInstances": ({"id", "applied", "lbvmips"}, {"id", "nic"}),
        "migrateSystemVm": ({"virtualmachineid", "hostid", "storageid", "autoselect"},
                            {"id", "systemvmtype"}),
    }
    for name, (params, fields) in expected.items():
        assert params <= {p["name"] for p in apis[name]["params"]}, name
        assert fields <= {f["name"] for f in apis[name]["response"]}, name
    for name in [*LISTS, *CHANGES, "listLoadBalancerRuleInstances"]:
        assert apis[name]["response"], name
    usage = {p["name"]: p for p in apis["listUsageRecords"]["params"]}
    assert usage["startdate"]["required"] is True and usage["startdate"]["type"] == "date"
    migrate = apis["migrateSystemVm"]
    assert migrate["isasync"] is True and {p["name"]: p for p in migrate["params"]}[
        "virtualmachineid"]["required"] is True
    assert apis["listSystemVms"]["isasync"] is False
    router_nic = {f["name"]: f for f in apis["listRouters"]["response"]}["nic"]
    assert {"ipaddress", "macaddress"} <= {f["name"] for f in router_nic["response"]}


@pytest.mark.parametrize("command", sorted(LISTS))
def test_a_list_of_what_the_simulator_does_not_model_is_cloudstacks_empty_list(
        admin, command):
    params, _ = LISTS[command]
    assert admin.call(command, **params) == {}
    xml = admin.raw(command, response="xml", **params)
    assert xml.status_code == 200 and f"<{command.lower()}response" in xml.text
    assert "<count>" not in xml.text


@pytest.mark.parametrize("command", sorted(c for c, (_, a) in LISTS.items() if not a))
def test_users_list_them_too(user, command):
    assert user.call(command, **LISTS[command][0]) == {}


@pytest.mark.parametrize("command", sorted(ADMIN_ONLY))
def test_the_admin_only_ones_do_not_exist_for_a_user(user, command):
    err = _refused(user, command)
    assert err.status == 432 and f"The given command:{command} does not exist" in \
        err.errortext


@pytest.mark.parametrize("command", sorted(LISTS))
def test_an_id_of_a_thing_not_modelled_names_nothing(admin, command):
    param = {"listNetworkServiceProviders": "physicalnetworkid",
             "listUsageRecords": "projectid"}.get(command, "id")
    params = {**LISTS[command][0], param: NOWHERE}
    assert _invalid(_refused(admin, command, **params), command, param, NOWHERE)


@pytest.mark.parametrize("command", sorted(CHANGES))
def test_changing_a_thing_not_modelled_is_refused_before_anything_is_done(admin, command):
    target, params = CHANGES[command]
    jobs = admin.list("listAsyncJobs", "asyncjobs")
    assert _invalid(_refused(admin, command, **{target: NOWHERE}, **params), command, target,
                    NOWHERE)
    missing = _refused(admin, command, **params)
    assert missing.status == 431 and f"missing parameter {target}" in missing.errortext
    assert admin.list("listAsyncJobs", "asyncjobs") == jobs  # no job was started


def test_a_user_vm_is_not_a_system_vm(admin, world: World):
    vm = world.deploy(running=False)
    err = _refused(admin, "migrateSystemVm", virtualmachineid=vm["id"], autoselect=True)
    assert _invalid(err, "migrateSystemVm", "virtualmachineid", vm["id"])


def test_references_to_what_the_simulator_models_are_looked_up(admin, world: World):
    assert admin.call("listRouters", zoneid=world.zone) == {}
    assert _invalid(_refused(admin, "listRouters", zoneid=NOWHERE), "listRouters", "zoneid",
                    NOWHERE)
    assert _invalid(_refused(admin, "listVlanIpRanges", physicalnetworkid=NOWHERE),
                    "listVlanIpRanges", "physicalnetworkid", NOWHERE)
    err = _refused(admin, "listEvents", account="nobody-here")
    assert err.status == 431 and "Unable to find account nobody-here" in err.errortext
    for bad in ({"listall": "maybe"}, {"pagesize": "lots"}, {"page": 0}):
        assert _refused(admin, "listEvents", **bad).status == 431


def test_a_user_names_only_its_own_volume_for_snapshot_policies(admin, user, world: World):
    vm = world.deploy(running=False)  # the admin's
    volume = admin.list("listVolumes", "volume", virtualmachineid=vm["id"])[0]
    assert admin.call("listSnapshotPolicies", volumeid=volume["id"]) == {}
    err = _refused(user, "listSnapshotPolicies", volumeid=volume["id"])
    assert err.status == 531 and "does not have permission" in err.errortext
    assert _invalid(_refused(user, "listSnapshotPolicies", id=NOWHERE),
                    "listSnapshotPolicies", "id", NOWHERE)


def test_usage_records_want_a_period_in_cloudstacks_date_formats(admin):
    err = _refused(admin, "listUsageRecords", startdate="2026-11-01")
    assert err.status == 431 and "missing parameter enddate" in err.errortext
    err = _refused(admin, "listUsageRecords", startdate="25/11/2026", enddate="2026-11-25")
    assert err.status == 431 and "Unable to parse date 25/11/2026" in err.errortext
    err = _refused(admin, "listUsageRecords", startdate="2026-11-25", enddate="2026-11-01")
    assert err.status == 431 and "Incorrect Date Range" in err.errortext
    assert _invalid(_refused(admin, "listUsageRecords", accountid=NOWHERE, **USAGE_PERIOD),
                    "listUsageRecords", "accountid", NOWHERE)


def test_load_balancer_rule_instances_need_a_rule_and_there_is_none(user):
    err = _refused(user, "listLoadBalancerRuleInstances")
    assert err.status == 431 and "missing parameter id" in err.errortext
    assert _invalid(_refused(user, "listLoadBalancerRuleInstances", id=NOWHERE),
                    "listLoadBalancerRuleInstances", "id", NOWHERE)


def test_the_simulator_is_the_one_management_server(sim, admin):
    servers = admin.list("listManagementServers", "managementserver")
    assert len(servers) == 1
    server = servers[0]
    assert server["state"] == "Up" and server["serviceip"] == sim.manager.config.host
    version = admin.call("listCapabilities")["capability"]["cloudstackversion"]
    assert server["version"] == version
    assert admin.list("listManagementServers", "managementserver", id=server["id"]) == servers
    assert admin.list("listManagementServers", "managementserver", name=server["name"]) == \
        servers
    assert admin.call("listManagementServers", name="another-server") == {}
    assert _invalid(_refused(admin, "listManagementServers", id=NOWHERE),
                    "listManagementServers", "id", NOWHERE)


def test_the_simulator_is_one_region(sim, user):
    regions = user.list("listRegions", "region")
    config = sim.manager.config
    assert regions == [{"id": 1, "name": "Local",
                        "endpoint": f"http://{config.host}:{config.port}/client/",
                        "gslbserviceenabled": False, "portableipserviceenabled": False}]
    assert user.list("listRegions", "region", id=1, name="Local") == regions
    assert user.call("listRegions", id=2) == {}
    err = _refused(user, "listRegions", id="one")
    assert err.status == 431 and "invalid value one for parameter id" in err.errortext
