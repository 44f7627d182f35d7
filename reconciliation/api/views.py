"""Backoffice endpoints of reconciliation: findings, their resolution, read models with lag.

Thin views: validate, call one service or selector, shape the output.
"""

from __future__ import annotations

from django.utils import timezone
from drf_spectacular.utils import extend_schema, extend_schema_field, inline_serializer
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from common.money import format_amount
from reconciliation import selectors, services
from reconciliation.models import DiscrepancyKind, DiscrepancyStatus
from reconciliation.monitoring import lag_breaches, lag_snapshot
from users.permissions import HasRole, IsPayments
from users.roles import COMPLIANCE, PAYMENTS


class IsPaymentsOrCompliance(HasRole):
    roles = (PAYMENTS, COMPLIANCE)


class LagSerializer(serializers.Serializer):
    consumer = serializers.CharField()
    lag_seconds = serializers.FloatField()
    pending_events = serializers.IntegerField()
    lagging = serializers.BooleanField()
    threshold_seconds = serializers.IntegerField()


@extend_schema_field({"type": "string", "nullable": True, "example": "12.50"})
class Minor(serializers.Field):
    """An integer minor-units attribute rendered as the row currency's decimal string."""

    def __init__(self, attr: str, **kwargs):
        self.attr = attr
        super().__init__(source="*", read_only=True, **kwargs)

    def to_representation(self, obj):
        value = getattr(obj, self.attr)
        if value is None or not obj.currency:
            return None
        return format_amount(value, obj.currency)


class DiscrepancyOutput(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.CharField()
    status = serializers.CharField()
    subject = serializers.CharField()
    currency = serializers.CharField()
    player_id = serializers.IntegerField(allow_null=True)
    expected = Minor("expected")
    actual = Minor("actual")
    detail = serializers.JSONField()
    seen_count = serializers.IntegerField()
    detected_at = serializers.DateTimeField()
    last_seen_at = serializers.DateTimeField()
    resolution_reason = serializers.CharField()
    resolved_at = serializers.DateTimeField(allow_null=True)


class DiscrepancyListApi(APIView):
    permission_classes = [IsPaymentsOrCompliance]

    class FilterSerializer(serializers.Serializer):
        status = serializers.ChoiceField(choices=DiscrepancyStatus.choices, required=False)
        kind = serializers.ChoiceField(choices=DiscrepancyKind.choices, required=False)

    @extend_schema(parameters=[FilterSerializer], responses=DiscrepancyOutput(many=True))
    def get(self, request):
        filters = self.FilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        rows = selectors.discrepancy_list(**filters.validated_data)[:500]
        return Response(DiscrepancyOutput(rows, many=True).data)


class DiscrepancyInvestigateApi(APIView):
    permission_classes = [IsPayments]

    class InputSerializer(serializers.Serializer):
        reason = serializers.CharField(required=False, allow_blank=True, max_length=2000)

    @extend_schema(request=InputSerializer, responses=DiscrepancyOutput)
    def post(self, request, discrepancy_id: int):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        d = services.discrepancy_investigate(discrepancy_id=discrepancy_id, actor=request.user,
                                             reason=data.validated_data.get("reason", ""),
                                             now=timezone.now())
        return Response(DiscrepancyOutput(d).data)


class DiscrepancyResolveApi(APIView):
    permission_classes = [IsPayments]

    class InputSerializer(serializers.Serializer):
        reason = serializers.CharField(required=False, allow_blank=True, max_length=2000)

    @extend_schema(request=InputSerializer, responses=DiscrepancyOutput)
    def post(self, request, discrepancy_id: int):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        d = services.discrepancy_resolve(discrepancy_id=discrepancy_id, actor=request.user,
                                         reason=data.validated_data.get("reason", ""),
                                         now=timezone.now())
        return Response(DiscrepancyOutput(d).data)


class KpiListApi(APIView):
    permission_classes = [IsPaymentsOrCompliance]

    class FilterSerializer(serializers.Serializer):
        date_from = serializers.DateField(required=False)
        date_to = serializers.DateField(required=False)
        currency = serializers.CharField(required=False, max_length=8)

    class RowSerializer(serializers.Serializer):
        day = serializers.DateField()
        currency = serializers.CharField()
        deposits = Minor("deposits")
        withdrawals = Minor("withdrawals")
        stakes = Minor("stakes")
        payouts = Minor("payouts")
        ggr = Minor("ggr")
        active_players = serializers.IntegerField()

    class OutputSerializer(serializers.Serializer):
        lag = LagSerializer(source="lag.as_dict")
        results = serializers.SerializerMethodField()

        def get_results(self, obj):
            return KpiListApi.RowSerializer(obj.rows, many=True).data

    @extend_schema(parameters=[FilterSerializer], responses=OutputSerializer)
    def get(self, request):
        filters = self.FilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        result = selectors.operator_kpi_list(now=timezone.now(), **filters.validated_data)
        return Response(self.OutputSerializer(result).data)


class PlayerSummaryApi(APIView):
    permission_classes = [IsPaymentsOrCompliance]

    class RowSerializer(serializers.Serializer):
        currency = serializers.CharField()
        deposits = Minor("deposits")
        withdrawals = Minor("withdrawals")
        stakes = Minor("stakes")
        wins = Minor("wins")
        adjustments = Minor("adjustments")
        net = Minor("net")
        last_event_at = serializers.DateTimeField(allow_null=True)

    class OutputSerializer(serializers.Serializer):
        player_id = serializers.IntegerField()
        lag = LagSerializer(source="lag.as_dict")
        results = serializers.SerializerMethodField()

        def get_results(self, obj):
            return PlayerSummaryApi.RowSerializer(obj.rows, many=True).data

    @extend_schema(responses=OutputSerializer)
    def get(self, request, player_id: int):
        result = selectors.player_summary_get(player_id=player_id, now=timezone.now())
        payload = {"player_id": player_id, "lag": result.lag, "rows": result.rows}
        return Response(self.OutputSerializer(_Obj(**payload)).data)


# Schema only: the row serializers sit on the views, out of reach of the nested output
# serializers' class bodies, so the `results` getters are annotated here.
extend_schema_field(KpiListApi.RowSerializer(many=True))(KpiListApi.OutputSerializer.get_results)
extend_schema_field(PlayerSummaryApi.RowSerializer(many=True))(
    PlayerSummaryApi.OutputSerializer.get_results)


class _Obj:
    def __init__(self, **kw):
        self.__dict__.update(kw)


class LagApi(APIView):
    permission_classes = [IsPaymentsOrCompliance]

    @extend_schema(responses=inline_serializer("LagApiOutput", {
        "outbox_oldest_unsent_seconds": serializers.FloatField(),
        "outbox_unsent": serializers.IntegerField(),
        "queue_depth": serializers.IntegerField(allow_null=True),
        "replica_lag_seconds": serializers.FloatField(allow_null=True),
        "consumers": serializers.DictField(child=inline_serializer("LagApiConsumer", {
            "lag_seconds": serializers.FloatField(),
            "pending_events": serializers.IntegerField(),
        })),
        "breaches": inline_serializer("LagApiBreach", {
            "name": serializers.CharField(),
            "detail": serializers.CharField(),
        }, many=True),
    }))
    def get(self, request):
        snap = lag_snapshot(now=timezone.now())
        return Response({
            "outbox_oldest_unsent_seconds": round(snap.outbox_oldest_unsent_s, 3),
            "outbox_unsent": snap.outbox_unsent,
            "queue_depth": snap.queue_depth,
            "replica_lag_seconds": snap.replica_lag_s,
            "consumers": {n: {"lag_seconds": round(c.lag_seconds, 3),
                              "pending_events": c.pending_events}
                          for n, c in snap.consumers.items()},
            "breaches": [{"name": b.name, "detail": b.detail} for b in lag_breaches(snap)],
        })
