"""Player API of the sportsbook: thin views, one service or selector call each."""

from __future__ import annotations

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
from rest_framework.response import Response
from rest_framework.views import APIView

from common.idempotency import idempotent
from common.money import AmountField, CurrencyField, format_amount, parse_amount

from .. import selectors, services
from ..models import Bet, OddsChangePolicy
from ..odds import odds_str, parse_odds, payout_round_down


@extend_schema_field({"type": "string", "example": "3.20"})
class OddsField(serializers.Field):
    """Odds as a decimal string ("3.20"); anything else is 400 invalid_odds."""

    def to_internal_value(self, data):
        return parse_odds(data)

    def to_representation(self, value):
        return odds_str(value)


class SelectionOutput(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    odds = OddsField()
    odds_version = serializers.IntegerField()


class MarketOutput(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    status = serializers.CharField()
    min_stake = serializers.DecimalField(max_digits=20, decimal_places=2)
    max_stake = serializers.DecimalField(max_digits=20, decimal_places=2)
    max_payout = serializers.DecimalField(max_digits=20, decimal_places=2)
    in_play = serializers.BooleanField()
    selections = SelectionOutput(many=True)


class EventOutput(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    starts_at = serializers.DateTimeField()
    markets = MarketOutput(many=True)


class EventListApi(APIView):
    @extend_schema(responses=EventOutput(many=True))
    def get(self, request):
        events = selectors.event_list()
        return Response(EventOutput(events, many=True).data)


class BetLegOutput(serializers.Serializer):
    selection_id = serializers.IntegerField()
    selection = serializers.CharField(source="selection.name")
    market_id = serializers.IntegerField()
    market = serializers.CharField(source="market.name")
    event_id = serializers.IntegerField()
    event = serializers.CharField(source="event.name")
    requested_odds = OddsField()
    accepted_odds = OddsField()
    odds_version = serializers.IntegerField()
    result = serializers.CharField()


class BetOutput(serializers.Serializer):
    id = serializers.UUIDField()
    kind = serializers.CharField()
    status = serializers.CharField()
    currency = serializers.CharField()
    stake = serializers.SerializerMethodField()
    accepted_odds = OddsField()
    odds_change = serializers.CharField()
    potential_payout = serializers.SerializerMethodField()
    payout = serializers.SerializerMethodField()
    legs = BetLegOutput(many=True)
    created_at = serializers.DateTimeField()
    settled_at = serializers.DateTimeField(allow_null=True)

    def get_stake(self, bet: Bet) -> str:
        return format_amount(bet.stake, bet.currency)

    def get_potential_payout(self, bet: Bet) -> str:
        return format_amount(payout_round_down(bet.stake, bet.accepted_odds), bet.currency)

    def get_payout(self, bet: Bet) -> str | None:
        return None if bet.payout is None else format_amount(bet.payout, bet.currency)


class BetPagination(CursorPagination):
    ordering = ("-created_at", "-id")
    page_size = 50


class BetListCreateApi(APIView):
    class LegInput(serializers.Serializer):
        selection_id = serializers.IntegerField(min_value=1)
        odds = OddsField()

    class Input(serializers.Serializer):
        # A single: selection_id + odds. An accumulator: legs.
        selection_id = serializers.IntegerField(min_value=1, required=False)
        odds = OddsField(required=False)
        legs = serializers.ListField(child=serializers.DictField(), required=False,
                                     allow_empty=False)
        stake = AmountField()
        currency = CurrencyField()
        odds_change = serializers.ChoiceField(choices=OddsChangePolicy.choices,
                                              default=OddsChangePolicy.NONE)

        def validate(self, attrs):
            single = "selection_id" in attrs or "odds" in attrs
            if single == ("legs" in attrs):
                raise serializers.ValidationError(
                    "Give selection_id and odds for a single, or legs for an accumulator.")
            if single:
                if "selection_id" not in attrs or "odds" not in attrs:
                    raise serializers.ValidationError("A single needs selection_id and odds.")
                legs = [services.LegRequest(attrs["selection_id"], attrs["odds"])]
            else:
                parsed = BetListCreateApi.LegInput(data=attrs["legs"], many=True)
                parsed.is_valid(raise_exception=True)
                legs = [services.LegRequest(leg["selection_id"], leg["odds"])
                        for leg in parsed.validated_data]
            attrs["leg_requests"] = legs
            attrs["stake_minor"] = parse_amount(attrs["stake"], attrs["currency"], field="stake")
            return attrs

    @extend_schema(
        operation_id="v1_betting_bets_list",
        parameters=[OpenApiParameter("cursor", OpenApiTypes.STR, required=False,
                                     description="The pagination cursor value.")],
        responses=inline_serializer("PaginatedBetOutputList", {
            "next": serializers.URLField(allow_null=True),
            "previous": serializers.URLField(allow_null=True),
            "results": BetOutput(many=True),
        }),
    )
    def get(self, request):
        paginator = BetPagination()
        page = paginator.paginate_queryset(selectors.bet_list(player=request.user), request, view=self)
        return paginator.get_paginated_response(BetOutput(page, many=True).data)

    @extend_schema(request=Input, responses={201: BetOutput})
    @idempotent
    def post(self, request):
        data = self.Input(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        bet = services.bet_place(
            player=request.user, legs=v["leg_requests"], stake=v["stake_minor"],
            currency=v["currency"], odds_change=v["odds_change"], now=timezone.now(),
        )
        # The service returns the bet with its legs as accepted: no read-back.
        return Response(BetOutput(bet).data, status=status.HTTP_201_CREATED)


class BetDetailApi(APIView):
    @extend_schema(responses=BetOutput)
    def get(self, request, bet_id):
        bet = selectors.bet_get(player=request.user, bet_id=bet_id)
        return Response(BetOutput(bet).data)
