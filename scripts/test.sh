#!/usr/bin/env bash
# Run the whole test suite (unit, then integration against a real Kafka broker, tritonserver
# and Prometheus that the fixtures start on loopback). Installs what it needs first.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
exec .venv/bin/python -m pytest "$@"
