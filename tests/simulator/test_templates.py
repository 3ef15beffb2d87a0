"""Templates an account registers: listed by CloudStack's template filters, deployable by
their owner (and by everyone when public), deleted, and gone with their account."""

from __future__ import annotations

from typing import Any

import pytest

from contract_tests.client import ApiError, Client
from tests.support.simulator import World


def _register(client: Client, world: World, **params: Any) -> dict[str, Any]:
    ostype = client.list("listOsTypes", "ostype", description="CentOS 8")[0]
    [made] = client.call("registerTemplate", name=params.pop("name", "mine"),
                         displaytext="Mine", format="QCOW2", hypervisor="KVM",
                         url="http://images.example/centos8.qcow2", zoneid=world.zone,
                         ostypeid=ostype["id"], directdownload=True, **params)["template"]
    return made


def _ids(client: Client, which: str) -> set[str]:
    return {t["id"] for t in client.list("listTemplates", "template", templatefilter=which)}


def test_a_registered_template_is_the_accounts_and_deploys(user: Client, admin: Client,
                                                           world: World):
    private = _register(user, world, name="private", ispublic=False)
    assert private["isready"] is True and private["templatetype"] == "USER"
    assert private["ostypename"] == "CentOS 8" and private["account"] == "user"
    assert private["id"] in _ids(user, "self") and private["id"] in _ids(user, "executable")
    assert private["id"] not in _ids(user, "featured")
    assert private["id"] not in _ids(admin, "executable")  # another account's, not public
    assert private["id"] in _ids(admin, "all")
    vm = user.run("deployVirtualMachine", zoneid=world.zone, templateid=private["id"],
                  serviceofferingid=world.offering, startvm=False)["virtualmachine"]
    assert vm["templateid"] == private["id"]
    with pytest.raises(ApiError) as err:
        admin.call("deployVirtualMachine", zoneid=world.zone, templateid=private["id"],
                   serviceofferingid=world.offering, startvm=False)
    assert err.value.status == 531
    public = _register(user, world, name="shared")
    assert public["id"] in _ids(admin, "community") and public["id"] in _ids(admin,
                                                                             "executable")


def test_what_register_template_refuses_changes_nothing(user: Client, world: World):
    before = _ids(user, "self")
    for params, text in (({"format": "VHD"}, "Format VHD is not supported"),
                         ({"url": "file:///etc/passwd"}, "Unsupported scheme for url"),
                         ({"hypervisor": "XenServer"}, "Hypervisor XenServer is not supported"),
                         ({"isfeatured": True}, "Only admins can create featured templates"),
                         ({"ostypeid": world.zone}, "Invalid parameter ostypeid")):
        ostype = user.list("listOsTypes", "ostype")[0]["id"]
        full = {"name": "bad", "format": "QCOW2", "hypervisor": "KVM",
                "url": "https://images.example/x.qcow2", "zoneid": world.zone,
                "ostypeid": ostype, **params}
        with pytest.raises(ApiError) as err:
            user.call("registerTemplate", **full)
        assert text in err.value.errortext, (params, err.value.errortext)
    assert _ids(user, "self") == before


def test_a_template_is_deleted_by_its_owner_and_goes_with_its_account(admin: Client,
                                                                      user: Client,
                                                                      world: World):
    gone = _register(user, world, name="short-lived")
    builtin = next(iter(_ids(user, "featured")))
    with pytest.raises(ApiError) as err:
        user.call("deleteTemplate", id=builtin)
    assert err.value.status == 531
    user.run("deleteTemplate", id=gone["id"])
    assert gone["id"] not in _ids(user, "self")
    account = admin.call("createAccount", username="templater", password="pw",
                         email="a@b.c", firstname="F", lastname="L")["account"]
    theirs = _register(admin, world, name="theirs", account="templater",
                       domainid=account["domainid"])
    assert theirs["account"] == "templater"
    admin.run("deleteAccount", id=account["id"])
    assert theirs["id"] not in _ids(admin, "all")
