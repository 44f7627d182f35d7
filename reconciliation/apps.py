from django.apps import AppConfig


class ReconciliationConfig(AppConfig):
    name = "reconciliation"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from . import liveness  # noqa: F401 - connects the Celery worker/beat heartbeat signals

        # Imported here, not at module level: models must be loaded first.
        from .metrics import register_collector
        from .readmodels import consumers_register

        register_collector()
        consumers_register()
