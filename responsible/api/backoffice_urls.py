from django.urls import path

from . import views

urlpatterns = [
    path("responsible/players/<int:player_id>/", views.StaffPlayerApi.as_view(),
         name="rg-staff-player"),
    path("responsible/players/<int:player_id>/limits/", views.StaffLimitImposeApi.as_view(),
         name="rg-staff-limit"),
    path("responsible/limits/<int:limit_id>/lift/", views.StaffLimitLiftApi.as_view(),
         name="rg-staff-limit-lift"),
    path("responsible/players/<int:player_id>/exclusions/",
         views.StaffExclusionImposeApi.as_view(), name="rg-staff-exclusion"),
]
