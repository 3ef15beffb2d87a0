"""Does a memory stream restore the guest's RAM exactly? A check, not a benchmark: the agent
guest keeps rewriting part of its memory; each capture's RAM is read (``pmemsave``) at the
instant (guest stopped, stream complete), the file is restored by libvirt into a paused
domain, its RAM read again and the two compared page by page. No disk is snapshotted.

Modes: ``pbs`` (precopy + ``pause-before-switchover``, the driver's steps), ``plain``
(precopy, QEMU stops the guest for the last pass), ``stopped`` (stop, then the migration:
what ``virDomainSave`` does), ``background`` (``background-snapshot``, RAM read at the
stop). Used to find why precopy is not safe under TCG on QEMU 7.2 (see
``docs/driver-design.rst``); run it again on another QEMU or on KVM before letting the
choice rule pick precopy there.

    python -m benchmarks.precopy_ramdiff pbs --loops 8
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import time
from typing import Any

import libvirt
import libvirt_qemu

from driver.hypervisors.libvirt import memstate
from driver.paths import STATE_SUFFIX
from tests.integration.qemu import URI, QemuVM, copy_image, libvirtd_running

PAGE = 4096
DIRTY_LOOP = "while true; do dd if=/dev/urandom of=/tmp/dirty bs=1M count=8 2>/dev/null; done"


def qmp(dom: Any, command: str, **arguments: Any) -> Any:
    request: dict[str, Any] = {"execute": command}
    if arguments:
        request["arguments"] = arguments
    reply = json.loads(libvirt_qemu.qemuMonitorCommand(dom, json.dumps(request), 0))
    if "error" in reply:
        raise RuntimeError(f"{command}: {reply['error']}")
    return reply.get("return")


def read_ram(dom: Any, mib: int, path: str) -> None:
    if os.path.exists(path):
        os.unlink(path)
    qmp(dom, "pmemsave", val=0, size=mib << 20, filename=path)


def differing_pages(a: str, b: str) -> int:
    count, page = 0, 0
    with open(a, "rb") as fa, open(b, "rb") as fb:
        while chunk := fa.read(PAGE):
            if chunk != fb.read(PAGE) and not 0xA0 <= page < 0x100:  # VGA and ROM hole
                count += 1
            page += 1
    return count


def capture(dom: Any, mode: str, path: str, instant: str, mib: int) -> None:
    xml = dom.XMLDesc(libvirt.VIR_DOMAIN_XML_SECURE | libvirt.VIR_DOMAIN_XML_MIGRATABLE)
    writer = memstate.StateWriter(path, xml, running=True)
    caps = {"pause-before-switchover": mode == "pbs", "background-snapshot": mode == "background"}
    qmp(dom, "migrate-set-capabilities", capabilities=[
        {"capability": k, "state": v} for k, v in caps.items()])
    qmp(dom, "migrate-set-parameters", **{"max-bandwidth": 8 << 30, "downtime-limit": 20})
    libvirt_qemu.qemuMonitorCommandWithFiles(dom, json.dumps(
        {"execute": "getfd", "arguments": {"fdname": "ramdiff"}}), [writer.fd], 0)
    if mode in ("stopped", "background"):
        qmp(dom, "stop")
        if mode == "background":
            read_ram(dom, mib, instant)
    qmp(dom, "migrate", uri="fd:ramdiff")
    if mode == "pbs":
        while qmp(dom, "query-migrate")["status"] != "pre-switchover":
            time.sleep(0.001)
        qmp(dom, "migrate-continue", state="pre-switchover")
    while (status := qmp(dom, "query-migrate")["status"]) != "completed":
        if status == "failed":
            raise RuntimeError(qmp(dom, "query-migrate"))
        time.sleep(0.002)
    if mode != "background":
        read_ram(dom, mib, instant)
    writer.commit()
    qmp(dom, "migrate-set-capabilities", capabilities=[
        {"capability": k, "state": False} for k in caps])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=["pbs", "plain", "stopped", "background"])
    parser.add_argument("--loops", type=int, default=8)
    parser.add_argument("--mib", type=int, default=256)
    parser.add_argument("--guest-dir", default=".cache/guest")
    args = parser.parse_args()
    guest = os.path.abspath(args.guest_dir)
    tmp = tempfile.mkdtemp()
    pool = os.path.join(tmp, "pool")
    os.mkdir(pool)
    with libvirtd_running():
        conn = libvirt.open(URI)
        vm = QemuVM(conn, pool, [copy_image(os.path.join(guest, "data.qcow2"), pool, "d.qcow2")],
                    agent_channel=True, memory_mib=args.mib,
                    kernel=os.path.join(guest, "vmlinuz"), initrd=os.path.join(guest, "initrd.gz"))
        try:
            vm.start()
            vm.wait_for_agent()
            vm.sh("dd if=/dev/urandom of=/tmp/a bs=1M count=24 2>/dev/null")
            vm.sh(DIRTY_LOOP, wait=False)
            time.sleep(1)  # the loop running at full speed before each capture
            counts = []
            for i in range(args.loops):
                path = os.path.join(pool, f"s{i}{STATE_SUFFIX}")
                instant, restored = os.path.join(tmp, "instant"), os.path.join(tmp, "restored")
                capture(vm.dom, args.mode, path, instant, args.mib)
                vm.dom.destroy()
                conn.restoreFlags(path, None, libvirt.VIR_DOMAIN_SAVE_PAUSED)
                vm.dom = conn.lookupByName(vm.name)
                read_ram(vm.dom, args.mib, restored)
                counts.append(differing_pages(instant, restored))
                qmp(vm.dom, "cont")  # the restored guest goes on dirtying
                os.unlink(path)
                time.sleep(1)
            print(json.dumps({"mode": args.mode, "captures": len(counts),
                              "with differing pages": sum(1 for c in counts if c),
                              "differing pages": counts}))
        finally:
            vm.remove()
            conn.close()
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
