"""Input and output shapes of the responsible-gambling API. Amounts are decimal strings."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from common.money import AmountField, CurrencyField, format_amount, parse_amount

from ..models import ExclusionKind, LimitKind, LimitPeriod


@extend_schema_field(OpenApiTypes.STR)
class LimitValue(serializers.Field):
    """A money limit as its currency's decimal string; a session-time limit in minutes."""

    def __init__(self, attr: str, **kwargs):
        self.attr = attr
        kwargs["source"] = "*"
        kwargs["read_only"] = True
        super().__init__(**kwargs)

    def to_representation(self, limit):
        value = getattr(limit, self.attr)
        if value is None:
            return None
        if limit.kind == LimitKind.SESSION_TIME:
            return str(value // 60)
        return format_amount(value, limit.currency)


class LimitOut(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.CharField()
    period = serializers.CharField()
    currency = serializers.CharField()
    source = serializers.CharField()
    status = serializers.CharField()
    amount = LimitValue("amount", help_text="decimal string; minutes for session_time")
    pending_amount = LimitValue("pending_amount", allow_null=True,
                                help_text="null while pending: a removal")
    pending_effective_at = serializers.DateTimeField(allow_null=True)
    reason = serializers.CharField()
    updated_at = serializers.DateTimeField()


class LimitChangeOut(serializers.Serializer):
    effect = serializers.ChoiceField(choices=["applied", "pending"])
    limit = LimitOut()


class LimitIn(serializers.Serializer):
    """`amount` (decimal string, with `currency`) for deposit, loss and wager limits;
    `minutes` for session_time; `remove: true` to remove."""

    kind = serializers.ChoiceField(choices=LimitKind.choices)
    period = serializers.ChoiceField(choices=LimitPeriod.choices)
    currency = CurrencyField(required=False)
    amount = AmountField(required=False)
    minutes = serializers.IntegerField(required=False, min_value=0, max_value=60 * 24 * 31)
    remove = serializers.BooleanField(required=False, default=False)

    def validate(self, attrs):
        kind, remove = attrs["kind"], attrs.get("remove", False)
        if kind == LimitKind.SESSION_TIME:
            if "currency" in attrs or "amount" in attrs:
                raise serializers.ValidationError(
                    {"minutes": ["A session-time limit takes minutes, not an amount."]},
                    code="invalid_limit")
            if remove == ("minutes" in attrs):
                raise serializers.ValidationError(
                    {"minutes": ["Give minutes, or remove: true."]}, code="invalid_limit")
            attrs["currency"] = ""
            attrs["value"] = None if remove else attrs["minutes"] * 60
            return attrs
        if "currency" not in attrs:
            raise serializers.ValidationError({"currency": ["This field is required."]},
                                              code="required")
        if "minutes" in attrs or remove == ("amount" in attrs):
            raise serializers.ValidationError(
                {"amount": ["Give an amount, or remove: true."]}, code="invalid_limit")
        attrs["value"] = None if remove else parse_amount(attrs["amount"], attrs["currency"],
                                                          allow_zero=True)
        return attrs


class StaffLimitIn(LimitIn):
    remove = None
    reason = serializers.CharField(max_length=4000)

    def validate(self, attrs):
        attrs["remove"] = False
        return super().validate(attrs)


class ExclusionOut(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.CharField()
    source = serializers.CharField()
    status = serializers.CharField()
    starts_at = serializers.DateTimeField()
    ends_at = serializers.DateTimeField(allow_null=True)
    return_requested_at = serializers.DateTimeField(allow_null=True)
    reopen_at = serializers.DateTimeField(allow_null=True)
    ended_at = serializers.DateTimeField(allow_null=True)
    reason = serializers.CharField()


class TimeoutIn(serializers.Serializer):
    days = serializers.IntegerField()


class SelfExclusionIn(serializers.Serializer):
    months = serializers.IntegerField(required=False)
    indefinite = serializers.BooleanField(required=False, default=False)


class StaffExclusionIn(serializers.Serializer):
    kind = serializers.ChoiceField(choices=ExclusionKind.choices)
    days = serializers.IntegerField(required=False)
    months = serializers.IntegerField(required=False)
    indefinite = serializers.BooleanField(required=False, default=False)
    reason = serializers.CharField(max_length=4000)


class ReasonIn(serializers.Serializer):
    reason = serializers.CharField(max_length=4000)


class RealityCheckIn(serializers.Serializer):
    interval_s = serializers.IntegerField(allow_null=True)


class LimitPromptIn(serializers.Serializer):
    answer = serializers.ChoiceField(choices=["set_limits", "declined"])


class RGHistoryOut(serializers.Serializer):
    object = serializers.CharField()
    object_id = serializers.IntegerField()
    at = serializers.DateTimeField()
    by = serializers.CharField(allow_null=True)
    status = serializers.CharField(allow_null=True)
    amount = serializers.IntegerField(allow_null=True)
    reason = serializers.CharField(allow_null=True)


class StatusOut(serializers.Serializer):
    gambling_allowed = serializers.BooleanField()
    marketing_allowed = serializers.BooleanField()
    blocked_by = serializers.CharField(allow_null=True)
    limits = LimitOut(many=True)
    effective_limits = LimitOut(many=True)
    exclusions = ExclusionOut(many=True)
    reality_check_interval_s = serializers.IntegerField(allow_null=True)
    external_excluded = serializers.BooleanField()
    limit_prompt = serializers.DictField()


class StaffStatusOut(StatusOut):
    history = RGHistoryOut(many=True)
