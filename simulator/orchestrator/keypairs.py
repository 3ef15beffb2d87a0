"""SSH key pairs of accounts: made here (the private key handed out once) or registered from
a public key; named by VMs at deploy, whose SSH endpoints then accept them."""

from __future__ import annotations

import base64
import binascii
import hashlib

import asyncssh

from simulator.errors import ParamError
from simulator.models import Account, SSHKeyPair
from simulator.orchestrator.core import Context

KEY_BITS = 2048  # CloudStack's ssh.key.length default


def fingerprint(public_key: str) -> str:
    """CloudStack's fingerprint of an OpenSSH public key: the MD5 of its blob, as
    colon-separated lowercase hex."""
    digest = hashlib.md5(base64.b64decode(public_key.split()[1]), usedforsecurity=False)
    return ":".join(f"{b:02x}" for b in digest.digest())


def public_key_of(material: str) -> str:
    """The ``<type> <base64>`` of a public key given in OpenSSH (or RFC 4716) form; a value
    that is not one is CloudStack's refusal."""
    try:
        key = asyncssh.import_public_key(material.strip())
    except (asyncssh.KeyImportError, ValueError, binascii.Error, UnicodeError):
        raise ParamError("Public key is invalid") from None
    return " ".join(key.export_public_key("openssh").decode().split()[:2])


class KeyPairs:
    """The SSH key pairs of accounts."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.store = ctx.store
        self.lock = ctx.lock

    def find(self, owner: Account, name: str) -> SSHKeyPair | None:
        return next((k for k in self.store.find(SSHKeyPair, account_id=owner.id)
                     if k.name == name), None)

    def create(self, owner: Account, name: str) -> tuple[SSHKeyPair, str]:
        """A new key pair of ``owner``: its record, and the private key (PEM), which is not
        kept."""
        if not name.strip():
            raise ParamError("Please specify a valid name for the key pair. The key name "
                             "can't be empty")
        key = asyncssh.generate_private_key("ssh-rsa", key_size=KEY_BITS)
        public = " ".join(key.export_public_key("openssh").decode().split()[:2])
        with self.lock:
            if self.find(owner, name) is not None:
                raise ParamError(f"A key pair with name '{name}' already exists.")
            pair = self.store.add(SSHKeyPair(name, owner.id, owner.domain_id, public,
                                             fingerprint(public)))
        return pair, key.export_private_key("pkcs1-pem").decode()

    def register(self, owner: Account, name: str, material: str) -> SSHKeyPair:
        """A key pair of ``owner`` from the public key ``material``."""
        public = public_key_of(material)
        with self.lock:
            if self.find(owner, name) is not None:
                raise ParamError(f"A key pair with name '{name}' already exists for this "
                                 "account.")
            if any(k.public_key == public
                   for k in self.store.find(SSHKeyPair, account_id=owner.id)):
                raise ParamError(f"A key pair with key '{material}' already exists for this "
                                 "account.")
            return self.store.add(SSHKeyPair(name, owner.id, owner.domain_id, public,
                                             fingerprint(public)))

    def delete(self, owner: Account, name: str) -> None:
        with self.lock:
            pair = self.find(owner, name)
            if pair is None:
                raise ParamError(f"A key pair with name '{name}' does not exist for account "
                                 f"{owner.name} in specified domain id")
            self.store.delete(pair)

    def named(self, owner: Account, names: list[str]) -> list[SSHKeyPair]:
        """The key pairs of ``owner`` that ``names`` names, every one of which must exist."""
        pairs = [self.find(owner, name) for name in dict.fromkeys(names)]
        found = [p for p in pairs if p is not None]
        if len(found) != len(pairs):
            raise ParamError("Not all specified keypairs exist")
        return found
