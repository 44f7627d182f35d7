from django.urls import path

from . import backoffice_views as views

urlpatterns = [
    path("kyc/applications/", views.KYCApplicationListApi.as_view(), name="kyc-queue"),
    path("kyc/applications/<uuid:application_id>/", views.KYCApplicationDetailApi.as_view(),
         name="kyc-staff-detail"),
    path("kyc/applications/<uuid:application_id>/start-review/",
         views.KYCApplicationStartReviewApi.as_view(), name="kyc-start-review"),
    path("kyc/applications/<uuid:application_id>/approve/",
         views.KYCApplicationApproveApi.as_view(), name="kyc-approve"),
    path("kyc/applications/<uuid:application_id>/reject/",
         views.KYCApplicationRejectApi.as_view(), name="kyc-reject"),
    path("kyc/applications/<uuid:application_id>/request-resubmission/",
         views.KYCApplicationRequestResubmissionApi.as_view(), name="kyc-request-resubmission"),
    path("kyc/applications/<uuid:application_id>/allow-reapply/",
         views.KYCApplicationAllowReapplyApi.as_view(), name="kyc-allow-reapply"),
    path("kyc/documents/<uuid:document_id>/", views.KYCDocumentReadApi.as_view(),
         name="kyc-document-read"),
    path("players/<int:player_id>/aml-status/", views.PlayerAMLStatusApi.as_view(),
         name="aml-status"),
]
