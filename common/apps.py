from django.apps import AppConfig

from .dbpool import install_fork_guard


class CommonConfig(AppConfig):
    name = "common"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        install_fork_guard()
