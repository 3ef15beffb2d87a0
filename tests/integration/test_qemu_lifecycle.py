"""The driver's lifecycle commands on a real libvirtd + QEMU: volumes created, hot-plugged,
written, detached, snapshot, resized and deleted; VMs defined, started, rebooted, removed."""

from __future__ import annotations

import base64
import os

import libvirt
import pytest

from tests import agentjson as aj
from tests.support.driver import qemu_img

pytestmark = pytest.mark.qemu


def test_lifecycle_commands_on_real_qemu(settings, qemu_host, qemu_conn, pool):
    from driver.app import create_app
    from tests.support.driver import AgentClient

    agent = AgentClient(create_app(settings.with_overrides(libvirt_domain_type="qemu"),
                                   qemu_host).test_client())
    name = f"i-9-{os.getpid()}-VM"
    root = aj.volume(os.path.join(pool, "root.qcow2"), pool, vm=name)
    data = aj.volume(os.path.join(pool, "data.qcow2"), pool, vm=name, kind="DATADISK")
    root["size"] = data["size"] = 64 << 20
    agent.ok(aj.create_volume(root))
    agent.ok(aj.create_volume(data))
    try:
        agent.ok(aj.start(name, [root], agent=False, ram_mib=64))
        dom = qemu_conn.lookupByName(name)
        assert dom.isActive()
        agent.ok(aj.attach(name, data, 1))  # hot-plugged into the running domain
        assert len(agent.ok(aj.guest(name, "read", deviceId=1, length=4))["payload"]) > 0
        agent.ok(aj.guest(name, "write", deviceId=1, offset=4096, data=b"hot data"))
        read = agent.ok(aj.guest(name, "read", deviceId=1, offset=4096, length=8))
        assert base64.b64decode(read["payload"]) == b"hot data"
        # A BIOS-only guest never acknowledges a PCI unplug: refused, nothing changed.
        refused = agent.one(aj.detach(name, data, 1))
        assert refused["result"] is False and "has not released vdb" in refused["details"]
        assert "data.qcow2" in dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE)
        snap = {"path": "v1", "name": "v1", "id": 1, "volume": data}
        body = {"data": {aj.SNAPSHOT_TO: snap},
                "contextMap": {}}
        made = agent.ok({aj.STORAGE + "CreateObjectCommand": body})
        copy = next(iter(made["data"].values()))
        assert copy["physicalSize"] > 0
        copies = os.path.join(pool, ".volume-snapshots")
        assert os.listdir(copies) == [f"data.qcow2@{copy['path']}.qcow2"]
        agent.ok({aj.STORAGE + "DeleteCommand": {"data": {aj.SNAPSHOT_TO: {
            **snap, "path": copy["path"]}}, "contextMap": {}}})
        assert os.listdir(copies) == []
        reboot = agent.one({aj.API + "RebootCommand": {"vmName": name, "contextMap": {}}})
        assert reboot["result"] is True and dom.isActive()
        agent.ok(aj.stop(name))
        agent.ok(aj.detach(name, data, 1))  # stopped: the definition changes at once
        assert "data.qcow2" not in dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE)
        resize = {aj.API + "storage.ResizeVolumeCommand": {
            "path": data["path"], "pool": {"path": pool}, "currentSize": 64 << 20,
            "newSize": 128 << 20, "shrinkOk": False, "contextMap": {}}}
        assert agent.ok(resize)["newSize"] == 128 << 20
        assert '"virtual-size": 134217728' in qemu_img("info", "--output=json",
                                                       os.path.join(pool, "data.qcow2"))
        stop = aj.stop(name)
        stop[aj.API + "StopCommand"]["undefine"] = True
        agent.ok(stop)
        assert name not in [d.name() for d in qemu_conn.listAllDomains()]
        agent.ok({aj.STORAGE + "DeleteCommand": {"data": {aj.VOLUME_TO: data}, "contextMap": {}}})
        assert not os.path.exists(os.path.join(pool, "data.qcow2"))
    finally:
        try:
            qemu_host.undefine(name)
        except Exception:
            pass
