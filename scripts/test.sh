#!/usr/bin/env bash
# The whole test run: lint, type check, docs (warnings are errors), then every test,
# including the real libvirtd + QEMU ones (the test session starts libvirtd itself).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/prepare-libvirt.sh
scripts/build-guest.sh .cache/guest

.venv/bin/ruff check .
.venv/bin/mypy
.venv/bin/sphinx-build -W -q -b html docs docs/_build/html
VMSNAP_GUEST_DIR="$PWD/.cache/guest" .venv/bin/python -m pytest -q -p no:cacheprovider "$@"
