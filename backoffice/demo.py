"""Demo: role permissions, and a TOTP device per demo staff member (keys printed once per run
so the demo logins can be added to an authenticator app)."""

from django_otp.plugins.otp_totp.models import TOTPDevice

from users.models import User
from users.roles import ALL_ROLES

from .roles import roles_sync


def seed(*, stdout) -> list[str]:
    roles_sync()
    lines = ["backoffice: role permissions synced; staff log in at /admin/ with a TOTP code"]
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
