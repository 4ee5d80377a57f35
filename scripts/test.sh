#!/usr/bin/env bash
# README's test command: installs what is missing, then runs every test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
npx vitest run
if [ -x engine/.venv/bin/python ] && [ -d engine/tests ]; then
  HF_HUB_OFFLINE=1 engine/.venv/bin/python -m pytest engine/tests -q
fi
