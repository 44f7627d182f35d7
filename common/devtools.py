"""Development helpers' guard and the address the demo is served on.

The helpers (`manage.py sandbox_complete`, `manage.py totp_code`, the admin's sandbox button)
act as a payment provider or read a staff member's second factor: they run only when
settings.DEV_TOOLS_ENABLED is on, which only the dev and test settings do.
"""

from __future__ import annotations

import os

from django.conf import settings

from common.errors import DomainError


class DevToolsDisabled(DomainError):
    code = "dev_tools_disabled"
    status_code = 403
    default_detail = "Development helpers run only under the dev and test settings."


def dev_tools_enabled() -> bool:
    return bool(getattr(settings, "DEV_TOOLS_ENABLED", False))


def dev_tools_check() -> None:
    if not dev_tools_enabled():
        raise DevToolsDisabled()


def demo_base_url() -> str:
    """Where `make run` serves the platform: HOST and PORT as the Makefile passes them."""
    return f"http://{os.environ.get('HOST') or '127.0.0.1'}:{os.environ.get('PORT') or '8000'}"
