from django.apps import AppConfig


class GameSessionsConfig(AppConfig):
    # django.contrib.sessions owns the label "sessions".
    name = "sessions"
    label = "game_sessions"
    default_auto_field = "django.db.models.BigAutoField"
