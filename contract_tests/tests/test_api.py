"""Errors and account isolation, with CloudStack's codes and texts."""

from __future__ import annotations

import pytest
import requests

from contract_tests.client import ApiError


def test_a_bad_signature_is_401(target):
    resp = requests.get(target.endpoint, timeout=30, params={
        "command": "listVMSnapshot", "response": "json", "apiKey": target.api_key or "x",
        "signature": "bm90IGEgc2lnbmF0dXJl"})
    assert resp.status_code == 401
    body = next(iter(resp.json().values()))
    assert body["errortext"] == "unable to verify user credentials and/or request signature"


def test_missing_and_unknown_ids_are_431(api):
    with pytest.raises(ApiError) as err:
        api.call("createVMSnapshot")
    assert err.value.status == 431 and "virtualmachineid" in err.value.errortext
    with pytest.raises(ApiError) as err:
        api.call("revertToVMSnapshot", vmsnapshotid="00000000-0000-0000-0000-000000000000")
    assert err.value.status == 431


def test_an_unknown_command_is_432(api):
    with pytest.raises(ApiError) as err:
        api.call("createVMSnapshotPlease")
    assert err.value.status == 432


def test_another_account_cannot_see_or_touch_our_snapshots(api, other_account, resources,
                                                           snapshots):
    vm = resources.vm(running=False)
    snap = snapshots.create(vm)
    seen = other_account.list("listVMSnapshot", "vmSnapshot", listall=True)
    assert snap["id"] not in {s["id"] for s in seen}
    for command, params in (("revertToVMSnapshot", {"vmsnapshotid": snap["id"]}),
                            ("deleteVMSnapshot", {"vmsnapshotid": snap["id"]}),
                            ("createVMSnapshot", {"virtualmachineid": vm["id"]})):
        with pytest.raises(ApiError) as err:
            other_account.call(command, **params)
        assert err.value.status in (431, 531), command
    assert [s["id"] for s in snapshots.of(vm)] == [snap["id"]]
