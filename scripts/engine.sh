#!/usr/bin/env bash
# The local model engine as a background service for the quickstart:
#   bash scripts/engine.sh start   # starts it unless it already answers; waits until it is ready
#   bash scripts/engine.sh stop
# Port: WCSE_ENGINE_PORT (default 8011). State (files, jobs, checkpoints, served models): .wcse/engine/.
# Access: only requests made to it as 127.0.0.1/localhost from no foreign web page (Host and Origin checks, JSON
# bodies only as application/json). With WCSE_ENGINE_API_KEY set when it starts, every request but /health also
# needs that bearer token; wcse sends it (the quickstart configs name it in apiKeyEnv). WCSE_ENGINE_ALLOWED_HOSTS
# (comma-separated) adds host names other than loopback ones.
# Generation: the engine starts llama.cpp's llama-server (scripts/llama-server.sh; one process per served model,
# base or LoRA fine-tune, on a free local port) and answers chat completions through it; with WCSE_SKIP_LLAMA=1,
# or where no llama-server can be found or built, it generates with transformers itself. `start` prints which.
set -euo pipefail
cd "$(dirname "$0")/.."
PORT="${WCSE_ENGINE_PORT:-8011}"
STATE="${WCSE_HOME:-.wcse}/engine"
PIDFILE="$STATE/engine.pid"
mkdir -p "$STATE"

healthy() {
  node -e "fetch('http://127.0.0.1:$PORT/health').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"
}

generation() {
  node -e "fetch('http://127.0.0.1:$PORT/health').then((r) => r.json()).then((h) => console.log(h.generation ?? 'transformers'), () => console.log('unknown'))"
}

case "${1:-start}" in
  start)
    if healthy; then
      echo "engine: already running on http://127.0.0.1:$PORT/v1 (generation: $(generation))"
      exit 0
    fi
    if [ ! -x engine/.venv/bin/python ]; then bash engine/install.sh; fi
    llama_args=()
    if [ "${WCSE_SKIP_LLAMA:-0}" != "1" ]; then
      status=0
      llama=$(bash scripts/llama-server.sh) || status=$?
      if [ "$status" = "0" ]; then
        llama_args=(--llama-server "${llama##*$'\n'}")
      elif [ "$status" != "3" ]; then
        exit "$status"
      fi
    fi
    echo "engine: starting on http://127.0.0.1:$PORT/v1 (log: $STATE/engine.log)"
    HF_HUB_OFFLINE=1 nohup engine/.venv/bin/python -m wcse_engine serve --host 127.0.0.1 --port "$PORT" \
      --state-dir "$STATE" "${llama_args[@]}" >>"$STATE/engine.log" 2>&1 &
    echo $! >"$PIDFILE"
    for _ in $(seq 1 600); do
      if healthy; then
        used=$(generation)
        if [ "$used" = "llama-server" ]; then
          echo "engine: ready; generation: llama-server (${llama_args[1]})"
        else
          echo "engine: ready; generation: the engine's own (transformers, slower): no llama-server in use"
        fi
        exit 0
      fi
      if ! kill -0 "$(cat "$PIDFILE")" 2>/dev/null; then
        echo "engine: exited during start; last lines of $STATE/engine.log:" >&2
        tail -20 "$STATE/engine.log" >&2
        exit 1
      fi
      sleep 0.5
    done
    echo "engine: not ready after 300s (see $STATE/engine.log)" >&2
    exit 1
    ;;
  stop)
    if [ -f "$PIDFILE" ] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null; then
      kill "$(cat "$PIDFILE")"
      echo "engine: stopped"
    else
      echo "engine: not running"
    fi
    ;;
  *)
    echo "usage: bash scripts/engine.sh start|stop" >&2
    exit 2
    ;;
esac
