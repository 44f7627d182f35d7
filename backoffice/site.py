"""The admin site staff use: password + TOTP login, and only OTP-verified sessions get in."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.signals import user_login_failed
from django_otp import devices_for_user
from unfold.sites import UnfoldAdminSite
from unfold.widgets import BASE_INPUT_CLASSES


class StaffLoginForm(AdminAuthenticationForm):
    """Username, password and the current code of the staff member's TOTP device, in one step.

    A wrong code counts as a failed login for django-axes, so guessing codes locks the
    account out like guessing passwords does.
    """

    otp_token = forms.CharField(
        label="Authenticator code", required=False, max_length=8,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric",
                                      "class": " ".join(BASE_INPUT_CLASSES)}),
    )

    error_messages = {
        **AdminAuthenticationForm.error_messages,
        "otp_required": "Enter the 6-digit code from your authenticator app.",
        "otp_invalid": "That authenticator code is not valid.",
        "otp_throttled": "Too many wrong codes: wait a few seconds and try again.",
        "otp_no_device": "Two-factor authentication is not set up for this account; "
                         "ask an administrator to enrol a TOTP device.",
    }

    def __init__(self, request=None, *args, **kwargs):
        super().__init__(request, *args, **kwargs)
        for name in ("username", "password"):
            self.fields[name].widget.attrs["class"] = " ".join(BASE_INPUT_CLASSES)

    def clean(self):
        cleaned = super().clean()
        if not settings.BACKOFFICE_REQUIRE_OTP:
            return cleaned
        user = self.get_user()
        token = (cleaned.get("otp_token") or "").strip()
        devices = [d for d in devices_for_user(user, confirmed=True)]
        if not devices:
            self._otp_failed("otp_no_device")
        if not token:
            self._otp_failed("otp_required")
        throttled = False
        for device in devices:
            allowed, _ = device.verify_is_allowed()
            if not allowed:  # django-otp's back-off after wrong codes
                throttled = True
                continue
            if device.verify_token(token):
                # django_otp's user_logged_in handler stores this device in the session.
                user.otp_device = device
                return cleaned
        self._otp_failed("otp_throttled" if throttled else "otp_invalid")

    def _otp_failed(self, code: str):
        user_login_failed.send(
            sender=__name__,
            credentials={"username": self.cleaned_data.get("username")},
            request=self.request,
        )
        raise forms.ValidationError(self.error_messages[code], code=code)


class BackofficeAdminSite(UnfoldAdminSite):
    site_header = "Operator backoffice"
    site_title = "Operator backoffice"
    index_title = "Backoffice"
    login_form = StaffLoginForm
    login_template = "admin/backoffice/login.html"

    def has_permission(self, request) -> bool:
        if not super().has_permission(request):
            return False
        if not settings.BACKOFFICE_REQUIRE_OTP:
            return True
        return bool(getattr(request.user, "is_verified", lambda: False)())
