from .base import *  # noqa: F403
from .env import env_bool, env_str

DEBUG = env_bool("DEBUG", True)
SECRET_KEY = env_str("SECRET_KEY", "dev-only-insecure-key-change-me-0123456789abcdefghijklmnop")
SANDBOX_PROVIDER_SECRET = env_str("SANDBOX_PROVIDER_SECRET", "sandbox-dev-secret")
