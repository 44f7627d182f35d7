#!/usr/bin/env bash
# ASGI server + Celery worker + beat in the foreground; one Ctrl-C stops all three.
set -uo pipefail
cd "$(dirname "$0")/.."
HOST="${1:-127.0.0.1}"; PORT="${2:-8000}"
export DJANGO_SETTINGS_MODULE="${DJANGO_SETTINGS_MODULE:-config.settings.dev}"
BIN=.venv/bin

pids=()
cleanup() {
  trap - INT TERM EXIT
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null; done
  wait 2>/dev/null
}
trap cleanup INT TERM EXIT

$BIN/celery -A config worker -l warning --concurrency 2 -n "worker.$$@%h" & pids+=($!)
$BIN/celery -A config beat -l warning --pidfile= & pids+=($!)
bash scripts/web.sh "$HOST" "$PORT" & pids+=($!)

cat <<MSG

  Operator platform is up
  API docs   http://$HOST:$PORT/api/docs/
  Admin      http://$HOST:$PORT/admin/
  Demo page  http://$HOST:$PORT/play/
  Readiness  http://$HOST:$PORT/readyz
  Demo logins are printed above by seed_demo. Ctrl-C stops everything.

MSG
wait -n "${pids[@]}"
