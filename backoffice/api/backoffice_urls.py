from django.urls import path

from . import views

urlpatterns = [
    path("adjustments/", views.AdjustmentProposeApi.as_view(), name="bo-adjustment-propose"),
    path("adjustments/<int:adjustment_id>/approve/", views.AdjustmentApproveApi.as_view(),
         name="bo-adjustment-approve"),
    path("adjustments/<int:adjustment_id>/reject/", views.AdjustmentRejectApi.as_view(),
         name="bo-adjustment-reject"),
    path("players/", views.PlayerSearchApi.as_view(), name="bo-player-search"),
    path("callbacks/<int:callback_id>/resolve/", views.CallbackResolveApi.as_view(),
         name="bo-callback-resolve"),
]
