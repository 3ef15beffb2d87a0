"""The signature as documented (the OpenAPI document and docs/configuration.rst) is the one
the driver checks: the same parts, in the same order."""

from __future__ import annotations

import hashlib
import hmac
import re
from pathlib import Path

from driver.http.auth import NONCE, SIGNATURE, TIMESTAMP, sign
from driver.http.openapi import document

PARTS = {"timestamp": "1700000000", "nonce": "n-1", "method": "POST", "path": "/v1/commands",
         "body": '{"a": 1}'}
WORDS = {"timestamp": TIMESTAMP, "nonce": NONCE, "method": "upper-case method",
         "path": "(decoded) path", "body": "raw body"}


def order_in(text: str) -> list[str]:
    found = {part: text.find(word) for part, word in WORDS.items()}
    assert all(at >= 0 for at in found.values()), (found, text)
    return sorted(found, key=found.__getitem__)


def signature_by(order: list[str]) -> str:
    message = "\n".join(PARTS[p] for p in order).encode()
    return hmac.new(b"secret", message, hashlib.sha256).hexdigest()


def test_the_openapi_document_describes_the_signature_that_is_checked():
    scheme = document()["components"]["securitySchemes"]["hmac"]
    assert scheme["name"] == SIGNATURE
    order = order_in(scheme["description"])
    assert signature_by(order) == sign("secret", *(PARTS[p] for p in (
        "timestamp", "nonce", "method", "path")), PARTS["body"].encode())


def test_the_documentation_says_the_same():
    text = (Path(__file__).resolve().parents[2] / "docs" / "configuration.rst").read_text()
    section = text[text.index("``X-Vmsnap-Signature``\n"):]
    section = re.sub(r"\s+", " ", section[:section.index("\n\n")])
    doc_words = {"timestamp": "timestamp", "nonce": "nonce", "method": "upper-case method",
                 "path": "(decoded) path", "body": "raw body"}
    found = {p: section.find(w) for p, w in doc_words.items()}
    assert all(at >= 0 for at in found.values()), section
    assert sorted(found, key=found.__getitem__) == order_in(
        document()["components"]["securitySchemes"]["hmac"]["description"])
