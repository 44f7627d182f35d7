"""Bonus API: the player's own bonuses; staff campaigns, manual grants and forfeits."""

from __future__ import annotations

from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from common.idempotency import idempotent
from common.money import CurrencyField, currency_get, format_amount, parse_amount

from .. import selectors, services
from ..models import Trigger
from ..permissions import CanForfeit, CanGrant, CanManageCampaigns


def _money(value, currency):
    return None if value is None else format_amount(value, currency)


class BonusOut(serializers.Serializer):
    id = serializers.UUIDField(source="bonus.id")
    campaign = serializers.CharField()
    currency = serializers.CharField(source="bonus.currency")
    status = serializers.CharField(source="bonus.status")
    amount = serializers.SerializerMethodField()
    balance = serializers.SerializerMethodField()
    wagering_required = serializers.SerializerMethodField()
    wagered = serializers.SerializerMethodField()
    progress_percent = serializers.IntegerField()
    max_bet = serializers.SerializerMethodField()
    max_conversion = serializers.SerializerMethodField()
    converted_amount = serializers.SerializerMethodField()
    forfeited_amount = serializers.SerializerMethodField()
    expires_at = serializers.DateTimeField(source="bonus.expires_at")
    created_at = serializers.DateTimeField(source="bonus.created_at")
    closed_at = serializers.DateTimeField(source="bonus.closed_at", allow_null=True)

    def _m(self, row, attr) -> str | None:
        return _money(getattr(row["bonus"], attr), row["bonus"].currency)

    def get_amount(self, row) -> str:
        return self._m(row, "amount")

    def get_balance(self, row) -> str:
        return format_amount(row["balance"], row["bonus"].currency)

    def get_wagering_required(self, row) -> str:
        return self._m(row, "wagering_required")

    def get_wagered(self, row) -> str:
        return self._m(row, "wagered")

    def get_max_bet(self, row) -> str | None:
        return self._m(row, "max_bet")

    def get_max_conversion(self, row) -> str | None:
        return self._m(row, "max_conversion")

    def get_converted_amount(self, row) -> str:
        return self._m(row, "converted_amount")

    def get_forfeited_amount(self, row) -> str:
        return self._m(row, "forfeited_amount")


class BonusListApi(APIView):
    """The player's own bonuses, newest first, with wagering progress."""

    @extend_schema(responses=BonusOut(many=True))
    def get(self, request):
        return Response(BonusOut(selectors.bonus_rows(player_id=request.user.pk)[:100], many=True).data)


# --- staff ---------------------------------------------------------------------------------------


class CampaignOut(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    trigger = serializers.CharField()
    currency = serializers.CharField()
    percent = serializers.IntegerField(allow_null=True)
    cap = serializers.SerializerMethodField()
    fixed_amount = serializers.SerializerMethodField()
    min_deposit = serializers.SerializerMethodField()
    wagering_multiple = serializers.IntegerField()
    contribution_sportsbook = serializers.IntegerField()
    contribution_casino = serializers.IntegerField()
    contribution_games = serializers.DictField(child=serializers.IntegerField())
    contribution_game_default = serializers.IntegerField()
    max_bet = serializers.SerializerMethodField()
    max_conversion = serializers.SerializerMethodField()
    valid_days = serializers.IntegerField()
    active = serializers.BooleanField()

    def get_cap(self, c) -> str | None:
        return _money(c.cap, c.currency)

    def get_fixed_amount(self, c) -> str | None:
        return _money(c.fixed_amount, c.currency)

    def get_min_deposit(self, c) -> str:
        return _money(c.min_deposit, c.currency)

    def get_max_bet(self, c) -> str | None:
        return _money(c.max_bet, c.currency)

    def get_max_conversion(self, c) -> str | None:
        return _money(c.max_conversion, c.currency)


_AMOUNT_FIELDS = ("cap", "fixed_amount", "min_deposit", "max_bet", "max_conversion")


class CampaignApi(APIView):
    permission_classes = [CanManageCampaigns]

    class InputSerializer(serializers.Serializer):
        name = serializers.CharField(max_length=120)
        trigger = serializers.ChoiceField(choices=Trigger.choices)
        currency = CurrencyField()
        percent = serializers.IntegerField(required=False, allow_null=True, min_value=1, max_value=1000)
        cap = serializers.CharField(required=False, allow_null=True)
        fixed_amount = serializers.CharField(required=False, allow_null=True)
        min_deposit = serializers.CharField(required=False, allow_null=True)
        wagering_multiple = serializers.IntegerField(min_value=1, max_value=1000, default=30)
        contribution_sportsbook = serializers.IntegerField(min_value=0, max_value=100, default=100)
        contribution_casino = serializers.IntegerField(min_value=0, max_value=100, default=100)
        contribution_games = serializers.DictField(
            child=serializers.IntegerField(min_value=0, max_value=100), default=dict)
        contribution_game_default = serializers.IntegerField(min_value=0, max_value=100, default=100)
        max_bet = serializers.CharField(required=False, allow_null=True)
        max_conversion = serializers.CharField(required=False, allow_null=True)
        valid_days = serializers.IntegerField(min_value=1, max_value=3650, default=30)
        active = serializers.BooleanField(default=True)

        def validate(self, attrs):
            currency_get(attrs["currency"])
            for name in _AMOUNT_FIELDS:
                if attrs.get(name) is not None:
                    attrs[name] = parse_amount(attrs[name], attrs["currency"], field=name,
                                               allow_zero=name in ("min_deposit", "max_conversion"))
            if attrs.get("min_deposit") is None:
                attrs.pop("min_deposit", None)
            return attrs

    @extend_schema(responses=CampaignOut(many=True))
    def get(self, request):
        return Response(CampaignOut(selectors.campaign_list()[:200], many=True).data)

    @extend_schema(request=InputSerializer, responses={201: CampaignOut})
    def post(self, request):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        campaign = services.campaign_create(actor=request.user, now=timezone.now(),
                                            **data.validated_data)
        return Response(CampaignOut(campaign).data, status=status.HTTP_201_CREATED)


class StaffBonusOut(serializers.Serializer):
    id = serializers.UUIDField()
    player_id = serializers.IntegerField()
    campaign_id = serializers.IntegerField()
    currency = serializers.CharField()
    status = serializers.CharField()
    amount = serializers.SerializerMethodField()
    forfeited_amount = serializers.SerializerMethodField()
    converted_amount = serializers.SerializerMethodField()
    reason = serializers.CharField()
    closed_reason = serializers.CharField()

    def get_amount(self, pb) -> str:
        return format_amount(pb.amount, pb.currency)

    def get_forfeited_amount(self, pb) -> str:
        return format_amount(pb.forfeited_amount, pb.currency)

    def get_converted_amount(self, pb) -> str:
        return format_amount(pb.converted_amount, pb.currency)


class BonusGrantApi(APIView):
    """Grant a bonus by hand, with a reason (optional amount: else the campaign's fixed one)."""

    permission_classes = [CanGrant]

    class InputSerializer(serializers.Serializer):
        player_id = serializers.IntegerField()
        campaign_id = serializers.IntegerField()
        amount = serializers.CharField(required=False, allow_null=True)
        reason = serializers.CharField(max_length=2000)

    @extend_schema(request=InputSerializer, responses={201: StaffBonusOut})
    @idempotent
    def post(self, request):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        amount = None
        if v.get("amount") is not None:
            campaign = selectors.campaign_list().filter(pk=v["campaign_id"]).first()
            if campaign is not None:
                amount = parse_amount(v["amount"], campaign.currency)
        bonus = services.bonus_grant_manual(
            player_id=v["player_id"], campaign_id=v["campaign_id"], amount=amount,
            reason=v["reason"], actor=request.user, now=timezone.now())
        return Response(StaffBonusOut(bonus).data, status=status.HTTP_201_CREATED)


class BonusForfeitApi(APIView):
    permission_classes = [CanForfeit]

    class InputSerializer(serializers.Serializer):
        reason = serializers.CharField(max_length=2000)

    @extend_schema(request=InputSerializer, responses=StaffBonusOut)
    @idempotent
    def post(self, request, bonus_id):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        bonus = services.bonus_forfeit(bonus_id=bonus_id, actor=request.user,
                                       reason=data.validated_data["reason"], now=timezone.now())
        return Response(StaffBonusOut(bonus).data)
