#!/usr/bin/env bash
# README's main command: the whole study offline, on small real models with real finetuning.
#   bash scripts/quickstart.sh          # examples/quickstart.yaml
#   bash scripts/quickstart.sh --tiny   # examples/quickstart-tiny.yaml, a two-minute smoke run
# Installs what is missing, starts the local engine and the embedded Temporal dev server, runs the
# experiment with progress bars, and prints where the report is. Running it again reuses everything.
set -euo pipefail
cd "$(dirname "$0")/.."
CONFIG=examples/quickstart.yaml
if [ "${1:-}" = "--tiny" ]; then CONFIG=examples/quickstart-tiny.yaml; fi

bash scripts/setup.sh
bash scripts/engine.sh start
started=$SECONDS
node bin/wcse.js run "$CONFIG"
generation=$(node -e "fetch('http://127.0.0.1:${WCSE_ENGINE_PORT:-8011}/health').then((r) => r.json()).then((h) => console.log(h.generation), () => console.log('unknown'))")
echo "quickstart: finished in $((SECONDS - started))s (local generation: $generation)"
