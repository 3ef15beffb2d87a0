#!/usr/bin/env bash
# One-time system settings a hand-started libvirtd needs on Debian without systemd:
# the libvirt-qemu user must exist (it is resolved before qemu.conf is read), QEMU runs as
# root (as libvirt-qemu every start re-probes capabilities for ~100 s), and QEMU's output
# goes to files so virtlogd is not needed.
set -euo pipefail
[ "$(id -u)" -eq 0 ] || { echo "prepare-libvirt: not root; skipping system set-up" >&2; exit 0; }
getent group libvirt-qemu >/dev/null || groupadd --system libvirt-qemu
id libvirt-qemu >/dev/null 2>&1 || \
  useradd --system -g libvirt-qemu -d /var/lib/libvirt -s /usr/sbin/nologin libvirt-qemu
mkdir -p /etc/libvirt
conf=/etc/libvirt/qemu.conf
if ! grep -q '^stdio_handler = "file"' "$conf" 2>/dev/null; then
  printf 'user = "root"\ngroup = "root"\nstdio_handler = "file"\n' > "$conf"
fi
