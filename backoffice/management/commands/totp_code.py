"""Print a staff member's current TOTP code (dev/test only): the demo logins without an
authenticator app.

    python manage.py totp_code <username>
"""

from django.core.management.base import BaseCommand, CommandError
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from common.devtools import DevToolsDisabled, dev_tools_check
from users.models import User


class Command(BaseCommand):
    help = "Print the current TOTP code of a staff member's device (dev/test settings only)."

    def add_arguments(self, parser):
        parser.add_argument("username")

    def handle(self, *args, username, **options):
        try:
            dev_tools_check()
        except DevToolsDisabled as exc:
            raise CommandError(f"{exc.detail} [{exc.code}]") from None
        user = User.objects.filter(username=username, is_staff=True).first()
        device = user and TOTPDevice.objects.filter(user=user, confirmed=True).first()
        if not device:
            raise CommandError(f"No staff member {username!r} with a confirmed TOTP device.")
        code = totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits)
        self.stdout.write(f"{code:0{device.digits}d}")
