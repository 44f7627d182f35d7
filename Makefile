# Everything sets itself up: virtualenv, packages, services, database, migrations.
SHELL := /bin/bash
PY := .venv/bin/python
PIP := .venv/bin/pip
STAMP := .venv/.installed
export DJANGO_SETTINGS_MODULE ?= config.settings.dev
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: fuzz chaos run test test-fast lint bench install services migrate seed e2e-deps cluster cluster-stop cluster-test

$(STAMP): pyproject.toml
	@test -x $(PY) || python3 -m venv .venv
	@$(PIP) install -q --upgrade pip
	@$(PIP) install -q -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

services:
	@bash scripts/services.sh

migrate: install services
	@$(PY) manage.py migrate --noinput -v 0

seed: migrate
	@HOST=$(HOST) PORT=$(PORT) $(PY) manage.py seed_demo

run: seed
	@bash scripts/run.sh $(HOST) $(PORT)

# Debian's chromium for the browser tests (never `playwright install`).
e2e-deps:
	@command -v chromium >/dev/null 2>&1 || { \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
	  || echo "WARNING: could not install Debian chromium; browser tests will fail"; }

test: install services e2e-deps
	@bash scripts/test.sh

lint: install
	@.venv/bin/ruff check .
	@.venv/bin/mypy
	@.venv/bin/lint-imports --no-cache >/dev/null || .venv/bin/lint-imports --no-cache
	@DJANGO_SETTINGS_MODULE=config.settings.test $(PY) manage.py makemigrations --check --dry-run -v 1
	@DJANGO_SETTINGS_MODULE=config.settings.test LOG_LEVEL=WARNING $(PY) manage.py spectacular --validate --fail-on-warn --file /dev/null

bench: migrate
	@for b in $(filter-out bench/_%,$(wildcard bench/*.py)); do echo "== $$b"; DJANGO_SETTINGS_MODULE=config.settings.dev LOG_LEVEL=WARNING $(PY) $$b || exit 1; done

# High availability (docs/deploy.md): etcd + two Patroni-managed PostgreSQL nodes (leader,
# synchronous replica) + PgBouncer, on ports CLUSTER_PORT_BASE.. (default 15400..15406).
cluster:
	@bash scripts/cluster.sh start

cluster-stop:
	@bash scripts/cluster.sh stop

# The replica and failover tests on a fresh cluster of their own (about 4 minutes).
cluster-test: install
	@bash scripts/cluster_test.sh

# Fault suite (docs/faults.md): private PostgreSQL, Redis, uvicorn, Celery worker and beat;
# one fault at a time under retrying clients; prints a table per fault. Needs root (runs
# PostgreSQL as the postgres user).
chaos: install
	@.venv/bin/python scripts/chaos.py

# schemathesis against the live schema, every operation, every role (tests/fuzz/).
fuzz: install services
	@FUZZ=1 DJANGO_SETTINGS_MODULE=config.settings.test .venv/bin/pytest tests/fuzz -p no:randomly -q -rA $(FUZZ_ARGS)
