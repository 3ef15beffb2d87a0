#!/usr/bin/env bash
# Build the tiny guest used by the quiesce tests: Debian's kernel, busybox and
# qemu-guest-agent, unpacked from their packages (nothing is installed on the host) into an
# initramfs whose /init mounts /dev/vda (ext4) at /mnt/data and runs the agent on its
# virtio-serial port. Output in DIR: vmlinuz, initrd.gz, data.qcow2 (an empty ext4 disk).
set -euo pipefail
out="${1:-.cache/guest}"
mkdir -p "$out"
out="$(cd "$out" && pwd)"
[ -f "$out/initrd.gz" ] && [ -f "$out/vmlinuz" ] && [ -f "$out/data.qcow2" ] && exit 0

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cd "$work"
kernel_pkg="$(apt-cache depends linux-image-amd64 | awk '/Depends: linux-image/{print $2; exit}')"
apt-get download "$kernel_pkg" qemu-guest-agent busybox-static >/dev/null 2>&1 || {
  apt-get update -qq && apt-get download "$kernel_pkg" qemu-guest-agent busybox-static >/dev/null
}
mkdir x root
for deb in ./*.deb; do dpkg-deb -x "$deb" x; done

kver="$(ls x/lib/modules | head -n1)"
cp "x/boot/vmlinuz-$kver" "$out/vmlinuz.tmp"

mkdir -p root/bin root/lib/mod root/proc root/sys root/dev root/run root/tmp root/mnt/data \
  root/usr/sbin root/lib64 root/lib/x86_64-linux-gnu
cp x/bin/busybox root/bin/busybox
cp x/usr/sbin/qemu-ga root/usr/sbin/qemu-ga
mods="virtio_ring virtio virtio_pci_modern_dev virtio_pci_legacy_dev virtio_pci virtio_blk virtio_console crc16 mbcache jbd2 crc32c_generic ext4"
for m in $mods; do
  f="$(find "x/lib/modules/$kver" -name "$m.ko*" | head -n1)"
  [ -n "$f" ] || { echo "build-guest: module $m not found" >&2; exit 1; }
  case "$f" in
    *.xz) xz -dc "$f" > "root/lib/mod/$m.ko" ;;
    *.zst) zstd -qdc "$f" > "root/lib/mod/$m.ko" ;;
    *) cp "$f" "root/lib/mod/$m.ko" ;;
  esac
done
# qemu-ga's shared libraries, taken from the host (QEMU's own packages bring them).
ldd x/usr/sbin/qemu-ga | awk '/=>/ {print $3} /ld-linux/ {print $1}' | while read -r lib; do
  [ -f "$lib" ] && cp -L "$lib" "root${lib}" 2>/dev/null || cp -L "$lib" "root/lib/x86_64-linux-gnu/"
done
cat > root/init <<'INIT'
#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t devtmpfs dev /dev
for m in virtio_ring virtio virtio_pci_modern_dev virtio_pci_legacy_dev virtio_pci virtio_blk virtio_console crc16 mbcache jbd2 crc32c_generic ext4; do
  insmod /lib/mod/$m.ko 2>/dev/null
done
i=0; while [ ! -b /dev/vda ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i+1)); done
mount -t ext4 /dev/vda /mnt/data && echo "init: mounted /dev/vda on /mnt/data"
PORT=""
i=0
while [ -z "$PORT" ] && [ $i -lt 50 ]; do
  for p in /sys/class/virtio-ports/*; do
    [ "$(cat $p/name 2>/dev/null)" = org.qemu.guest_agent.0 ] && PORT=/dev/$(basename $p)
  done
  sleep 0.1; i=$((i+1))
done
echo "init: agent port=$PORT"
[ -n "$PORT" ] && /usr/sbin/qemu-ga -m virtio-serial -p "$PORT" -t /run -l /dev/console &
echo "READY uptime $(cut -d' ' -f1 /proc/uptime)"
while true; do sleep 3600; done
INIT
chmod +x root/init
(cd root && find . | ../x/bin/busybox cpio -o -H newc 2>/dev/null | gzip -1) > "$out/initrd.gz.tmp"

truncate -s 64M data.raw
mkfs.ext4 -q -F data.raw
qemu-img convert -f raw -O qcow2 data.raw "$out/data.qcow2.tmp"
mv "$out/vmlinuz.tmp" "$out/vmlinuz"
mv "$out/initrd.gz.tmp" "$out/initrd.gz"
mv "$out/data.qcow2.tmp" "$out/data.qcow2"
echo "build-guest: kernel $kver, initrd $(du -h "$out/initrd.gz" | cut -f1)"
