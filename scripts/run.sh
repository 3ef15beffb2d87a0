#!/usr/bin/env bash
# The main job: install what is needed, then serve the simulator (web UI and CloudStack API)
# with its in-process driver on the simulated KVM host, on 127.0.0.1:8080.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
# A first login finds an instance to snapshot; VMSNAP_SIM_DEMO_INSTANCES=false or
# --no-demo-instances starts empty.
export VMSNAP_SIM_DEMO_INSTANCES="${VMSNAP_SIM_DEMO_INSTANCES:-true}"
exec .venv/bin/python -m simulator.cli "$@"
