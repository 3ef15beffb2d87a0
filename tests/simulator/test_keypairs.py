"""SSH key pairs as CloudStack keeps them: made (the private key handed out once) or
registered, listed, named by a VM at deploy, deleted; each refusal in CloudStack's words and
changing nothing."""

from __future__ import annotations

import base64
import hashlib
from typing import Any

import asyncssh
import pytest

from contract_tests.client import ApiError, Client
from tests.support.simulator import World


def _refused(client: Client, command: str, **params: Any) -> ApiError:
    with pytest.raises(ApiError) as info:
        client.call(command, **params)
    return info.value


def _md5(public_key: str) -> str:
    digest = hashlib.md5(base64.b64decode(public_key.split()[1]), usedforsecurity=False)
    return ":".join(f"{b:02x}" for b in digest.digest())


def _names(client: Client, **params: Any) -> list[str]:
    return sorted(k["name"] for k in client.list("listSSHKeyPairs", "sshkeypair", **params))


def test_a_made_key_pair_hands_out_its_private_key_once(user: Client):
    made = user.call("createSSHKeyPair", name="made")["keypair"]
    private = asyncssh.import_private_key(made["privatekey"])
    public = private.export_public_key("openssh").decode()
    assert made["fingerprint"] == _md5(public)
    assert made["name"] == "made" and made["account"] and made["id"]
    listed = user.list("listSSHKeyPairs", "sshkeypair", name="made")
    assert [k["fingerprint"] for k in listed] == [made["fingerprint"]]
    assert "privatekey" not in listed[0]
    err = _refused(user, "createSSHKeyPair", name="made")
    assert err.status == 431 and "A key pair with name 'made' already exists." in err.errortext
    assert _refused(user, "createSSHKeyPair", name="  ").status == 431
    assert _names(user, name="made") == ["made"]


def test_a_registered_public_key_is_checked_and_found_by_its_fingerprint(user: Client,
                                                                         admin: Client):
    public = asyncssh.generate_private_key("ssh-ed25519").export_public_key(
        "openssh").decode().strip() + " someone@somewhere"
    pair = user.call("registerSSHKeyPair", name="mine", publickey=public)["keypair"]
    assert pair["fingerprint"] == _md5(public) and "privatekey" not in pair
    assert _names(user, fingerprint=pair["fingerprint"]) == ["mine"]
    assert _names(user, keyword="min") == ["mine"]
    assert user.call("listSSHKeyPairs", name="nothing") == {}
    again = _refused(user, "registerSSHKeyPair", name="other", publickey=public)
    assert again.status == 431 and "already exists for this account" in again.errortext
    same_name = _refused(user, "registerSSHKeyPair", name="mine", publickey=public)
    assert "A key pair with name 'mine' already exists for this account." in \
        same_name.errortext
    for bad in ("hello", "rsa-key AAAAB3NzaC1yc2E", "ssh-rsa", "ssh-ed25519\tAAAA"):
        err = _refused(user, "registerSSHKeyPair", name="bad", publickey=bad)
        assert err.status == 431 and "Public key is invalid" in err.errortext
    assert "bad" not in _names(user)
    # As CloudStack, the key is not parsed: a type and a second word are enough (Marvin
    # registers such a key), and the fingerprint is of what that word decodes to.
    loose = user.call("registerSSHKeyPair", name="loose",
                      publickey="ssh-rsa: e6:9a:1e:b5:98:75:88:5d:56:bc:92:7b:43:48:05:b2 "
                                "root@host")["keypair"]
    assert loose["fingerprint"] == _md5("x e69a1eb59875885d56bc927b434805b2")
    # A key given whole in base64 (no space) is decoded first.
    encoded = base64.b64encode(f"{public} other@somewhere".encode()).decode()
    err = _refused(user, "registerSSHKeyPair", name="again", publickey=encoded)
    assert "already exists for this account" in err.errortext
    # Another account's key pairs are its own: the admin's list does not show the user's
    # unless it asks for every account's.
    assert "mine" not in _names(admin)
    assert "mine" in _names(admin, listall=True)


def test_delete_removes_a_key_pair_by_name_and_says_when_there_is_none(user: Client):
    user.call("createSSHKeyPair", name="short-lived")
    assert user.call("deleteSSHKeyPair", name="short-lived")["success"] in (True, "true")
    assert "short-lived" not in _names(user)
    err = _refused(user, "deleteSSHKeyPair", name="short-lived")
    assert err.status == 431 and "A key pair with name 'short-lived' does not exist for " \
        "account" in err.errortext


def test_a_vm_names_only_key_pairs_that_exist(user: Client, world: World):
    user.call("createSSHKeyPair", name="deploy-a")
    user.call("createSSHKeyPair", name="deploy-b")
    before = user.call("listVirtualMachines")
    err = _refused(user, "deployVirtualMachine", zoneid=world.zone,
                   templateid=world.template, serviceofferingid=world.offering,
                   startvm=False, keypairs="deploy-a,missing")
    assert err.status == 431 and "Not all specified keypairs exist" in err.errortext
    assert user.call("listVirtualMachines") == before  # nothing was made
    vm = user.run("deployVirtualMachine", zoneid=world.zone, templateid=world.template,
                  serviceofferingid=world.offering, startvm=False,
                  keypairs="deploy-a,deploy-b")["virtualmachine"]
    assert vm["keypairs"] == "deploy-a,deploy-b"
    one = user.run("deployVirtualMachine", zoneid=world.zone, templateid=world.template,
                   serviceofferingid=world.offering, startvm=False,
                   keypair="deploy-b")["virtualmachine"]
    assert one["keypairs"] == "deploy-b"


def test_an_accounts_key_pairs_go_with_it(admin: Client):
    account = admin.call("createAccount", username="keyed", password="pw", email="a@b.c",
                         firstname="F", lastname="L")["account"]
    admin.call("createSSHKeyPair", name="theirs", account="keyed",
               domainid=account["domainid"])
    assert _names(admin, account="keyed", domainid=account["domainid"]) == ["theirs"]
    admin.run("deleteAccount", id=account["id"])
    assert "theirs" not in _names(admin, listall=True)
