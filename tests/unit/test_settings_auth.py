"""Settings layering and the request signature."""

from __future__ import annotations

import time

import pytest

from driver.http.auth import NONCE, SIGNATURE, TIMESTAMP, Verifier, sign, signed_headers
from driver.settings import Settings, load_settings


def test_defaults_then_ini_then_environment(tmp_path):
    ini = tmp_path / "driver.ini"
    ini.write_text("[driver]\nport = 9000\nstorage_pools = /a, /b\nfreeze_timeout = 3.5\n"
                   "allow_power_change_on_revert = yes\n")
    s = load_settings(str(ini), environ={"VMSNAP_PORT": "9100"})
    assert s.port == 9100 and s.storage_pools == ["/a", "/b"]
    assert s.freeze_timeout == 3.5 and s.allow_power_change_on_revert is True
    assert load_settings(environ={}).port == 8250


@pytest.mark.parametrize("text,message", [
    ("[driver]\nnope = 1\n", "unknown setting"),
    ("[driver]\nport = many\n", "setting port"),
    ("[driver]\nauth_required = perhaps\n", "not a boolean"),
])
def test_bad_settings_are_clear_errors(tmp_path, text, message):
    ini = tmp_path / "driver.ini"
    ini.write_text(text)
    with pytest.raises(ValueError, match=message):
        load_settings(str(ini), environ={})


def test_config_file_from_environment_and_missing_file(tmp_path):
    with pytest.raises(ValueError, match="cannot read"):
        load_settings(environ={"VMSNAP_CONFIG": str(tmp_path / "missing.ini")})


def check(verifier, headers, body=b"{}", path="/v1/commands"):
    return verifier.check(headers.get(TIMESTAMP), headers.get(NONCE), headers.get(SIGNATURE),
                          "POST", path, body)


def test_signed_request_passes_once_and_a_replay_is_refused():
    v = Verifier("s3cret", 300)
    headers = signed_headers("s3cret", "POST", "/v1/commands", b"{}")
    assert check(v, headers) is None
    assert check(v, headers) == "replayed request"


@pytest.mark.parametrize("mutate,reason", [
    (lambda h: h.pop(SIGNATURE), "missing signature headers"),
    (lambda h: h.update({SIGNATURE: "0" * 64}), "bad signature"),
    (lambda h: h.update({TIMESTAMP: "yesterday"}), "bad timestamp"),
    # Too large for a float once parsed: refused as a bad timestamp, not an internal error.
    (lambda h: h.update({TIMESTAMP: "9" * 400}), "bad timestamp"),
    (lambda h: h.update({TIMESTAMP: "+" + h[TIMESTAMP]}), "bad timestamp"),
    (lambda h: h.update({TIMESTAMP: h[TIMESTAMP][:5] + "_" + h[TIMESTAMP][5:]}),
     "bad timestamp"),
])
def test_tampered_requests_are_refused(mutate, reason):
    headers = signed_headers("s3cret", "POST", "/v1/commands", b"{}")
    mutate(headers)
    assert check(Verifier("s3cret", 300), headers) == reason


def test_other_body_path_secret_or_stale_time_fail():
    v = Verifier("s3cret", 300)
    headers = signed_headers("s3cret", "POST", "/v1/commands", b"{}")
    assert check(v, headers, body=b"[]") == "bad signature"
    assert check(v, headers, path="/v1/other") == "bad signature"
    assert check(Verifier("other", 300), headers) == "bad signature"
    old = signed_headers("s3cret", "POST", "/v1/commands", b"{}", now=time.time() - 301)
    assert check(v, old) == "timestamp outside the allowed window"


def test_signature_is_hmac_sha256_of_the_documented_message():
    import hashlib
    import hmac

    expected = hmac.new(b"k", b"1\nn\nPOST\n/p\nbody", hashlib.sha256).hexdigest()
    assert sign("k", "1", "n", "post", "/p", b"body") == expected


def test_replay_memory_forgets_only_what_expired(monkeypatch):
    """Signatures older than twice the window are forgotten (the memory stays bounded under
    any request rate); a replay of one still inside it is refused."""
    clock = [1000.0]
    monkeypatch.setattr("driver.http.auth.time.time", lambda: clock[0])
    v = Verifier("s3cret", 10)
    old = [signed_headers("s3cret", "POST", "/v1/commands", b"{}", now=clock[0])
           for _ in range(3)]
    for headers in old:
        assert check(v, headers) is None
    clock[0] += 15
    recent = signed_headers("s3cret", "POST", "/v1/commands", b"{}", now=clock[0])
    assert check(v, recent) is None
    clock[0] += 6  # the first three are 21 s old now, the recent one 6 s
    fresh = signed_headers("s3cret", "POST", "/v1/commands", b"{}", now=clock[0])
    assert check(v, fresh) is None
    assert len(v._seen) == 2
    assert check(v, recent) == "replayed request"


def test_rbd_memory_pool_must_be_one_of_the_rbd_pools():
    from driver.app import ceph_access

    with pytest.raises(ValueError, match="rbd_memory_pool must be one of rbd_pools"):
        ceph_access(Settings(rbd_pools=["volumes"], rbd_memory_pool="elsewhere"))
    ceph = ceph_access(Settings(rbd_pools=["volumes"], rbd_memory_pool="volumes"))
    assert ceph is not None and ceph.memory_pool == "volumes"
