#!/usr/bin/env bash
# The whole test run (it installs what it needs first): lint, type check, docs (warnings are errors), every test (the real
# libvirtd + QEMU ones included: the test session starts libvirtd itself), then the contract
# suite against the simulator and against the simulator driving real QEMU (lab mode).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh --test
scripts/prepare-libvirt.sh
scripts/build-guest.sh .cache/guest

.venv/bin/ruff check .
.venv/bin/mypy
.venv/bin/lint-imports
.venv/bin/sphinx-build -W -q -b html docs docs/_build/html
VMSNAP_GUEST_DIR="$PWD/.cache/guest" .venv/bin/python -m pytest -q -p no:cacheprovider "$@"
echo "contract suite against the simulator:"
.venv/bin/python -m pytest -q -p no:cacheprovider -rs --pyargs contract_tests
echo "contract suite against the simulator driving real QEMU:"
scripts/with-libvirtd.sh .venv/bin/python -m pytest -q -p no:cacheprovider -rs \
  --pyargs contract_tests --contract-config contract_tests/lab.ini
