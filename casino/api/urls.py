from django.urls import path, re_path

from ..views import provider_wallet_call
from .views import GameLaunchApi

urlpatterns = [
    path("launch/", GameLaunchApi.as_view(), name="casino-launch"),
    # Provider calls, exactly as each contract names them (no trailing slash appended).
    re_path(r"^(?P<provider>[a-z0-9_-]{1,32})/(?P<action>[a-z/]{1,40})$", provider_wallet_call,
            name="casino-provider-call"),
]
