#!/usr/bin/env bash
# Start PostgreSQL and Redis if installed but stopped; create the project's database.
# One clear line and a non-zero exit when a service is absent.
set -euo pipefail

DATABASE_URL="${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/operator}"
REDIS_URL="${REDIS_URL:-redis://127.0.0.1:6379/0}"

pg_up() { pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; }
redis_up() { redis-cli -u "$REDIS_URL" ping >/dev/null 2>&1; }

if ! pg_up; then
  if command -v pg_ctlcluster >/dev/null 2>&1 && ls /etc/postgresql >/dev/null 2>&1; then
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start || true
    for _ in $(seq 1 30); do pg_up && break; sleep 0.5; done
  fi
  pg_up || { echo "ERROR: PostgreSQL is not installed or will not start on 127.0.0.1:5432" >&2; exit 1; }
fi

if ! redis_up; then
  if command -v redis-server >/dev/null 2>&1; then
    mkdir -p /tmp/redis-operator
    redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no \
      --maxmemory-policy noeviction --dir /tmp/redis-operator >/dev/null || true
    for _ in $(seq 1 30); do redis_up && break; sleep 0.2; done
  fi
  redis_up || { echo "ERROR: Redis is not installed or will not start on 127.0.0.1:6379" >&2; exit 1; }
fi
# The Celery broker must never evict a task.
redis-cli -u "$REDIS_URL" config set maxmemory-policy noeviction >/dev/null 2>&1 || true

dbname="${DATABASE_URL##*/}"; dbname="${dbname%%\?*}"
if ! psql "${DATABASE_URL%/*}/postgres" -tAc "SELECT 1 FROM pg_database WHERE datname='${dbname}'" | grep -q 1; then
  psql "${DATABASE_URL%/*}/postgres" -qc "CREATE DATABASE \"${dbname}\"" >/dev/null
fi
