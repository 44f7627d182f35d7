from django.urls import path

from . import views

urlpatterns = [
    path("bonuses/campaigns/", views.CampaignApi.as_view(), name="bo-bonus-campaigns"),
    path("bonuses/grants/", views.BonusGrantApi.as_view(), name="bo-bonus-grant"),
    path("bonuses/<uuid:bonus_id>/forfeit/", views.BonusForfeitApi.as_view(),
         name="bo-bonus-forfeit"),
]
