from django.urls import path

from .views import GameSessionCloseApi

urlpatterns = [
    path("game-sessions/<uuid:session_id>/close/", GameSessionCloseApi.as_view(),
         name="bo-game-session-close"),
]
