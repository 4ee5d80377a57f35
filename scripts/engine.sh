#!/usr/bin/env bash
# The local model engine as a background service for the quickstart:
#   bash scripts/engine.sh start   # starts it unless it already answers; waits until it is ready
#   bash scripts/engine.sh stop
# Port: WCSE_ENGINE_PORT (default 8011). State (files, jobs, checkpoints, served models): .wcse/engine/.
set -euo pipefail
cd "$(dirname "$0")/.."
PORT="${WCSE_ENGINE_PORT:-8011}"
STATE="${WCSE_HOME:-.wcse}/engine"
PIDFILE="$STATE/engine.pid"
mkdir -p "$STATE"

healthy() {
  node -e "fetch('http://127.0.0.1:$PORT/health').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"
}

case "${1:-start}" in
  start)
    if healthy; then
      echo "engine: already running on http://127.0.0.1:$PORT/v1"
      exit 0
    fi
    if [ ! -x engine/.venv/bin/python ]; then bash engine/install.sh; fi
    echo "engine: starting on http://127.0.0.1:$PORT/v1 (log: $STATE/engine.log)"
    HF_HUB_OFFLINE=1 nohup engine/.venv/bin/python -m wcse_engine serve --host 127.0.0.1 --port "$PORT" \
      --state-dir "$STATE" >>"$STATE/engine.log" 2>&1 &
    echo $! >"$PIDFILE"
    for _ in $(seq 1 600); do
      if healthy; then
        echo "engine: ready"
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
