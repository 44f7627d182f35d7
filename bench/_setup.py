"""Shared benchmark set-up: a throwaway, migrated database named after the benchmark."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# The project root must win over bench/ itself: bench/sessions.py would shadow the
# `sessions` app for every import after this one.
_BENCH = str(Path(__file__).resolve().parent)
sys.path[:] = [str(ROOT)] + [p for p in sys.path if p not in (str(ROOT), _BENCH, "")] + [_BENCH]
# Celery's Django fix-up puts the working directory first on sys.path: make it the root.
os.chdir(ROOT)


def bench_database(name: str, *, migrate: bool = True) -> str:
    """Create (fresh) database `name`, point Django at it, set Django up, migrate. Returns URL."""
    base = os.environ.get("BENCH_PG", "postgres://postgres@127.0.0.1:5432")
    url = f"{base}/{name}"
    subprocess.run(["psql", f"{base}/postgres", "-qc", f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'],
                   check=True, capture_output=True)
    subprocess.run(["psql", f"{base}/postgres", "-qc", f'CREATE DATABASE "{name}"'], check=True,
                   capture_output=True)
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.dev")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    os.environ.setdefault("DEBUG", "false")  # measure as production runs: no query log
    import django

    django.setup()
    if migrate:
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
    return url


def drop_database(name: str) -> None:
    base = os.environ.get("BENCH_PG", "postgres://postgres@127.0.0.1:5432")
    subprocess.run(["psql", f"{base}/postgres", "-qc", f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'],
                   capture_output=True)
