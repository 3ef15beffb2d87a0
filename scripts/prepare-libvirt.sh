#!/usr/bin/env bash
# One-time system settings a hand-started libvirtd needs on Debian without systemd:
# the libvirt-qemu user must exist (it is resolved before qemu.conf is read), QEMU runs as
# root (as libvirt-qemu every start re-probes capabilities for ~100 s), and QEMU's output
# goes to files so virtlogd is not needed. Only these keys of qemu.conf are set; every other
# line of the file is kept as it is.
set -euo pipefail
[ "$(id -u)" -eq 0 ] || { echo "prepare-libvirt: not root; skipping system set-up" >&2; exit 0; }
getent group libvirt-qemu >/dev/null || groupadd --system libvirt-qemu
id libvirt-qemu >/dev/null 2>&1 || \
  useradd --system -g libvirt-qemu -d /var/lib/libvirt -s /usr/sbin/nologin libvirt-qemu
mkdir -p /etc/libvirt
conf="${VMSNAP_QEMU_CONF:-/etc/libvirt/qemu.conf}"
touch "$conf"

# set_key KEY VALUE: replace an active "KEY = ..." line, or append one.
set_key() {
  local key=$1 value=$2
  if grep -Eq "^[[:space:]]*${key}[[:space:]]*=" "$conf"; then
    sed -i -E "s|^[[:space:]]*${key}[[:space:]]*=.*|${key} = ${value}|" "$conf"
  else
    printf '%s = %s\n' "$key" "$value" >> "$conf"
  fi
}
set_key user '"root"'
set_key group '"root"'
set_key stdio_handler '"file"'
