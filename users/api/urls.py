from django.urls import path

from .views import TokenObtainApi, UserRegisterApi

urlpatterns = [
    path("register/", UserRegisterApi.as_view(), name="auth-register"),
    path("token/", TokenObtainApi.as_view(), name="auth-token"),
]
