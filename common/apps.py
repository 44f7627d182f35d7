from django.apps import AppConfig

from .dbpool import install_fork_guard
from .logging import install_credential_redaction


class CommonConfig(AppConfig):
    name = "common"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from simple_history.signals import pre_create_historical_record

        from .history import record_channel

        install_fork_guard()
        install_credential_redaction()
        pre_create_historical_record.connect(record_channel,
                                             dispatch_uid="common.history.record_channel")
