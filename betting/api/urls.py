from django.urls import path

from .views import BetDetailApi, BetListCreateApi, EventListApi

urlpatterns = [
    path("events/", EventListApi.as_view(), name="betting-events"),
    path("bets/", BetListCreateApi.as_view(), name="betting-bets"),
    path("bets/<uuid:bet_id>/", BetDetailApi.as_view(), name="betting-bet-detail"),
]
