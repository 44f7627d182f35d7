"""Demo: role permissions, and a TOTP device per demo staff member (keys printed once per run
so the demo logins can be added to an authenticator app)."""

from django_otp.plugins.otp_totp.models import TOTPDevice

from common.devtools import demo_base_url
from users.models import User
from users.roles import ALL_ROLES

from .roles import roles_sync


def seed(*, stdout) -> list[str]:
    roles_sync()
    lines = [f"backoffice: staff log in at {demo_base_url()}/admin/ with a TOTP code: add the "
             "otpauth:// URL below to an authenticator app, or print the current code with "
             "`.venv/bin/python manage.py totp_code <username>`"]
    for role in ALL_ROLES:
        username = role.split("_")[0]
        user = User.objects.filter(username=username, is_staff=True).first()
        if user is None:
            continue
        device = TOTPDevice.objects.filter(user=user, name="demo").first()
        if device is None:
            device = TOTPDevice.objects.create(user=user, name="demo", confirmed=True)
        lines.append(f"totp    {username}: {device.config_url}")
    return lines
