from django.apps import AppConfig


class BonusesConfig(AppConfig):
    name = "bonuses"
    verbose_name = "Bonuses"
    default_auto_field = "django.db.models.BigAutoField"
