from .base import *  # noqa: F403
from .env import env_bool, env_str

DEBUG = env_bool("DEBUG", True)
SECRET_KEY = env_str("SECRET_KEY", "dev-only-insecure-key-change-me-0123456789abcdefghijklmnop")
SANDBOX_PROVIDER_SECRET = env_str("SANDBOX_PROVIDER_SECRET", "sandbox-dev-secret")
# Serve static files straight from the apps as well as from STATIC_ROOT, and pick up edits:
# a page works under `make run` with DEBUG on or off, collected or not.
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG

# Development helpers (common.devtools): sandbox_complete, totp_code, the sandbox button.
DEV_TOOLS_ENABLED = True
