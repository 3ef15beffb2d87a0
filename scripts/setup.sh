#!/usr/bin/env bash
# Prepare this machine: Debian packages, then a virtualenv with the project installed.
#   scripts/setup.sh          runtime (libvirt client build deps, QEMU tools)
#   scripts/setup.sh --test   also the real hypervisor (libvirtd + QEMU) and the dev extra
#                             (test, lint, type and docs tools) for the tests
set -euo pipefail
cd "$(dirname "$0")/.."

want_test=0
[ "${1:-}" = "--test" ] && want_test=1

packages=(libvirt-dev pkg-config gcc python3-dev python3-venv qemu-utils make)
if [ "$want_test" = 1 ]; then
  packages+=(libvirt-daemon libvirt-daemon-driver-qemu qemu-system-x86 busybox-static
             chromium chromium-driver
             ceph-mon ceph-osd ceph-common qemu-block-extra)
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  echo "installing Debian packages: ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
# Serving needs the runtime and the libvirt binding only; the tests add the dev extra
# (test and docs tools). One stamp per set, so either is reinstalled when setup.cfg changes.
extras=libvirt
[ "$want_test" = 1 ] && extras=libvirt,dev
stamp=".venv/.installed-${extras/,/-}"
if [ ! -f "$stamp" ] || [ setup.cfg -nt "$stamp" ]; then
  .venv/bin/pip install -q --upgrade pip
  .venv/bin/pip install -q -e ".[$extras]"
  touch "$stamp"
fi
