#!/usr/bin/env bash
# The whole suite. Browser (Playwright) tests run in their own pytest invocation: they and
# the asyncio tests break each other's event loops.
set -uo pipefail
cd "$(dirname "$0")/.."
export DJANGO_SETTINGS_MODULE=config.settings.test
PYTEST=".venv/bin/pytest"

$PYTEST -m "not browser" -p no:randomly "$@"
rc_main=$?
DJANGO_ALLOW_ASYNC_UNSAFE=true $PYTEST -m browser --reuse-db "$@"
rc_browser=$?
# pytest exits 5 when a selection holds no test: not a failure for the browser pass.
[ $rc_browser -eq 5 ] && rc_browser=0
[ $rc_main -eq 0 ] && [ $rc_browser -eq 0 ]
