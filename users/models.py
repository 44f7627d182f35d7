from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.db import models
from django.db.models import Q
from simple_history.models import HistoricalRecords

from .usernames import username_skeleton


class User(AbstractUser):
    """A player or a staff member. Staff carry `is_staff` and role groups (see users.roles)."""

    email = models.EmailField(unique=True)
    # What the username looks like (users.usernames): unique, so no two accounts look alike.
    # Set by save(); NULL only for rows bulk-inserted around it (benchmarks' set-up).
    username_skeleton = models.CharField(max_length=600, unique=True, null=True,
                                         editable=False)

    class Meta:
        ordering = ["id"]

    def save(self, *args, **kwargs):
        # Derived from the username on every save (create_user, admin, services alike).
        self.username_skeleton = username_skeleton(self.username)
        update_fields = kwargs.get("update_fields")
        if update_fields is not None and "username" in update_fields:
            kwargs["update_fields"] = {*update_fields, "username_skeleton"}
        super().save(*args, **kwargs)


class TokenKind(models.TextChoices):
    PLAYER = "player"
    STAFF = "staff"


class AuthToken(models.Model):
    """One API credential of one device: the SHA-256 digest of a random key, never the key.

    Authentication is one indexed lookup by `digest` (users.tokens). A token stops working
    when it is revoked, when its absolute or sliding idle limit passes (settings, by kind),
    or when its user's password changes (`password_fingerprint` no longer matches). A
    staff token exists only after password + TOTP (`otp_device` names the device used).
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                             related_name="auth_tokens")
    digest = models.CharField(max_length=64, unique=True)
    kind = models.CharField(max_length=8, choices=TokenKind.choices)
    # django-otp persistent id of the device whose code issued a staff token; empty: none.
    otp_device = models.CharField(max_length=255, blank=True, default="")
    label = models.CharField(max_length=100, blank=True, default="")
    user_agent = models.CharField(max_length=256, blank=True, default="")
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    password_fingerprint = models.CharField(max_length=32)
    created_at = models.DateTimeField()
    # Written with a plain UPDATE at most every AUTH_TOKEN_TOUCH_INTERVAL_S (no history row).
    last_used_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                   on_delete=models.PROTECT, related_name="+")
    revoke_reason = models.TextField(blank=True, default="")

    history = HistoricalRecords(excluded_fields=["last_used_at", "digest"])

    class Meta:
        indexes = [models.Index(fields=["user", "created_at"], name="auth_token_user_created")]
        constraints = [
            models.CheckConstraint(
                condition=~Q(kind="staff") | ~Q(otp_device=""), name="auth_token_staff_has_otp"),
            models.CheckConstraint(condition=Q(revoked_at__isnull=True) | ~Q(revoke_reason=""),
                                   name="auth_token_revoke_has_reason"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} token {self.pk} of user {self.user_id}"

    @property
    def otp_verified(self) -> bool:
        return self.kind == TokenKind.STAFF and bool(self.otp_device)
