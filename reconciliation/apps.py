from django.apps import AppConfig


class ReconciliationConfig(AppConfig):
    name = "reconciliation"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from . import liveness  # noqa: F401 - connects the Celery worker/beat heartbeat signals
        from .metrics import register_collector

        register_collector()
