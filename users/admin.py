from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from simple_history.admin import SimpleHistoryAdmin

from common.admin import ReadOnlyAdminMixin, TransitionButton, TransitionButtonsMixin

from .models import AuthToken, User
from .tokens import token_revoke


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    list_display = ["id", "username", "email", "is_staff", "is_active", "date_joined",
                    "player_page"]
    list_filter = ["is_staff", "is_active", "groups"]
    search_fields = ["username", "email", "=id"]
    readonly_fields = ["last_login", "date_joined"]

    @admin.display(description="")
    def player_page(self, obj):
        if obj.is_staff:
            return ""
        return format_html('<a href="{}">player page</a>',
                           reverse("backoffice:player_detail", args=[obj.pk]))


def _revoke(token, actor, reason, now):
    token_revoke(user=token.user, token_id=token.pk, actor=actor, reason=reason, now=now)


@admin.register(AuthToken)
class AuthTokenAdmin(TransitionButtonsMixin, ReadOnlyAdminMixin, SimpleHistoryAdmin):
    """Logged-in devices. Support revokes one with a reason (kept in its history); the key
    itself is never stored, so nothing here can be used to log in."""

    list_display = ["id", "user", "kind", "label", "created_at", "last_used_at", "expires_at",
                    "revoked_at"]
    list_filter = ["kind", ("revoked_at", admin.EmptyFieldListFilter)]
    search_fields = ["=user__id", "user__username", "label"]
    list_select_related = ["user"]
    exclude = ["digest", "password_fingerprint"]
    transition_buttons = [
        TransitionButton(
            "revoke", "Log this device out", "users.change_authtoken",
            allowed=lambda t: t.revoked_at is None and t.expires_at > timezone.now(),
            run=_revoke, danger=True,
        ),
    ]

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields if f.name not in self.exclude]
