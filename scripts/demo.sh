#!/usr/bin/env bash
# The embedded default: install what is needed, bring up the local stack, push one upload
# event through it, print the result, and leave the stack as it was.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
was_up=0
.venv/bin/vmc dev status >/dev/null 2>&1 && was_up=1
.venv/bin/vmc dev up >/dev/null
trap '[ "$was_up" = 1 ] || .venv/bin/vmc dev down >/dev/null' EXIT
.venv/bin/vmc dev status
.venv/bin/vmc dev smoke
