#!/usr/bin/env bash
# Run a command with a libvirtd running: start one (no systemd here) if none answers, and
# stop it again afterwards.
set -euo pipefail
sock=/var/run/libvirt/libvirt-sock
started=""
if ! [ -S "$sock" ] || ! pgrep -x libvirtd >/dev/null; then
  log="$(mktemp -t libvirtd.XXXXXX.log)"
  setsid /usr/sbin/libvirtd >"$log" 2>&1 &
  started=$!
  for _ in $(seq 1 600); do
    [ -S "$sock" ] && .venv/bin/python -c "import libvirt,sys; libvirt.registerErrorHandler(lambda *a: None, None); libvirt.open('qemu:///system')" 2>/dev/null && break
    sleep 0.2
  done
fi
stop() {
  if [ -n "$started" ]; then
    kill -TERM "$started" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$started" 2>/dev/null || break; sleep 0.1; done
  fi
}
trap stop EXIT
"$@"
