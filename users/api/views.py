from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import RegexValidator
from django.shortcuts import get_object_or_404
from django.utils import timezone
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import exceptions, serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.views import APIView

from common.errors import StaffAccountRefused
from common.gates import refuse_staff_account
from common.throttling import ScopedRateThrottle
from users.models import AuthToken, User
from users.permissions import CanRevokeTokens
from users.services import password_change, token_issue, user_register
from users.tokens import (
    key_digest,
    token_limits,
    token_list_active,
    token_revoke,
    tokens_revoke_all,
)
from users.usernames import UsernameField


class UserRegisterApi(APIView):
    # Credentials are read only to refuse staff (see post); anyone may register.
    authentication_classes = api_settings.DEFAULT_AUTHENTICATION_CLASSES  # type: ignore[assignment]  # classes, once loaded
    permission_classes = [AllowAny]
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "register"

    class InputSerializer(serializers.Serializer):
        # NFKC first (users.usernames), then the pattern: fullwidth letters fold to ASCII.
        username = UsernameField(max_length=150, validators=[RegexValidator(
            r"\A[\w.@+-]{3,150}\Z", code="invalid_username",
            message="3-150 letters, digits and . @ + - _")])
        email = serializers.EmailField()
        password = serializers.CharField(write_only=True, max_length=128)
        affiliate_code = serializers.CharField(
            required=False, allow_blank=True, max_length=64,
            help_text="the tracking code of the affiliate who referred the player")

    class OutputSerializer(serializers.Serializer):
        # No id: an email that already has an account gets this same answer (nothing is
        # created), so the answer cannot tell whether the email was known.
        username = serializers.CharField()
        email = serializers.EmailField()

    def perform_authentication(self, request):
        # Who sends this: the admin session's user, else the owner of a valid API credential
        # (read before DRF's failure path resets the request's user), else nobody. A stale
        # credential is nobody here, not a 401.
        session_user = getattr(request._request, "user", None)
        try:
            caller = request.user
        except exceptions.AuthenticationFailed:
            caller = None
        except exceptions.PermissionDenied:  # a staff credential short of its second factor
            raise StaffAccountRefused() from None
        if session_user is not None and session_user.is_authenticated:
            caller = session_user
        self.caller = caller if caller is not None and caller.is_authenticated else None

    @extend_schema(request=InputSerializer, responses={201: OutputSerializer}, auth=[])
    def post(self, request):
        # Separation of duties: staff do not open player accounts for themselves.
        refuse_staff_account(self.caller)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            user = user_register(**data.validated_data)
        except DjangoValidationError as exc:
            raise serializers.ValidationError(
                {"password": [serializers.ErrorDetail(m, code="weak_password") for m in exc.messages]}
            ) from None
        return Response(self.OutputSerializer(user).data, status=status.HTTP_201_CREATED)


class TokenObtainApi(APIView):
    """Log in one device: a fresh token on every login. Staff add their TOTP code."""

    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "login"

    class InputSerializer(serializers.Serializer):
        username = UsernameField(max_length=150)
        password = serializers.CharField(write_only=True, max_length=128)
        otp_token = serializers.CharField(required=False, allow_blank=True, max_length=16,
                                          help_text="staff: the current authenticator code")
        device = serializers.CharField(required=False, allow_blank=True, max_length=100,
                                       help_text="a label for this device (default: user agent)")

    @extend_schema(
        request=InputSerializer,
        responses={200: inline_serializer("TokenOut", {
            "token": serializers.CharField(), "expires_at": serializers.DateTimeField(),
            "idle_timeout_s": serializers.IntegerField()})},
    )
    def post(self, request):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        key = token_issue(request=request._request, **data.validated_data)
        token = AuthToken.objects.get(digest=key_digest(key))
        return Response({"token": key, "expires_at": token.expires_at,
                         "idle_timeout_s": int(token_limits(token.kind).idle.total_seconds())})


class DeviceOut(serializers.Serializer):
    id = serializers.IntegerField()
    label = serializers.CharField()  # type: ignore[assignment]  # a declared field, not Field.label
    user_agent = serializers.CharField()
    ip_address = serializers.CharField(allow_null=True)
    created_at = serializers.DateTimeField()
    last_used_at = serializers.DateTimeField()
    expires_at = serializers.DateTimeField()
    current = serializers.BooleanField()


def _devices(request) -> list[dict]:
    current = getattr(request.auth, "pk", None)
    return [{"id": t.pk, "label": t.label, "user_agent": t.user_agent,
             "ip_address": t.ip_address, "created_at": t.created_at,
             "last_used_at": t.last_used_at, "expires_at": t.expires_at,
             "current": t.pk == current}
            for t in token_list_active(user=request.user, now=timezone.now())]


class DeviceListApi(APIView):
    """The caller's logged-in devices (tokens that still work)."""

    @extend_schema(responses=DeviceOut(many=True))
    def get(self, request):
        return Response(DeviceOut(_devices(request), many=True).data)


class DeviceRevokeApi(APIView):
    """Log one of the caller's devices out."""

    @extend_schema(request=None, responses={204: None})
    def delete(self, request, device_id):
        token_revoke(user=request.user, token_id=device_id, actor=request.user,
                     reason="revoked by the account holder", now=timezone.now())
        return Response(status=status.HTTP_204_NO_CONTENT)


class LogoutApi(APIView):
    """Revoke the token this request carries."""

    @extend_schema(request=None, responses={204: None})
    def post(self, request):
        token_revoke(user=request.user, token_id=request.auth.pk, actor=request.user,
                     reason="logout", now=timezone.now())
        return Response(status=status.HTTP_204_NO_CONTENT)


class PasswordChangeApi(APIView):
    """Change the password: every token of the account (this one too) stops working."""

    class InputSerializer(serializers.Serializer):
        old_password = serializers.CharField(write_only=True, max_length=128)
        new_password = serializers.CharField(write_only=True, max_length=128)

    @extend_schema(request=InputSerializer, responses={204: None})
    def post(self, request):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            password_change(user=request.user, now=timezone.now(), **data.validated_data)
        except DjangoValidationError as exc:
            raise serializers.ValidationError({"new_password": [
                serializers.ErrorDetail(m, code="weak_password") for m in exc.messages]}) from None
        return Response(status=status.HTTP_204_NO_CONTENT)


class StaffPlayerTokensRevokeApi(APIView):
    """Support: log a player out of one device (token_id) or all of them, with a reason."""

    permission_classes = [CanRevokeTokens]

    class InputSerializer(serializers.Serializer):
        reason = serializers.CharField(max_length=2000)
        token_id = serializers.IntegerField(required=False, min_value=1)

    @extend_schema(request=InputSerializer,
                   responses={200: inline_serializer("TokensRevokedOut", {
                       "revoked": serializers.IntegerField()})})
    def post(self, request, player_id):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        player = get_object_or_404(User, pk=player_id)
        now = timezone.now()
        reason = data.validated_data["reason"]
        if "token_id" in data.validated_data:
            revoked = int(token_revoke(user=player, token_id=data.validated_data["token_id"],
                                       actor=request.user, reason=reason, now=now))
        else:
            revoked = tokens_revoke_all(user=player, actor=request.user, reason=reason, now=now)
        return Response({"revoked": revoked})
