#!/usr/bin/env bash
# The web tier (scripts/web.sh) + Celery worker + beat in the foreground; one Ctrl-C stops
# them all. The body is one function, read whole before it runs: editing this file under a
# running copy cannot make bash execute a half-read line.
main() {
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

if [ "${WEB_SERVER:-split}" = "split" ]; then
  WS_LINE="WebSocket  ws://$HOST:${WS_PORT:-$((PORT + 1))}/ws/ (uvicorn; HTTP on gunicorn)"
else
  WS_LINE="WebSocket  ws://$HOST:$PORT/ws/"
fi
cat <<MSG

  Operator platform is up
  API docs   http://$HOST:$PORT/api/docs/
  Admin      http://$HOST:$PORT/admin/
  Demo page  http://$HOST:$PORT/play/
  Readiness  http://$HOST:$PORT/readyz
  $WS_LINE
  Demo logins are printed above by seed_demo. Ctrl-C stops everything.

MSG
wait -n "${pids[@]}"
}
main "$@"; exit
