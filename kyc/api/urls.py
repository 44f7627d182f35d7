from django.urls import path

from . import views

urlpatterns = [
    path("", views.KYCStatusApi.as_view(), name="kyc-status"),
    path("applications/", views.KYCApplicationSubmitApi.as_view(), name="kyc-application-submit"),
    path("applications/<uuid:application_id>/", views.KYCApplicationDetailApi.as_view(),
         name="kyc-application-detail"),
]
