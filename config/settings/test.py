from .base import *  # noqa: F403
from .base import DATABASES, REST_FRAMEWORK
from .env import env_str

DEBUG = False
SECRET_KEY = "test-only-insecure-key-0123456789abcdefghijklmnopqrstuvwxyz"
SANDBOX_PROVIDER_SECRET = env_str("SANDBOX_PROVIDER_SECRET", "sandbox-test-secret")
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# ChannelsLiveServerTestCase and multi-process tests need a fixed test database name.
DATABASES["default"]["TEST"] = {"NAME": "test_" + DATABASES["default"]["NAME"]}
REST_FRAMEWORK = {
    **REST_FRAMEWORK,
    "DEFAULT_THROTTLE_RATES": {"login": "1000/min", "register": "1000/min",
                               "kyc_upload": "1000/min"},
}
AXES_ENABLED = False
CELERY_TASK_ALWAYS_EAGER = False
# Servers the tests start serve static files from the apps, without a collectstatic run
# (and without a STATIC_ROOT unless one is given).
WHITENOISE_USE_FINDERS = True
STATIC_ROOT = env_str("STATIC_ROOT", "") or None  # type: ignore[assignment]  # base: a Path

# Development helpers (common.devtools) are on in tests; production never has them.
DEV_TOOLS_ENABLED = True
