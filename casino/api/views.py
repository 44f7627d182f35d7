"""Player endpoints of the casino: launch a provider's game. Thin: validate, call, shape."""

from __future__ import annotations

from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from common.idempotency import idempotent
from common.money import CurrencyField

from .. import services


class GameLaunchApi(APIView):
    class InputSerializer(serializers.Serializer):
        provider = serializers.CharField(max_length=32)
        game = serializers.RegexField(r"\A[A-Za-z0-9_.:-]{1,64}\Z")
        currency = CurrencyField()

    class OutputSerializer(serializers.Serializer):
        launch_id = serializers.UUIDField()
        provider = serializers.CharField()
        game = serializers.CharField()
        currency = serializers.CharField()
        token = serializers.CharField()
        game_url = serializers.CharField()
        expires_at = serializers.DateTimeField()

    @extend_schema(request=InputSerializer, responses={201: OutputSerializer})
    @idempotent
    def post(self, request):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        launched = services.game_launch(player=request.user, now=timezone.now(),
                                        **data.validated_data)
        launch = launched.launch
        body = {"launch_id": launch.pk, "provider": launch.provider, "game": launch.game,
                "currency": launch.currency, "token": launched.token,
                "game_url": launched.game_url, "expires_at": launch.expires_at}
        return Response(self.OutputSerializer(body).data, status=status.HTTP_201_CREATED)
