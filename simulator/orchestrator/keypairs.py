"""SSH key pairs of accounts: made here (the private key handed out once) or registered from
a public key; named by VMs at deploy, whose SSH endpoints then accept them."""

from __future__ import annotations

import base64
import hashlib

import asyncssh

from simulator.errors import ParamError
from simulator.models import Account, SSHKeyPair
from simulator.orchestrator.core import Context

KEY_BITS = 2048  # CloudStack's ssh.key.length default


KEY_TYPES = ("ssh-rsa", "ssh-dss", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384",
             "ecdsa-sha2-nistp521", "ssh-ed25519")


def _lenient_b64(text: str) -> bytes:
    """Base64 decoded as CloudStack's codec decodes it: characters outside the alphabet
    are skipped, and missing padding is no error."""
    kept = "".join(c for c in text if c.isascii() and (c.isalnum() or c in "+/"))
    if len(kept) % 4 == 1:  # a last character that cannot stand for a byte
        kept = kept[:-1]
    return base64.b64decode(kept + "=" * (-len(kept) % 4))


def fingerprint(public_key: str) -> str:
    """CloudStack's fingerprint of a public key: the MD5 of its (leniently decoded) blob, as
    colon-separated lowercase hex."""
    digest = hashlib.md5(_lenient_b64(public_key.split(" ")[1]), usedforsecurity=False)
    return ":".join(f"{b:02x}" for b in digest.digest())


def public_key_of(material: str) -> str:
    """The ``<type> <key>`` CloudStack keeps of a public key: the material (base64-decoded
    first if it has no space) must start with a key type and have a second word; anything
    else is CloudStack's refusal. As CloudStack, the key itself is not parsed."""
    if " " not in material:
        material = _lenient_b64(material).decode("utf-8", "replace")
    words = material.split(" ")
    if not material.startswith(KEY_TYPES) or len(words) < 2:
        raise ParamError("Public key is invalid")
    return f"{words[0]} {words[1]}"


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
        public = public_key_of(key.export_public_key("openssh").decode().strip())
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
