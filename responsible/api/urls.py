from django.urls import path

from . import views

urlpatterns = [
    path("", views.StatusApi.as_view(), name="rg-status"),
    path("limits/", views.LimitSetApi.as_view(), name="rg-limit-set"),
    path("limits/<int:limit_id>/confirm/", views.LimitConfirmApi.as_view(), name="rg-limit-confirm"),
    path("limits/<int:limit_id>/cancel/", views.LimitCancelApi.as_view(), name="rg-limit-cancel"),
    path("timeout/", views.TimeoutApi.as_view(), name="rg-timeout"),
    path("self-exclusion/", views.SelfExclusionApi.as_view(), name="rg-self-exclusion"),
    path("self-exclusion/return/", views.SelfExclusionReturnApi.as_view(), name="rg-return"),
    path("reality-check/", views.RealityCheckApi.as_view(), name="rg-reality-check"),
    path("limit-prompt/", views.LimitPromptApi.as_view(), name="rg-limit-prompt"),
]
