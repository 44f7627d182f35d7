"""Staff API under /api/v1/backoffice/reconciliation/."""

from django.urls import path

from reconciliation.api import views

urlpatterns = [
    path("reconciliation/discrepancies/", views.DiscrepancyListApi.as_view(),
         name="bo-discrepancy-list"),
    path("reconciliation/discrepancies/<int:discrepancy_id>/investigate/",
         views.DiscrepancyInvestigateApi.as_view(), name="bo-discrepancy-investigate"),
    path("reconciliation/discrepancies/<int:discrepancy_id>/resolve/",
         views.DiscrepancyResolveApi.as_view(), name="bo-discrepancy-resolve"),
    path("reconciliation/kpis/", views.KpiListApi.as_view(), name="bo-kpi-list"),
    path("reconciliation/players/<int:player_id>/summary/", views.PlayerSummaryApi.as_view(),
         name="bo-player-summary"),
    path("reconciliation/lag/", views.LagApi.as_view(), name="bo-lag"),
]
