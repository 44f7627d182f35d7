from django.urls import path

from . import views

urlpatterns = [
    path("withdrawals/<uuid:withdrawal_id>/approve/", views.WithdrawalApproveApi.as_view(),
         name="bo-withdrawal-approve"),
    path("withdrawals/<uuid:withdrawal_id>/reject/", views.WithdrawalRejectApi.as_view(),
         name="bo-withdrawal-reject"),
    path("refunds/", views.RefundCreateApi.as_view(), name="bo-refund-create"),
    path("refunds/<uuid:refund_id>/", views.RefundDetailApi.as_view(), name="bo-refund-detail"),
    path("refunds/<uuid:refund_id>/approve/", views.RefundApproveApi.as_view(),
         name="bo-refund-approve"),
    path("refunds/<uuid:refund_id>/reject/", views.RefundRejectApi.as_view(),
         name="bo-refund-reject"),
]
