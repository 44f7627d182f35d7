"""Compliance endpoints under /api/v1/backoffice/. Only compliance officers (and
administrators, or staff granted kyc.review_kycapplication) pass."""

from __future__ import annotations

from typing import Any

from django.http import FileResponse
from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from kyc import selectors, services
from kyc.errors import PlayerNotFound
from kyc.models import AMLStatus, KYCStatus
from kyc.permissions import CanReviewKYC
from users.authentication import BearerTokenAuthentication, OTPVerifiedSessionAuthentication

from .serializers import HistoryOut, StaffApplicationDetailOut, StaffApplicationOut


def _detail(application) -> dict:
    return StaffApplicationDetailOut(application).data


class ComplianceApi(APIView):
    permission_classes = [CanReviewKYC]


class KYCApplicationListApi(ComplianceApi):
    class FilterSerializer(serializers.Serializer):
        status = serializers.MultipleChoiceField(choices=KYCStatus.choices, required=False)

    class OutputSerializer(StaffApplicationOut):
        documents = None  # type: ignore[assignment]  # DRF: None drops the inherited field
        document_count = serializers.IntegerField()

    @extend_schema(parameters=[FilterSerializer], responses=OutputSerializer(many=True))
    def get(self, request):
        filters = self.FilterSerializer(data={"status": request.query_params.getlist("status")}
                                        if "status" in request.query_params else {})
        filters.is_valid(raise_exception=True)
        statuses = filters.validated_data.get("status")
        qs = (selectors.kyc_application_list(statuses=sorted(statuses)) if statuses
              else selectors.kyc_application_list())
        return Response(self.OutputSerializer(qs[:500], many=True).data)


class KYCApplicationDetailApi(ComplianceApi):
    @extend_schema(responses=StaffApplicationDetailOut)
    def get(self, request, application_id):
        application = selectors.kyc_application_get(application_id=application_id)
        return Response(_detail(application))


class _DecisionApi(ComplianceApi):
    service: Any = None  # a kyc.services decision, set by each subclass

    class InputSerializer(serializers.Serializer):
        reason = serializers.CharField(required=False, allow_blank=True, max_length=4000,
                                       default="")

    @extend_schema(request=InputSerializer, responses=StaffApplicationDetailOut)
    def post(self, request, application_id):
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        application = type(self).service(application_id=application_id, actor=request.user,
                                         reason=serializer.validated_data["reason"],
                                         now=timezone.now())
        return Response(_detail(application))


class KYCApplicationApproveApi(_DecisionApi):
    service = staticmethod(services.kyc_application_approve)


class KYCApplicationRejectApi(_DecisionApi):
    service = staticmethod(services.kyc_application_reject)


class KYCApplicationRequestResubmissionApi(_DecisionApi):
    service = staticmethod(services.kyc_application_request_resubmission)


class KYCApplicationAllowReapplyApi(_DecisionApi):
    service = staticmethod(services.kyc_application_allow_reapply)


class KYCApplicationStartReviewApi(ComplianceApi):
    @extend_schema(request=None, responses=StaffApplicationDetailOut)
    def post(self, request, application_id):
        application = services.kyc_application_start_review(
            application_id=application_id, actor=request.user, now=timezone.now())
        return Response(_detail(application))


class KYCDocumentReadApi(ComplianceApi):
    """Stream one document to a compliance officer; every read is logged."""

    # The OTP-verified admin session too, so the admin's review page shows documents inline.
    # list[Any]: BearerTokenAuthentication is duck-typed, not a BaseAuthentication subclass.
    authentication_classes: list[Any] = [BearerTokenAuthentication,
                                         OTPVerifiedSessionAuthentication]

    @extend_schema(responses={(200, "application/octet-stream"): bytes})
    def get(self, request, document_id):
        document, fh = services.kyc_document_read(
            document_id=document_id, staff=request.user, now=timezone.now(),
            ip_address=request.META.get("REMOTE_ADDR") or None)
        response = FileResponse(fh, content_type=document.content_type)
        response["Content-Disposition"] = (
            f'inline; filename="{document.kind}-{document.pk}.{document.storage_path.rsplit(".", 1)[-1]}"'
        )
        response["Cache-Control"] = "private, no-store"
        response["X-Content-Type-Options"] = "nosniff"
        response["Content-Security-Policy"] = "default-src 'none'; img-src 'self'; sandbox"
        return response


class PlayerAMLStatusApi(ComplianceApi):
    class InputSerializer(serializers.Serializer):
        status = serializers.ChoiceField(choices=AMLStatus.choices)
        reason = serializers.CharField(required=False, allow_blank=True, max_length=4000,
                                       default="")

    class OutputSerializer(serializers.Serializer):
        player_id = serializers.IntegerField()
        status = serializers.CharField()
        history = HistoryOut(many=True)

    def _out(self, player_id: int) -> dict:
        return self.OutputSerializer({
            "player_id": player_id,
            "status": selectors.aml_status_get(player_id=player_id),
            "history": selectors.aml_history(player_id=player_id),
        }).data

    @extend_schema(responses=OutputSerializer)
    def get(self, request, player_id):
        if not selectors.player_exists(player_id=player_id):
            raise PlayerNotFound()
        return Response(self._out(player_id))

    @extend_schema(request=InputSerializer, responses=OutputSerializer)
    def post(self, request, player_id):
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        services.aml_status_change(player_id=player_id, actor=request.user,
                                   now=timezone.now(), **serializer.validated_data)
        return Response(self._out(player_id))
