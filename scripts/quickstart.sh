#!/usr/bin/env bash
# README's main command: the whole study offline, on small real models with real finetuning.
#   bash scripts/quickstart.sh          # examples/quickstart.yaml
#   bash scripts/quickstart.sh --tiny   # examples/quickstart-tiny.yaml, a two-minute smoke run
# It prints the install time (setup + engine start) and the run time separately, with the machine's load.
# Installs what is missing, starts the local engine and the embedded Temporal dev server, runs the
# experiment with progress bars, and prints where the report is. Running it again reuses everything.
set -euo pipefail
cd "$(dirname "$0")/.."
CONFIG=examples/quickstart.yaml
if [ "${1:-}" = "--tiny" ]; then CONFIG=examples/quickstart-tiny.yaml; fi

install_started=$SECONDS
bash scripts/setup.sh
bash scripts/engine.sh start
install_seconds=$((SECONDS - install_started))
started=$SECONDS
node bin/wcse.js run "$CONFIG"
generation=$(node -e "fetch('http://127.0.0.1:${WCSE_ENGINE_PORT:-8011}/health').then((r) => r.json()).then((h) => console.log(h.generation), () => console.log('unknown'))")
echo "quickstart: install and engine start ${install_seconds}s; run $((SECONDS - started))s (local generation: $generation; $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg))"
