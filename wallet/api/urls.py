from django.urls import path

from . import views

urlpatterns = [
    path("wallets/", views.WalletListApi.as_view(), name="wallet-list"),
    path("wallets/transactions/", views.WalletTransactionListApi.as_view(), name="wallet-transactions"),
    path("payments/deposits/", views.DepositCreateApi.as_view(), name="deposit-create"),
    path("payments/deposits/<uuid:deposit_id>/", views.DepositDetailApi.as_view(), name="deposit-detail"),
    path("payments/fees/quote/", views.FeeQuoteApi.as_view(), name="fee-quote"),
    path("payments/withdrawals/", views.WithdrawalCreateApi.as_view(), name="withdrawal-create"),
    path("payments/withdrawals/<uuid:withdrawal_id>/", views.WithdrawalDetailApi.as_view(),
         name="withdrawal-detail"),
    path("payments/withdrawals/<uuid:withdrawal_id>/cancel/", views.WithdrawalCancelApi.as_view(),
         name="withdrawal-cancel"),
    path("payments/webhooks/<slug:provider>/", views.ProviderWebhookApi.as_view(), name="provider-webhook"),
]
