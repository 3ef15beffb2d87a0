"""SSH key pairs: createSSHKeyPair, registerSSHKeyPair, listSSHKeyPairs, deleteSSHKeyPair."""

from __future__ import annotations

from typing import Any

from simulator.api.registry import P, api
from simulator.api.server import Request
from simulator.models import SSHKeyPair

_OWNER = [P("account", description="the account the key pair is for (an admin's choice; "
            "with domainid)"),
          P("domainid", "uuid", description="the domain of that account"),
          P("projectid", "uuid", description="the project the key pair is for")]


@api("createSSHKeyPair", "Makes a key pair and hands out its private key (not kept).",
     package="user.ssh", response="keypair", params=[
         P("name", required=True, description="the key pair's name"), *_OWNER])
def create_key_pair(req: Request) -> dict[str, Any]:
    pair, private = req.manager.keypairs.create(req.owner(), req.params.require("name"))
    return {"keypair": {**req.render.key_pair(pair), "privatekey": private}}


@api("registerSSHKeyPair", "Keeps a public key as a named key pair.",
     package="user.ssh", response="keypair", params=[
         P("name", required=True, description="the key pair's name"),
         P("publickey", required=True, description="the public key (OpenSSH form)",
           length=5120), *_OWNER])
def register_key_pair(req: Request) -> dict[str, Any]:
    pair = req.manager.keypairs.register(req.owner(), req.params.require("name"),
                                         req.params.require("publickey"))
    return {"keypair": req.render.key_pair(pair)}


@api("listSSHKeyPairs", "Lists key pairs.", package="user.ssh",
     response="sshkeypair", params=[
         P("id", "uuid", description="the key pair"),
         P("name", description="only the key pair of this name"),
         P("fingerprint", description="only the key pair of this fingerprint"),
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


@api("deleteSSHKeyPair", "Deletes a key pair by name.", package="user.ssh",
     response="success", params=[P("name", required=True, description="the key pair's name"),
                                 *_OWNER])
def delete_key_pair(req: Request) -> dict[str, Any]:
    req.manager.keypairs.delete(req.owner(), req.params.require("name"))
    return {"success": "true"}
