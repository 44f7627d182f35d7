#!/usr/bin/env bash
# The web tier as `make run` starts it: collect static files, then the servers. WhiteNoise
# serves /static/ from inside the app in every settings mode.
#
# WEB_SERVER picks the serving stack (measured with bench/http.py, see docs/deploy.md):
#   split   [default] gunicorn (WSGI, WEB_CONCURRENCY sync workers, or gthread workers of
#           WEB_THREADS threads each when WEB_THREADS > 1) serves HTTP on PORT: the
#           API, admin and pages; uvicorn (Channels) serves only the WebSockets, on WS_PORT
#           [PORT+1], and new game sessions' ws_url points there (WEBSOCKET_BASE_URL).
#   asgi    uvicorn serves HTTP and WebSockets on PORT (the ASGI path is slower for HTTP).
# The body is one function, read whole before it runs.
main() {
set -euo pipefail
cd "$(dirname "$0")/.."
HOST="${1:-127.0.0.1}"; PORT="${2:-8000}"
export DJANGO_SETTINGS_MODULE="${DJANGO_SETTINGS_MODULE:-config.settings.dev}"
WEB_SERVER="${WEB_SERVER:-split}"
WEB_CONCURRENCY="${WEB_CONCURRENCY:-2}"
BIN=.venv/bin
LOG_LEVEL=WARNING $BIN/python manage.py collectstatic --noinput -v 0
case "$WEB_SERVER" in
  asgi)
    exec $BIN/uvicorn config.asgi:application --host "$HOST" --port "$PORT" \
      --log-level warning --workers "$WEB_CONCURRENCY"
    ;;
  split)
    WS_PORT="${WS_PORT:-$((PORT + 1))}"
    # Behind a proxy that routes /ws/ to uvicorn on the same host, set it empty instead.
    export WEBSOCKET_BASE_URL="${WEBSOCKET_BASE_URL-ws://$HOST:$WS_PORT}"
    pids=()
    cleanup() {
      trap - INT TERM EXIT
      for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
      wait 2>/dev/null || true
    }
    trap cleanup INT TERM EXIT
    if [ "${WEB_THREADS:-1}" -gt 1 ]; then
      WORKER=(--worker-class gthread --threads "$WEB_THREADS")
    else
      WORKER=(--worker-class sync)
    fi
    $BIN/gunicorn config.wsgi:application --bind "$HOST:$PORT" --workers "$WEB_CONCURRENCY" \
      "${WORKER[@]}" --timeout 60 --log-level warning & pids+=($!)
    $BIN/uvicorn config.asgi:application --host "$HOST" --port "$WS_PORT" --log-level warning \
      & pids+=($!)
    # Either server exiting stops the tier (and run.sh with it).
    wait -n "${pids[@]}"
    ;;
  *) echo "ERROR: WEB_SERVER must be split or asgi, not '$WEB_SERVER'" >&2; exit 2 ;;
esac
}
main "$@"; exit
