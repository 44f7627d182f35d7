from django.urls import path

from .consumers import GameSessionConsumer

websocket_urlpatterns: list = [
    path("ws/games/sessions/<uuid:session_id>/", GameSessionConsumer.as_asgi()),
]
