"""Output shapes shared by the player and backoffice KYC views."""

from __future__ import annotations

from django.urls import reverse
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from kyc.selectors import aml_status_get, kyc_application_history


class DocumentOut(serializers.Serializer):
    id = serializers.UUIDField()
    kind = serializers.CharField()
    content_type = serializers.CharField()
    size = serializers.IntegerField()
    uploaded_at = serializers.DateTimeField()


class StaffDocumentOut(DocumentOut):
    sha256 = serializers.CharField()
    original_name = serializers.CharField()
    url = serializers.SerializerMethodField()

    def get_url(self, obj) -> str:
        return reverse("kyc-document-read", kwargs={"document_id": obj.pk})


class ApplicationOut(serializers.Serializer):
    application_id = serializers.UUIDField(source="pk")
    status = serializers.CharField()
    submitted_at = serializers.DateTimeField()
    decided_at = serializers.DateTimeField(allow_null=True)
    documents = DocumentOut(many=True, source="documents.all")


class HistoryOut(serializers.Serializer):
    at = serializers.DateTimeField()
    status = serializers.CharField()
    by = serializers.CharField(allow_null=True)
    reason = serializers.CharField()


class PlayerRef(serializers.Serializer):
    id = serializers.IntegerField()
    username = serializers.CharField()


class StaffApplicationOut(serializers.Serializer):
    application_id = serializers.UUIDField(source="pk")
    player = PlayerRef()
    status = serializers.CharField()
    reviewer = serializers.CharField(source="reviewer.username", allow_null=True, default=None)
    decision_reason = serializers.CharField()
    reapply_allowed = serializers.BooleanField()
    submitted_at = serializers.DateTimeField()
    decided_at = serializers.DateTimeField(allow_null=True)
    previous_application_id = serializers.UUIDField(source="previous_id", allow_null=True)
    full_name = serializers.CharField()
    date_of_birth = serializers.DateField(allow_null=True)
    address = serializers.CharField()
    country = serializers.CharField()
    documents = StaffDocumentOut(many=True, source="documents.all")


class StaffApplicationDetailOut(StaffApplicationOut):
    aml_status = serializers.SerializerMethodField()
    history = serializers.SerializerMethodField()

    def get_aml_status(self, obj) -> str:
        return aml_status_get(player_id=obj.player_id)

    @extend_schema_field(HistoryOut(many=True))
    def get_history(self, obj):
        return HistoryOut(kyc_application_history(application=obj), many=True).data
