#!/usr/bin/env bash
# The web tier as `make run` starts it: collect static files, then the ASGI server
# (HTTP + WebSocket). WhiteNoise serves /static/ from inside the app in every settings mode.
set -euo pipefail
cd "$(dirname "$0")/.."
HOST="${1:-127.0.0.1}"; PORT="${2:-8000}"
export DJANGO_SETTINGS_MODULE="${DJANGO_SETTINGS_MODULE:-config.settings.dev}"
BIN=.venv/bin
LOG_LEVEL=WARNING $BIN/python manage.py collectstatic --noinput -v 0
exec $BIN/uvicorn config.asgi:application --host "$HOST" --port "$PORT" --log-level warning
