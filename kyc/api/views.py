"""Player KYC endpoints. Thin: validate, call one service, shape."""

from __future__ import annotations

from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle
from rest_framework.views import APIView

from common.idempotency import idempotent
from kyc import selectors, services
from kyc.documents import document_decode, document_inspect, documents_within_budget
from kyc.models import DocumentKind

from .serializers import ApplicationOut


class DocumentField(serializers.FileField):
    """An uploaded document, checked by its content (see kyc.documents)."""

    def __init__(self, *, kind: str, **kwargs):
        self.kind = kind
        # Emptiness is reported by document_inspect with the stable code empty_file.
        super().__init__(required=False, allow_empty_file=True, **kwargs)

    def to_internal_value(self, data):
        # The header only: nothing is decoded before the view's state check and budget.
        upload = super().to_internal_value(data)
        return document_inspect(upload=upload, kind=self.kind)


class KYCApplicationSubmitApi(APIView):
    """Submit documents. Order (issue 12): per-player throttle, the application-state check,
    each file's header (type, pixels, decoding cost), the request's decoding budget, and only
    then the decode and re-encode of images, then the locked submit."""

    parser_classes = [MultiPartParser, FormParser]
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "kyc_upload"

    class InputSerializer(serializers.Serializer):
        passport = DocumentField(kind=DocumentKind.PASSPORT)
        id_card = DocumentField(kind=DocumentKind.ID_CARD)
        driving_licence = DocumentField(kind=DocumentKind.DRIVING_LICENCE)
        proof_of_address = DocumentField(kind=DocumentKind.PROOF_OF_ADDRESS)
        selfie = DocumentField(kind=DocumentKind.SELFIE)
        full_name = serializers.CharField(max_length=200, required=False,
                                          help_text="as on the identity document")
        date_of_birth = serializers.DateField(required=False, help_text="YYYY-MM-DD")
        address = serializers.CharField(max_length=500, required=False,
                                        help_text="as on the proof of address")
        country = serializers.RegexField(r"^[A-Z]{2}\Z", required=False,
                                         help_text="ISO 3166-1 alpha-2 code, e.g. GB")

        def validate(self, attrs):
            raw = self.initial_data
            unknown = sorted(set(raw.keys()) - set(self.fields))
            if unknown:
                raise serializers.ValidationError(
                    {k: [serializers.ErrorDetail("Unknown document kind.", code="unknown_field")]
                     for k in unknown})
            for name in self.fields:
                if hasattr(raw, "getlist") and len(raw.getlist(name)) > 1:
                    raise serializers.ValidationError(
                        {str(name): [serializers.ErrorDetail("Send one file per document kind.",
                                                        code="too_many_files")]})
            return attrs

    @extend_schema(request={"multipart/form-data": InputSerializer},
                   responses={201: ApplicationOut, 200: ApplicationOut})
    @idempotent
    def post(self, request):
        services.kyc_application_submit_precheck(player=request.user)
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        identity = {k: data.pop(k) for k in services.IDENTITY_FIELDS if k in data}
        pending = [doc for doc in data.values() if doc is not None]
        documents_within_budget(pending)
        documents = [document_decode(doc) for doc in pending]
        application, created = services.kyc_application_submit(
            player=request.user, documents=documents, now=timezone.now(), identity=identity)
        return Response(ApplicationOut(application).data,
                        status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)


class KYCStatusApi(APIView):
    class OutputSerializer(serializers.Serializer):
        status = serializers.CharField()
        application_id = serializers.UUIDField(allow_null=True)
        aml_status = serializers.CharField()
        can_apply = serializers.BooleanField()
        reason = serializers.CharField()

    @extend_schema(responses=OutputSerializer)
    def get(self, request):
        return Response(self.OutputSerializer(selectors.kyc_status_get(player=request.user)).data)


class KYCApplicationDetailApi(APIView):
    @extend_schema(responses=ApplicationOut)
    def get(self, request, application_id):
        application = selectors.kyc_application_get(application_id=application_id,
                                                    player=request.user)
        return Response(ApplicationOut(application).data)
