from django.urls import path

from . import views

urlpatterns = [
    path("", views.BonusListApi.as_view(), name="bonus-list"),
]
