from django.urls import path

from .backoffice_views import (
    EventCreateApi,
    MarketResumeApi,
    MarketSettleApi,
    MarketSuspendApi,
    SelectionOddsUpdateApi,
)

urlpatterns = [
    path("events/", EventCreateApi.as_view(), name="backoffice-event-create"),
    path("selections/<int:selection_id>/", SelectionOddsUpdateApi.as_view(),
         name="backoffice-selection-odds"),
    path("markets/<int:market_id>/suspend/", MarketSuspendApi.as_view(),
         name="backoffice-market-suspend"),
    path("markets/<int:market_id>/resume/", MarketResumeApi.as_view(),
         name="backoffice-market-resume"),
    path("markets/<int:market_id>/settle/", MarketSettleApi.as_view(),
         name="backoffice-market-settle"),
]
