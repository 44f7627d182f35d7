"""Staff API of the backoffice: manual adjustments (four eyes) and player search."""

from __future__ import annotations

from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.permissions import BasePermission
from rest_framework.response import Response
from rest_framework.views import APIView

from common.idempotency import idempotent
from common.money import AmountField, CurrencyField, MoneyInputMixin, format_amount, parse_amount

from .. import services
from ..selectors import player_search


def _perm(codename: str) -> type[BasePermission]:
    class HasBackofficePermission(BasePermission):
        message = "Your role does not allow this action."

        def has_permission(self, request, view) -> bool:
            u = request.user
            return bool(u and u.is_authenticated and u.is_active and u.is_staff
                        and u.has_perm(f"backoffice.{codename}"))

    HasBackofficePermission.__name__ = f"Has_{codename}"
    return HasBackofficePermission


class AdjustmentOut(serializers.Serializer):
    id = serializers.IntegerField()
    player_id = serializers.IntegerField()
    currency = serializers.CharField()
    amount = serializers.SerializerMethodField()
    status = serializers.CharField()
    reason = serializers.CharField()
    proposed_by = serializers.IntegerField(source="proposed_by_id")
    decided_by = serializers.IntegerField(source="decided_by_id", allow_null=True)
    decision_reason = serializers.CharField()
    ledger_transaction_id = serializers.IntegerField(allow_null=True)

    def get_amount(self, obj) -> str:
        sign = "-" if obj.amount < 0 else ""
        return f"{sign}{format_amount(abs(obj.amount), obj.currency)}"


class AdjustmentProposeApi(APIView):
    permission_classes = [_perm("propose_adjustment")]

    class Input(MoneyInputMixin, serializers.Serializer):
        player_id = serializers.IntegerField()
        amount = AmountField()
        currency = CurrencyField()
        direction = serializers.ChoiceField(choices=["credit", "debit"])
        reason = serializers.CharField(max_length=2000)

    @extend_schema(request=Input, responses={201: AdjustmentOut})
    @idempotent
    def post(self, request):
        data = self.Input(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        amount = v["amount_minor"] if v["direction"] == "credit" else -v["amount_minor"]
        adjustment = services.adjustment_propose(
            player_id=v["player_id"], currency=v["currency"], amount=amount, reason=v["reason"],
            actor=request.user, now=timezone.now(),
        )
        return Response(AdjustmentOut(adjustment).data, status=201)


class ReasonInput(serializers.Serializer):
    reason = serializers.CharField(max_length=2000)


class AdjustmentApproveApi(APIView):
    permission_classes = [_perm("approve_adjustment")]

    @extend_schema(request=ReasonInput, responses=AdjustmentOut)
    def post(self, request, adjustment_id: int):
        data = ReasonInput(data=request.data)
        data.is_valid(raise_exception=True)
        adjustment = services.adjustment_approve(
            adjustment_id=adjustment_id, actor=request.user,
            reason=data.validated_data["reason"], now=timezone.now())
        return Response(AdjustmentOut(adjustment).data)


class AdjustmentRejectApi(APIView):
    permission_classes = [_perm("approve_adjustment")]

    @extend_schema(request=ReasonInput, responses=AdjustmentOut)
    def post(self, request, adjustment_id: int):
        data = ReasonInput(data=request.data)
        data.is_valid(raise_exception=True)
        adjustment = services.adjustment_reject(
            adjustment_id=adjustment_id, actor=request.user,
            reason=data.validated_data["reason"], now=timezone.now())
        return Response(AdjustmentOut(adjustment).data)


class PlayerSearchApi(APIView):
    permission_classes = [_perm("view_player")]

    class Output(serializers.Serializer):
        id = serializers.IntegerField()
        username = serializers.CharField()
        email = serializers.EmailField()

    @extend_schema(responses=Output(many=True))
    def get(self, request):
        return Response(self.Output(player_search(q=request.query_params.get("q", "")),
                                    many=True).data)


class CallbackReviewOut(serializers.Serializer):
    callback_id = serializers.IntegerField()
    resolution = serializers.CharField()
    reason = serializers.CharField()
    reviewed_by = serializers.IntegerField(source="reviewed_by_id")
    reviewed_at = serializers.DateTimeField()
    adjustment_id = serializers.IntegerField(allow_null=True)


class CallbackResolveApi(APIView):
    """Resolve a provider callback that needs review; money due becomes a four-eyes credit."""

    permission_classes = [_perm("propose_adjustment")]

    class Input(serializers.Serializer):
        reason = serializers.CharField(max_length=2000)
        credit_amount = serializers.CharField(required=False, max_length=40)
        player_id = serializers.IntegerField(required=False)

    @extend_schema(request=Input, responses=CallbackReviewOut)
    def post(self, request, callback_id: int):
        data = self.Input(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        credit = None
        if "credit_amount" in v:
            currency = services.callback_currency(callback_id=callback_id)
            credit = parse_amount(v["credit_amount"], currency, field="credit_amount")
        review = services.callback_review_resolve(
            callback_id=callback_id, actor=request.user, reason=v["reason"],
            credit_amount=credit, player_id=v.get("player_id"), now=timezone.now())
        return Response(CallbackReviewOut(review).data)
