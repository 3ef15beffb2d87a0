"""CloudStack request signing, checked as the server does (section 6.5 of the reference),
accepting the encoding variants real clients produce; and session logins."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterator
from datetime import UTC, datetime
from urllib.parse import quote

from driver.http.auth import same_secret
from simulator.errors import Unauthorized

SIGNATURE_ERROR = "unable to verify user credentials and/or request signature"


def _java_quote(value: str) -> str:
    """Java's URLEncoder (spaces as %20): only ``A-Za-z0-9.-*_`` stay as they are."""
    return quote(value, safe="*-._").replace("~", "%7E")


def _variants(pairs: list[tuple[str, str]]) -> Iterator[str]:
    """The canonical strings a correct client may have signed, most common first (Java's
    encoding, as CloudStack's own clients sign), each once."""
    ordered = sorted(pairs, key=lambda kv: kv[0])
    seen = set()
    for quote_value in (_java_quote, lambda v: quote(v, safe="*-._~"),
                        lambda v: quote(v, safe="-._~")):
        for quote_key in (lambda k: k, lambda k: quote(k, safe="-._~")):
            text = "&".join(f"{quote_key(k)}={quote_value(v)}" for k, v in ordered).lower()
            if text not in seen:
                seen.add(text)
                yield text


def signature_ok(pairs: list[tuple[str, str]], secret: str, signature: str) -> bool:
    """Each comparison is constant-time. Variants are tried in turn and the first match
    ends the search: that reveals only which encoding the client used, which the request
    itself shows; a wrong signature is compared against every variant."""
    for text in _variants(pairs):
        digest = hmac.new(secret.encode(), text.encode(), hashlib.sha1).digest()
        if same_secret(signature, base64.b64encode(digest).decode()):
            return True
    return False


def parse_expires(value: str) -> datetime:
    text = value.strip()
    for fmt in ("%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%dT%H:%M:%S.%f%z"):
        try:
            return datetime.strptime(text, fmt)
        except ValueError:
            pass
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise Unauthorized() from None


def check_expiry(pairs: list[tuple[str, str]]) -> None:
    """With ``signatureVersion=3`` an ``expires`` in the future is required."""
    low = {k.lower(): v for k, v in pairs}
    if low.get("signatureversion") != "3":
        return
    if "expires" not in low:
        raise Unauthorized()
    expires = parse_expires(low["expires"])
    if expires.tzinfo is None:
        expires = expires.replace(tzinfo=UTC)
    if expires < datetime.now(UTC):
        raise Unauthorized()
