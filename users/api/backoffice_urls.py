from django.urls import path

from .views import StaffPlayerTokensRevokeApi

urlpatterns = [
    path("players/<int:player_id>/tokens/revoke/", StaffPlayerTokensRevokeApi.as_view(),
         name="bo-player-tokens-revoke"),
]
