"""Production settings refuse an insecure configuration; check --deploy is clean."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _manage(*args, **env):
    full_env = {k: v for k, v in os.environ.items() if k not in {"SECRET_KEY", "DEBUG"}}
    full_env.update(env, DJANGO_SETTINGS_MODULE="config.settings.production")
    return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=full_env,
                          capture_output=True, text=True, timeout=120)


def test_production_refuses_to_start_without_a_real_secret_key():
    for bad in ["", "short", "dev-only-insecure-key-change-me-0123456789abcdefghijklmnop"]:
        result = _manage("check", SECRET_KEY=bad)
        assert result.returncode != 0
        assert "SECRET_KEY must be set" in result.stderr


def test_production_check_deploy_is_clean():
    result = _manage("check", "--deploy", "--fail-level", "WARNING",
                     SECRET_KEY="k" * 20 + "-random-production-secret-0123456789abcdef",
                     ALLOWED_HOSTS="operator.example.com")
    assert result.returncode == 0, result.stdout + result.stderr


def test_debug_defaults_to_false_outside_dev():
    code = "from django.conf import settings; print(settings.DEBUG)"
    result = subprocess.run(
        [sys.executable, "-c", f"import django; django.setup(); {code}"], cwd=ROOT,
        env={**{k: v for k, v in os.environ.items() if k != "DEBUG"},
             "DJANGO_SETTINGS_MODULE": "config.settings.production",
             "SECRET_KEY": "p" * 60},
        capture_output=True, text=True, timeout=60)
    assert result.stdout.strip().splitlines()[-1] == "False", result.stderr
