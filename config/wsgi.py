"""WSGI entry point: the HTTP API, admin and pages (gunicorn in `make run` and production).

WebSockets are served by `config.asgi:application` (Channels) in a process of their own.
"""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.dev")

application = get_wsgi_application()
