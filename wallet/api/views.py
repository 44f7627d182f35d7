"""Player and provider endpoints of the wallet. Thin: validate, call one service, shape."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    extend_schema,
    extend_schema_field,
    inline_serializer,
)
from rest_framework import serializers, status
from rest_framework.pagination import CursorPagination
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from common.errors import BadRequest
from common.idempotency import idempotent
from common.money import AmountField, CurrencyField, MoneyInputMixin, format_amount
from users.permissions import IsPayments
from wallet import refunds, selectors, services
from wallet.fees import fee_quote
from wallet.models import FeeBearer, FeeOperation, PaymentProvider
from wallet.providers import signature_verify


@extend_schema_field(OpenApiTypes.STR)
class Money(serializers.Field):
    """Minor units out as the currency's decimal string (reads `currency` from the row)."""

    def __init__(self, **kwargs):
        kwargs["source"] = kwargs.get("source", "*")
        kwargs["read_only"] = True
        self.amount_attr = kwargs.pop("amount_attr", "amount")
        super().__init__(**kwargs)

    def to_representation(self, obj):
        get: Callable[[str], Any] = obj.get if isinstance(obj, dict) else lambda k: getattr(obj, k)
        return format_amount(get(self.amount_attr), get("currency"))


class WalletListApi(APIView):
    class OutputSerializer(serializers.Serializer):
        currency = serializers.CharField()
        available = Money(amount_attr="available")
        reserved = Money(amount_attr="reserved")
        bonus = Money(amount_attr="bonus")

    @extend_schema(responses=OutputSerializer(many=True))
    def get(self, request):
        rows = selectors.wallet_list(player=request.user)
        return Response(self.OutputSerializer(rows, many=True).data)


class LedgerCursor(CursorPagination):
    ordering = "-id"
    page_size = 50
    max_page_size = 200
    page_size_query_param = "page_size"


class WalletTransactionListApi(APIView):
    class OutputSerializer(serializers.Serializer):
        id = serializers.IntegerField()
        created_at = serializers.DateTimeField()
        kind = serializers.CharField(source="transaction.kind")
        account = serializers.CharField(source="account.kind")
        currency = serializers.CharField()
        amount = Money()
        balance_after = serializers.SerializerMethodField()
        reference = serializers.CharField(source="transaction.reference")

        def get_balance_after(self, obj) -> str:
            return format_amount(obj.balance_after, obj.currency)

    @extend_schema(
        parameters=[OpenApiParameter("cursor", str, description="opaque cursor from next/previous"),
                    OpenApiParameter("page_size", int, description="1-200, default 50")],
        responses=inline_serializer("WalletTransactionPage", {
            "next": serializers.URLField(allow_null=True),
            "previous": serializers.URLField(allow_null=True),
            "results": OutputSerializer(many=True),
        }),
    )
    def get(self, request):
        paginator = LedgerCursor()
        page = paginator.paginate_queryset(selectors.entry_list(player=request.user), request, self)
        return paginator.get_paginated_response(self.OutputSerializer(page, many=True).data)


class FeeFieldsMixin(serializers.Serializer):
    """The fee quoted when the operation was opened (docs/refunds-fees-affiliates.md)."""

    fee = Money(amount_attr="fee_amount")
    fee_bearer = serializers.CharField(help_text='"player", "operator", or "" (no fee)')
    net_amount = serializers.SerializerMethodField(
        help_text="What the player is credited (deposit) or the destination receives")

    def get_net_amount(self, obj) -> str:
        net = obj.amount - obj.fee_amount if obj.fee_bearer == FeeBearer.PLAYER else obj.amount
        return format_amount(net, obj.currency)


class DepositOut(FeeFieldsMixin, serializers.Serializer):
    id = serializers.UUIDField()
    status = serializers.CharField()
    amount = Money()
    currency = serializers.CharField()
    provider = serializers.CharField()
    created_at = serializers.DateTimeField()


class DepositCreateApi(APIView):
    class InputSerializer(MoneyInputMixin, serializers.Serializer):
        amount = AmountField()
        currency = CurrencyField()
        provider = serializers.ChoiceField(choices=PaymentProvider.choices)

    @extend_schema(request=InputSerializer, responses={201: DepositOut})
    @idempotent
    def post(self, request):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        deposit = services.deposit_create(
            player=request.user, amount=data.validated_data["amount_minor"],
            currency=data.validated_data["currency"], provider=data.validated_data["provider"],
            now=timezone.now(),
        )
        return Response(DepositOut(deposit).data, status=status.HTTP_201_CREATED)

    @extend_schema(responses=DepositOut(many=True))
    def get(self, request):
        return Response(DepositOut(selectors.deposit_list(player=request.user)[:100], many=True).data)


class DepositDetailApi(APIView):
    @extend_schema(responses=DepositOut)
    def get(self, request, deposit_id):
        deposit = selectors.deposit_get(player=request.user, deposit_id=deposit_id)
        return Response(DepositOut(deposit).data)


class WithdrawalOut(FeeFieldsMixin, serializers.Serializer):
    id = serializers.UUIDField()
    status = serializers.CharField()
    amount = Money()
    currency = serializers.CharField()
    destination = serializers.CharField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


class FeeQuoteApi(APIView):
    """What a deposit or withdrawal of `amount` would cost the player, before they confirm."""

    class InputSerializer(MoneyInputMixin, serializers.Serializer):
        operation = serializers.ChoiceField(choices=[FeeOperation.DEPOSIT, FeeOperation.WITHDRAWAL])
        amount = AmountField()
        currency = CurrencyField()
        provider = serializers.ChoiceField(choices=PaymentProvider.choices,
                                           default=PaymentProvider.SANDBOX)

    class OutputSerializer(serializers.Serializer):
        operation = serializers.CharField()
        provider = serializers.CharField()
        currency = serializers.CharField()
        amount = serializers.CharField()
        fee = serializers.CharField()
        fee_bearer = serializers.CharField()
        net_amount = serializers.CharField()

    @extend_schema(parameters=[InputSerializer], responses=OutputSerializer)
    def get(self, request):
        data = self.InputSerializer(data=request.query_params)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        quote = fee_quote(provider=v["provider"], operation=v["operation"], currency=v["currency"],
                          amount=v["amount_minor"])
        cur = v["currency"]
        return Response(self.OutputSerializer({
            "operation": v["operation"], "provider": v["provider"], "currency": cur,
            "amount": format_amount(quote.amount, cur), "fee": format_amount(quote.fee, cur),
            "fee_bearer": quote.bearer, "net_amount": format_amount(quote.net, cur),
        }).data)


class WithdrawalCreateApi(APIView):
    class InputSerializer(MoneyInputMixin, serializers.Serializer):
        amount = AmountField()
        currency = CurrencyField()
        destination = serializers.CharField(max_length=200)
        # A withdrawal forfeits an open bonus: without this flag it is refused (409
        # bonus_forfeit_confirmation_required, naming the amount), see docs/bonuses.md.
        forfeit_bonus = serializers.BooleanField(required=False, default=False)

    @extend_schema(request=InputSerializer, responses={201: WithdrawalOut})
    @idempotent
    def post(self, request):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        withdrawal = services.withdrawal_request(
            player=request.user, amount=data.validated_data["amount_minor"],
            currency=data.validated_data["currency"],
            destination=data.validated_data["destination"], now=timezone.now(),
            forfeit_bonus=data.validated_data["forfeit_bonus"],
        )
        return Response(WithdrawalOut(withdrawal).data, status=status.HTTP_201_CREATED)

    @extend_schema(responses=WithdrawalOut(many=True))
    def get(self, request):
        rows = selectors.withdrawal_list(player=request.user)[:100]
        return Response(WithdrawalOut(rows, many=True).data)


class WithdrawalDetailApi(APIView):
    @extend_schema(responses=WithdrawalOut)
    def get(self, request, withdrawal_id):
        withdrawal = selectors.withdrawal_get(player=request.user, withdrawal_id=withdrawal_id)
        return Response(WithdrawalOut(withdrawal).data)


class WithdrawalCancelApi(APIView):
    @extend_schema(request=None, responses=WithdrawalOut)
    @idempotent
    def post(self, request, withdrawal_id):
        withdrawal = services.withdrawal_cancel(
            withdrawal_id=withdrawal_id, player=request.user, now=timezone.now()
        )
        return Response(WithdrawalOut(withdrawal).data)


class ProviderWebhookApi(APIView):
    """Signed provider callbacks. Authentication is the signature, not a user."""

    authentication_classes: list = []
    permission_classes = [AllowAny]

    @extend_schema(request=None, responses={200: dict})
    def post(self, request, provider):
        raw = request.body
        signature_verify(provider=provider, header=request.headers.get("X-Signature"), body=raw,
                         now_ts=int(timezone.now().timestamp()))
        try:
            payload = json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            raise BadRequest("The body is not valid JSON.", code="invalid_payload") from None
        data = services.callback_parse(payload)
        result = services.provider_callback_apply(
            provider=provider, data=data, payload=payload, now=timezone.now()
        )
        return Response(result.body, status=result.status_code)


class WithdrawalDecisionInput(serializers.Serializer):
    reason = serializers.CharField(required=False, allow_blank=True, max_length=2000, default="")


class WithdrawalApproveApi(APIView):
    permission_classes = [IsPayments]

    @extend_schema(request=WithdrawalDecisionInput, responses=WithdrawalOut)
    def post(self, request, withdrawal_id):
        data = WithdrawalDecisionInput(data=request.data)
        data.is_valid(raise_exception=True)
        withdrawal = services.withdrawal_approve(
            withdrawal_id=withdrawal_id, actor=request.user,
            reason=data.validated_data["reason"], now=timezone.now(),
        )
        return Response(WithdrawalOut(withdrawal).data)


class WithdrawalRejectApi(APIView):
    permission_classes = [IsPayments]

    @extend_schema(request=WithdrawalDecisionInput, responses=WithdrawalOut)
    def post(self, request, withdrawal_id):
        data = WithdrawalDecisionInput(data=request.data)
        data.is_valid(raise_exception=True)
        withdrawal = services.withdrawal_reject(
            withdrawal_id=withdrawal_id, actor=request.user,
            reason=data.validated_data["reason"], now=timezone.now(),
        )
        return Response(WithdrawalOut(withdrawal).data)


# --- refunds (backoffice, payments role) --------------------------------------------------------


class RefundOut(FeeFieldsMixin, serializers.Serializer):
    id = serializers.UUIDField()
    deposit_id = serializers.UUIDField()
    player_id = serializers.IntegerField()
    status = serializers.CharField()
    amount = Money()
    currency = serializers.CharField()
    provider = serializers.CharField()
    reason = serializers.CharField()
    requested_by = serializers.IntegerField(source="requested_by_id")
    approved_by = serializers.IntegerField(source="approved_by_id", allow_null=True)
    failure_reason = serializers.CharField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


class RefundCreateApi(APIView):
    permission_classes = [IsPayments]

    class InputSerializer(MoneyInputMixin, serializers.Serializer):
        deposit_id = serializers.UUIDField()
        amount = AmountField()
        currency = CurrencyField()
        reason = serializers.CharField(max_length=2000)

    @extend_schema(request=InputSerializer, responses={201: RefundOut})
    @idempotent
    def post(self, request):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        deposit = selectors.deposit_for_refund(deposit_id=v["deposit_id"])
        if deposit.currency != v["currency"]:
            raise BadRequest(f"The deposit is in {deposit.currency}.", code="currency_mismatch")
        refund = refunds.refund_request(
            deposit_id=deposit.pk, amount=v["amount_minor"], reason=v["reason"],
            actor=request.user, now=timezone.now(),
        )
        return Response(RefundOut(refund).data, status=status.HTTP_201_CREATED)


class RefundDetailApi(APIView):
    permission_classes = [IsPayments]

    @extend_schema(responses=RefundOut)
    def get(self, request, refund_id):
        refund = selectors.refund_get(refund_id=refund_id)
        return Response(RefundOut(refund).data)


class RefundApproveApi(APIView):
    permission_classes = [IsPayments]

    @extend_schema(request=WithdrawalDecisionInput, responses=RefundOut)
    def post(self, request, refund_id):
        data = WithdrawalDecisionInput(data=request.data)
        data.is_valid(raise_exception=True)
        refund = refunds.refund_approve(refund_id=refund_id, actor=request.user,
                                        reason=data.validated_data["reason"], now=timezone.now())
        return Response(RefundOut(refund).data)


class RefundRejectApi(APIView):
    permission_classes = [IsPayments]

    @extend_schema(request=WithdrawalDecisionInput, responses=RefundOut)
    def post(self, request, refund_id):
        data = WithdrawalDecisionInput(data=request.data)
        data.is_valid(raise_exception=True)
        refund = refunds.refund_reject(refund_id=refund_id, actor=request.user,
                                       reason=data.validated_data["reason"], now=timezone.now())
        return Response(RefundOut(refund).data)
