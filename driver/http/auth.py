"""Request authentication: HMAC-SHA256 over timestamp, method, path and body.

Headers: ``X-Vmsnap-Timestamp`` (Unix seconds), ``X-Vmsnap-Nonce`` (random, unique per
request) and ``X-Vmsnap-Signature`` (hex HMAC of all of them). The signature is checked in
constant time; a request outside the time window, or one whose signature was already seen
inside it (a replay), is refused.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import threading
import time
from urllib.parse import unquote

TIMESTAMP = "X-Vmsnap-Timestamp"
SIGNATURE = "X-Vmsnap-Signature"
NONCE = "X-Vmsnap-Nonce"
#: What ``sign`` signs, in its order: the OpenAPI document says it in these words.
SIGNATURE_DESCRIPTION = (
    f"hex HMAC-SHA256, keyed with the shared secret, of the {TIMESTAMP} value (Unix seconds), "
    f"the {NONCE} value (unique per request, at most 64 characters), the upper-case method, "
    "the (decoded) path and the raw body, joined by newlines")


def new_secret(nbytes: int = 32) -> str:
    """A random secret of ``nbytes`` in the URL-safe base64 alphabet. It never begins with
    ``-``, so it can follow an option on any command line (``--driver-secret SECRET``)."""
    while True:
        secret = secrets.token_urlsafe(nbytes)
        if not secret.startswith("-"):
            return secret


def same_secret(given: str, expected: str) -> bool:
    """Compare two secrets in constant time. Any text is accepted: ``compare_digest`` refuses
    non-ASCII ``str``, and a client must not turn that into an internal error."""
    return hmac.compare_digest(given.encode("utf-8", "surrogatepass"),
                               expected.encode("utf-8", "surrogatepass"))


def sign(secret: str, timestamp: str, nonce: str, method: str, path: str, body: bytes) -> str:
    message = b"\n".join([timestamp.encode(), nonce.encode(), method.upper().encode(),
                          path.encode(), body])
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def signed_headers(secret: str, method: str, path: str, body: bytes,
                   now: float | None = None) -> dict[str, str]:
    """Headers a client sends (the simulator's agent client and the tests use this)."""
    ts = str(int(time.time() if now is None else now))
    nonce = secrets.token_hex(12)
    path = unquote(path)  # the server sees the decoded path
    return {TIMESTAMP: ts, NONCE: nonce, SIGNATURE: sign(secret, ts, nonce, method, path, body)}


class Verifier:
    def __init__(self, secret: str, window: int) -> None:
        self.secret = secret
        self.window = window
        self._seen: dict[str, float] = {}
        self._lock = threading.Lock()

    def check(self, timestamp: str | None, nonce: str | None, signature: str | None,
              method: str, path: str, body: bytes) -> str | None:
        """None if the request is authentic, else the reason it is not."""
        if not timestamp or not signature or not nonce or len(nonce) > 64:
            return "missing signature headers"
        # Seconds since the epoch in ASCII digits (``int`` would also take signs,
        # underscores, other scripts' digits and numbers too large for a float).
        if not (timestamp.isascii() and timestamp.isdigit() and len(timestamp) <= 12):
            return "bad timestamp"
        ts = int(timestamp)
        now = time.time()
        if abs(now - ts) > self.window:
            return "timestamp outside the allowed window"
        expected = sign(self.secret, timestamp, nonce, method, path, body)
        # One spelling of the signature for the check and for the replay guard: hex read in
        # either case would otherwise let each case variant of a request through once.
        signature = signature.strip().lower()
        if not same_secret(signature, expected):
            return "bad signature"
        with self._lock:
            # Oldest first (a dict keeps insertion order): forgetting what has expired
            # costs only the entries it forgets, however many requests the window holds.
            while self._seen:
                key, seen = next(iter(self._seen.items()))
                if now - seen <= 2 * self.window:
                    break
                del self._seen[key]
            if signature in self._seen:
                return "replayed request"
            self._seen[signature] = now
        return None


def stored_secret(path: str) -> str:
    """The secret kept in ``path``; created (random, mode 0600) the first time."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        pass
    else:
        with os.fdopen(fd, "w") as fh:
            fh.write(new_secret())
    with open(path) as fh:
        return fh.read().strip()
