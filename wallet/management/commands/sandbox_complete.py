"""Complete a sandbox deposit or withdrawal as the sandbox provider would (dev/test only).

    python manage.py sandbox_complete <deposit or withdrawal id> [--fail]
"""

from django.core.management.base import BaseCommand, CommandError

from common.errors import DomainError
from wallet.sandbox import sandbox_complete


class Command(BaseCommand):
    help = "Send the sandbox provider's callback for a deposit or withdrawal (dev/test only)."

    def add_arguments(self, parser):
        parser.add_argument("reference", help="the deposit or withdrawal id (UUID)")
        parser.add_argument("--fail", action="store_true",
                            help="report a failure instead of a success")

    def handle(self, *args, reference, fail, **options):
        try:
            result = sandbox_complete(reference=reference, succeed=not fail)
        except DomainError as exc:
            raise CommandError(f"{exc.detail} [{exc.code}]") from None
        body = result.body
        line = f"{body.get('outcome')}: {body.get('reference')} is now {body.get('status', '-')}"
        if body.get("code"):
            line += f" ({body['code']}: {body.get('detail', '')})"
        self.stdout.write(line)
        if result.status_code >= 400:
            raise CommandError(f"refused with HTTP {result.status_code}")
