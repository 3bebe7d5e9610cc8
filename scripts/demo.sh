#!/usr/bin/env bash
# The embedded default, end to end: install what is needed, bring up the local stack (Kafka,
# tritonserver, Prometheus), make sample videos, send them as upload events, run the consumer
# until each has its verdict and tags, print them, and leave the stack as it was.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
exec .venv/bin/vmc --log-level WARNING dev demo
