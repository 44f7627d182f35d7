from django.urls import path

from .views import GameSessionDetailApi, GameSessionStartApi

urlpatterns = [
    path("sessions/", GameSessionStartApi.as_view(), name="game-session-start"),
    path("sessions/<uuid:session_id>/", GameSessionDetailApi.as_view(), name="game-session-detail"),
]
