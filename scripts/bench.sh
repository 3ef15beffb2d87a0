#!/usr/bin/env bash
# Run the benchmarks on this machine and print their results as JSON.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/prepare-libvirt.sh
scripts/build-guest.sh .cache/guest
echo "driver:"
.venv/bin/python -m benchmarks.bench_driver "$@"
echo "memory snapshots:"
.venv/bin/python -m benchmarks.bench_memory
echo "Ceph RBD:"
.venv/bin/python -m benchmarks.bench_rbd
echo "simulator:"
.venv/bin/python -m benchmarks.bench_simulator
echo "simulator under load:"
.venv/bin/python -m benchmarks.bench_load
