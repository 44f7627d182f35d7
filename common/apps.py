from django.apps import AppConfig

from .dbpool import install_fork_guard
from .logging import install_credential_redaction


class CommonConfig(AppConfig):
    name = "common"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        install_fork_guard()
        install_credential_redaction()
