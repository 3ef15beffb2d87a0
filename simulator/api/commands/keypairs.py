"""SSH key pairs: createSSHKeyPair, registerSSHKeyPair, listSSHKeyPairs, deleteSSHKeyPair."""

from __future__ import annotations

from typing import Any

from simulator.api.registry import P, api
from simulator.api.server import Request
from simulator.models import SSHKeyPair

_OWNER = [P("account", description="an optional account for the ssh key. Must be used with "
            "domainId."),
          P("domainid", "uuid", description="an optional domainId for the ssh key. If the "
            "account parameter is used, domainId must also be used."),
          P("projectid", "uuid", description="an optional project for the ssh key")]


@api("createSSHKeyPair", "Create a new keypair and returns the private key",
     package="user.ssh", response="keypair", params=[
         P("name", required=True, description="Name of the keypair"), *_OWNER])
def create_key_pair(req: Request) -> dict[str, Any]:
    pair, private = req.manager.keypairs.create(req.owner(), req.params.require("name"))
    return {"keypair": {**req.render.key_pair(pair), "privatekey": private}}


@api("registerSSHKeyPair", "Register a public key in a keypair under a certain name",
     package="user.ssh", response="keypair", params=[
         P("name", required=True, description="Name of the keypair"),
         P("publickey", required=True, description="Public key material of the keypair",
           length=5120), *_OWNER])
def register_key_pair(req: Request) -> dict[str, Any]:
    pair = req.manager.keypairs.register(req.owner(), req.params.require("name"),
                                         req.params.require("publickey"))
    return {"keypair": req.render.key_pair(pair)}


@api("listSSHKeyPairs", "List registered keypairs", package="user.ssh",
     response="sshkeypair", params=[
         P("id", "uuid", description="the ID of the ssh keypair"),
         P("name", description="A key pair name to look for"),
         P("fingerprint", description="A public key fingerprint to look for"),
         P("account"), P("domainid", "uuid"), P("isrecursive", "boolean"),
         P("listall", "boolean"), P("projectid", "uuid"), P("keyword"),
         P("page", "integer"), P("pagesize", "integer")])
def list_key_pairs(req: Request) -> dict[str, Any]:
    items = req.visible(req.manager.store.find(SSHKeyPair))
    if ids := req.ids(SSHKeyPair, "id"):
        items = [k for k in items if k.uuid in ids]
    if (name := req.params.text("name")) is not None:
        items = [k for k in items if k.name == name]
    if (fingerprint := req.params.text("fingerprint")) is not None:
        items = [k for k in items if k.fingerprint == fingerprint]
    if word := req.params.text("keyword"):
        items = [k for k in items if word.lower() in k.name.lower() or word in k.fingerprint]
    return req.listing("sshkeypair", items, req.render.key_pair)


@api("deleteSSHKeyPair", "Deletes a keypair by name", package="user.ssh", response="success",
     params=[P("name", required=True, description="Name of the keypair"),
             P("account", description="the account associated with the keypair. Must be used "
               "with the domainId parameter."),
             P("domainid", "uuid", description="the domain ID associated with the keypair"),
             P("projectid", "uuid", description="the project associated with keypair")])
def delete_key_pair(req: Request) -> dict[str, Any]:
    req.manager.keypairs.delete(req.owner(), req.params.require("name"))
    return {"success": "true"}
