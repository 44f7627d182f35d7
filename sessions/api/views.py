"""Game session endpoints (players and staff). Thin: validate, call one service, shape."""

from __future__ import annotations

from django.conf import settings
from django.utils import timezone
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from common.idempotency import idempotent
from common.money import CurrencyField, format_amount
from users.permissions import IsSupport

from .. import selectors, services
from ..models import Game, GameSession


@extend_schema_field({"type": "string", "enum": Game.values})
class GameField(serializers.CharField):
    """A game name; the service refuses an unknown one (400 unknown_game)."""


class RoundOut(serializers.Serializer):
    round_id = serializers.UUIDField(source="client_round_id")
    status = serializers.CharField()
    card = serializers.IntegerField()
    stake = serializers.SerializerMethodField()

    def get_stake(self, rnd) -> str:
        return format_amount(rnd.stake, rnd.currency)


class SessionOut(serializers.Serializer):
    id = serializers.UUIDField()
    player_id = serializers.IntegerField()
    game = GameField()
    currency = serializers.CharField()
    status = serializers.CharField()
    close_reason = serializers.CharField()
    started_at = serializers.DateTimeField()
    last_heartbeat_at = serializers.DateTimeField()
    closed_at = serializers.DateTimeField(allow_null=True)
    open_round = serializers.SerializerMethodField()

    def get_open_round(self, session) -> dict | None:
        rnd = selectors.game_round_open_or_none(session_id=session.pk)
        return RoundOut(rnd).data if rnd else None


def _ws_url(request, session: GameSession) -> str:
    token = services.ws_token(session_id=session.pk)
    base = settings.WEBSOCKET_BASE_URL.rstrip("/")
    if not base:
        base = f"{'wss' if request.is_secure() else 'ws'}://{request.get_host()}"
    return f"{base}/ws/games/sessions/{session.pk}/?token={token}"


class GameSessionStartApi(APIView):
    class InputSerializer(serializers.Serializer):
        game = GameField(max_length=16)
        currency = CurrencyField()

    class OutputSerializer(serializers.Serializer):
        id = serializers.UUIDField()
        game = GameField()
        currency = serializers.CharField()
        status = serializers.CharField()
        ws_url = serializers.CharField()
        heartbeat_interval_s = serializers.IntegerField()
        timeout_s = serializers.IntegerField()

    @extend_schema(request=InputSerializer, responses={201: OutputSerializer})
    @idempotent
    def post(self, request):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        session = services.game_session_start(
            player=request.user, now=timezone.now(), **data.validated_data
        )
        body = {
            "id": session.pk, "game": session.game, "currency": session.currency,
            "status": session.status, "ws_url": _ws_url(request, session),
            "heartbeat_interval_s": settings.GAME_SESSION_HEARTBEAT_INTERVAL_S,
            "timeout_s": settings.GAME_SESSION_TIMEOUT_S,
        }
        return Response(self.OutputSerializer(body).data, status=status.HTTP_201_CREATED)

    @extend_schema(responses=SessionOut(many=True))
    def get(self, request):
        sessions = selectors.game_session_list(player=request.user)
        return Response(SessionOut(sessions, many=True).data)


class GameSessionDetailApi(APIView):
    @extend_schema(responses=SessionOut)
    def get(self, request, session_id):
        session = selectors.game_session_get(session_id=session_id, player=request.user)
        return Response(SessionOut(session).data)


class GameSessionCloseApi(APIView):
    """Staff: force-close a live session and release what it holds."""

    permission_classes = [IsSupport]

    class InputSerializer(serializers.Serializer):
        reason = serializers.CharField(required=False, allow_blank=True, max_length=2000, default="")

    @extend_schema(request=InputSerializer, responses=SessionOut)
    def post(self, request, session_id):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        session = services.game_session_close(
            session_id=session_id, actor=request.user, reason=data.validated_data["reason"],
            now=timezone.now(),
        )
        return Response(SessionOut(session).data)
