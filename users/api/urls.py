from django.urls import path

from .views import (
    DeviceListApi,
    DeviceRevokeApi,
    LogoutApi,
    PasswordChangeApi,
    TokenObtainApi,
    UserRegisterApi,
)

urlpatterns = [
    path("register/", UserRegisterApi.as_view(), name="auth-register"),
    path("token/", TokenObtainApi.as_view(), name="auth-token"),
    path("logout/", LogoutApi.as_view(), name="auth-logout"),
    path("password/", PasswordChangeApi.as_view(), name="auth-password"),
    path("devices/", DeviceListApi.as_view(), name="auth-devices"),
    path("devices/<int:device_id>/", DeviceRevokeApi.as_view(), name="auth-device-revoke"),
]
