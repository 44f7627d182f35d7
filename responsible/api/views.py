"""Player and compliance endpoints of responsible gambling. Thin: validate, call one
service, shape the answer."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from common.errors import NotFound
from common.idempotency import idempotent

from .. import selectors, services
from ..permissions import CanImpose
from .serializers import (
    ExclusionOut,
    LimitChangeOut,
    LimitIn,
    LimitOut,
    LimitPromptIn,
    RealityCheckIn,
    ReasonIn,
    SelfExclusionIn,
    StaffExclusionIn,
    StaffLimitIn,
    StaffStatusOut,
    StatusOut,
    TimeoutIn,
)


def _status(player_id: int) -> dict:
    return StatusOut(selectors.player_status(player_id=player_id, now=timezone.now())).data


class StatusApi(APIView):
    @extend_schema(responses=StatusOut, summary="Your limits, exclusions and settings")
    def get(self, request):
        return Response(_status(request.user.pk))


class LimitSetApi(APIView):
    @extend_schema(request=LimitIn, responses={200: LimitChangeOut},
                   summary="Set, lower, raise or remove a limit",
                   description="A new limit or a decrease applies at once (effect `applied`); "
                               "an increase or removal is `pending` until the cooling-off has "
                               "passed and you confirm it.")
    @idempotent
    def post(self, request):
        data = LimitIn(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        change = services.limit_set(player=request.user, kind=v["kind"], period=v["period"],
                                    currency=v["currency"], amount=v["value"], now=timezone.now())
        return Response(LimitChangeOut({"effect": change.effect, "limit": change.limit}).data)


class LimitConfirmApi(APIView):
    @extend_schema(request=None, responses=LimitOut,
                   summary="Confirm a pending increase or removal after its cooling-off")
    def post(self, request, limit_id):
        limit = services.limit_confirm(player=request.user, limit_id=limit_id, now=timezone.now())
        return Response(LimitOut(limit).data)


class LimitCancelApi(APIView):
    @extend_schema(request=None, responses=LimitOut, summary="Withdraw a pending change")
    def post(self, request, limit_id):
        limit = services.limit_cancel_pending(player=request.user, limit_id=limit_id,
                                              now=timezone.now())
        return Response(LimitOut(limit).data)


class TimeoutApi(APIView):
    @extend_schema(request=TimeoutIn, responses={201: ExclusionOut},
                   summary="Take a time-out of 1 to 42 days")
    @idempotent
    def post(self, request):
        data = TimeoutIn(data=request.data)
        data.is_valid(raise_exception=True)
        exclusion = services.timeout_start(player=request.user, now=timezone.now(),
                                           **data.validated_data)
        return Response(ExclusionOut(exclusion).data, status=status.HTTP_201_CREATED)


class SelfExclusionApi(APIView):
    @extend_schema(request=SelfExclusionIn, responses={201: ExclusionOut},
                   summary="Self-exclude for 6 to 60 months, or indefinitely",
                   description="It cannot be lifted early, by you or by support.")
    @idempotent
    def post(self, request):
        data = SelfExclusionIn(data=request.data)
        data.is_valid(raise_exception=True)
        exclusion = services.self_exclusion_start(player=request.user, now=timezone.now(),
                                                  **data.validated_data)
        return Response(ExclusionOut(exclusion).data, status=status.HTTP_201_CREATED)


class SelfExclusionReturnApi(APIView):
    @extend_schema(request=None, responses=ExclusionOut,
                   summary="Ask to reopen your account after a self-exclusion has ended")
    def post(self, request):
        exclusion = services.self_exclusion_request_return(player=request.user,
                                                           now=timezone.now())
        return Response(ExclusionOut(exclusion).data)


class RealityCheckApi(APIView):
    @extend_schema(request=RealityCheckIn, responses=StatusOut,
                   summary="Set your reality-check interval (seconds; null turns it off)")
    def post(self, request):
        data = RealityCheckIn(data=request.data)
        data.is_valid(raise_exception=True)
        services.reality_check_interval_set(player=request.user,
                                            seconds=data.validated_data["interval_s"],
                                            now=timezone.now())
        return Response(_status(request.user.pk))


class LimitPromptApi(APIView):
    @extend_schema(request=LimitPromptIn, responses=StatusOut,
                   summary="Record your answer to the limit prompt")
    def post(self, request):
        data = LimitPromptIn(data=request.data)
        data.is_valid(raise_exception=True)
        services.limit_prompt_answer(player=request.user, answer=data.validated_data["answer"],
                                     now=timezone.now())
        return Response(_status(request.user.pk))


# --- compliance (backoffice) -------------------------------------------------------------------


def _player_or_404(player_id: int) -> None:
    if not get_user_model().objects.filter(pk=player_id, is_staff=False).exists():
        raise NotFound("No such player.")


def _staff_status(player_id: int) -> dict:
    data = selectors.player_status(player_id=player_id, now=timezone.now())
    data["history"] = selectors.player_history(player_id=player_id)
    return StaffStatusOut(data).data


class StaffPlayerApi(APIView):
    permission_classes = [CanImpose]

    @extend_schema(responses=StaffStatusOut,
                   summary="A player's limits, pending changes, exclusions and their history")
    def get(self, request, player_id):
        _player_or_404(player_id)
        return Response(_staff_status(player_id))


class StaffLimitImposeApi(APIView):
    permission_classes = [CanImpose]

    @extend_schema(request=StaffLimitIn, responses=LimitOut,
                   summary="Impose or change an operator limit (applies at once)")
    def post(self, request, player_id):
        _player_or_404(player_id)
        data = StaffLimitIn(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        limit = services.limit_impose(player_id=player_id, kind=v["kind"], period=v["period"],
                                      currency=v["currency"], amount=v["value"],
                                      actor=request.user, reason=v["reason"], now=timezone.now())
        return Response(LimitOut(limit).data)


class StaffLimitLiftApi(APIView):
    permission_classes = [CanImpose]

    @extend_schema(request=ReasonIn, responses=LimitOut, summary="Lift an operator limit")
    def post(self, request, limit_id):
        data = ReasonIn(data=request.data)
        data.is_valid(raise_exception=True)
        limit = services.limit_lift(limit_id=limit_id, actor=request.user,
                                    reason=data.validated_data["reason"], now=timezone.now())
        return Response(LimitOut(limit).data)


class StaffExclusionImposeApi(APIView):
    permission_classes = [CanImpose]

    @extend_schema(request=StaffExclusionIn, responses={201: ExclusionOut},
                   summary="Impose a time-out or a self-exclusion, with a reason")
    def post(self, request, player_id):
        _player_or_404(player_id)
        data = StaffExclusionIn(data=request.data)
        data.is_valid(raise_exception=True)
        exclusion = services.exclusion_impose(player_id=player_id, actor=request.user,
                                              now=timezone.now(), **data.validated_data)
        return Response(ExclusionOut(exclusion).data, status=status.HTTP_201_CREATED)
