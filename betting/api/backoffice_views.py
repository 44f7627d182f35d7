"""Trading backoffice of the sportsbook (trader role): events, prices, suspension, settlement."""

from __future__ import annotations

from decimal import Decimal

from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from users.permissions import IsTrader

from .. import services
from .views import MarketOutput, OddsField


class TraderApi(APIView):
    permission_classes = [IsTrader]


class EventCreateApi(TraderApi):
    class SelectionInput(serializers.Serializer):
        name = serializers.CharField(max_length=200)
        odds = OddsField()

    class MarketInput(serializers.Serializer):
        name = serializers.CharField(max_length=200)
        min_stake = serializers.DecimalField(max_digits=20, decimal_places=2, min_value=Decimal("0.01"),
                                             required=False)
        max_stake = serializers.DecimalField(max_digits=20, decimal_places=2, min_value=Decimal("0.01"),
                                             required=False)
        max_payout = serializers.DecimalField(max_digits=20, decimal_places=2, min_value=Decimal("0.01"),
                                              required=False)
        in_play = serializers.BooleanField(required=False, default=False)
        selections = serializers.ListField(allow_empty=False, max_length=100,
                                           child=serializers.DictField())

        def validate_selections(self, value):
            parsed = EventCreateApi.SelectionInput(data=value, many=True)
            parsed.is_valid(raise_exception=True)
            return parsed.validated_data

        def validate(self, attrs):
            low, high = attrs.get("min_stake"), attrs.get("max_stake")
            if low is not None and high is not None and high < low:
                raise serializers.ValidationError("max_stake must not be below min_stake.")
            return attrs

    class Input(serializers.Serializer):
        name = serializers.CharField(max_length=200)
        starts_at = serializers.DateTimeField()
        markets = serializers.ListField(allow_empty=False, max_length=100,
                                        child=serializers.DictField())
        reason = serializers.CharField(required=False, allow_blank=True, default="")

        def validate_markets(self, value):
            parsed = EventCreateApi.MarketInput(data=value, many=True)
            parsed.is_valid(raise_exception=True)
            return parsed.validated_data

    class Output(serializers.Serializer):
        id = serializers.IntegerField()
        name = serializers.CharField()
        starts_at = serializers.DateTimeField()
        markets = MarketOutput(many=True, source="markets.all")

    @extend_schema(request=Input, responses={201: Output})
    def post(self, request):
        data = self.Input(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        event = services.event_create(
            name=v["name"], starts_at=v["starts_at"], actor=request.user, reason=v["reason"],
            now=timezone.now(),
            markets=[
                services.MarketSpec(
                    name=m["name"], min_stake=m.get("min_stake"), max_stake=m.get("max_stake"),
                    max_payout=m.get("max_payout"), in_play=m["in_play"],
                    selections=[services.SelectionSpec(s["name"], s["odds"]) for s in m["selections"]],
                )
                for m in v["markets"]
            ],
        )
        return Response(self.Output(event).data, status=status.HTTP_201_CREATED)


class SelectionOddsUpdateApi(TraderApi):
    class Input(serializers.Serializer):
        odds = OddsField()
        reason = serializers.CharField(required=False, allow_blank=True, default="")

    class Output(serializers.Serializer):
        id = serializers.IntegerField()
        market_id = serializers.IntegerField()
        name = serializers.CharField()
        odds = OddsField()
        odds_version = serializers.IntegerField()

    @extend_schema(request=Input, responses=Output)
    def patch(self, request, selection_id):
        data = self.Input(data=request.data)
        data.is_valid(raise_exception=True)
        selection = services.selection_odds_update(
            selection_id=selection_id, odds=data.validated_data["odds"], actor=request.user,
            reason=data.validated_data["reason"], now=timezone.now(),
        )
        return Response(self.Output(selection).data)


class MarketReasonInput(serializers.Serializer):
    reason = serializers.CharField(required=False, allow_blank=True, default="")


class MarketStatusOutput(serializers.Serializer):
    id = serializers.IntegerField()
    event_id = serializers.IntegerField()
    name = serializers.CharField()
    status = serializers.CharField()
    settlement_version = serializers.IntegerField()
    winning_selection_ids = serializers.ListField(child=serializers.IntegerField())


class MarketSettleOutput(MarketStatusOutput):
    """Schema only: MarketSettleApi answers the market status plus `changed`."""

    changed = serializers.BooleanField()


class MarketSuspendApi(TraderApi):
    @extend_schema(request=MarketReasonInput, responses=MarketStatusOutput)
    def post(self, request, market_id):
        data = MarketReasonInput(data=request.data)
        data.is_valid(raise_exception=True)
        market = services.market_suspend(market_id=market_id, actor=request.user,
                                         reason=data.validated_data["reason"], now=timezone.now())
        return Response(MarketStatusOutput(market).data)


class MarketResumeApi(TraderApi):
    @extend_schema(request=MarketReasonInput, responses=MarketStatusOutput)
    def post(self, request, market_id):
        data = MarketReasonInput(data=request.data)
        data.is_valid(raise_exception=True)
        market = services.market_resume(market_id=market_id, actor=request.user,
                                        reason=data.validated_data["reason"], now=timezone.now())
        return Response(MarketStatusOutput(market).data)


class MarketSettleApi(TraderApi):
    class Input(serializers.Serializer):
        winning_selection_ids = serializers.ListField(
            child=serializers.IntegerField(min_value=1), required=False, default=list,
            max_length=100)
        void = serializers.BooleanField(required=False, default=False)
        reason = serializers.CharField(required=False, allow_blank=True, default="")

    @extend_schema(request=Input, responses={202: MarketSettleOutput})
    def post(self, request, market_id):
        data = self.Input(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        outcome = services.market_settle(
            market_id=market_id, winning_selection_ids=v["winning_selection_ids"], void=v["void"],
            actor=request.user, reason=v["reason"], now=timezone.now(),
        )
        body = {**MarketStatusOutput(outcome.market).data, "changed": outcome.changed}
        return Response(body, status=status.HTTP_202_ACCEPTED)
