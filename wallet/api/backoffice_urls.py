from django.urls import path

from . import views

urlpatterns = [
    path("withdrawals/<uuid:withdrawal_id>/approve/", views.WithdrawalApproveApi.as_view(),
         name="bo-withdrawal-approve"),
    path("withdrawals/<uuid:withdrawal_id>/reject/", views.WithdrawalRejectApi.as_view(),
         name="bo-withdrawal-reject"),
]
