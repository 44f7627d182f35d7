"""Idempotent demo data. Each app contributes `<app>/demo.py` with `seed(*, stdout) -> list[str]`
returning lines to print (logins, ids). Running it twice changes nothing."""

from importlib import import_module

from django.apps import apps
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

ORDER = ["users", "wallet", "affiliates", "bonuses", "betting", "kyc", "game_sessions", "reconciliation",
         "backoffice"]


class Command(BaseCommand):
    help = "Create demo players, staff, events and the demo game (idempotent)."

    def handle(self, *args, **options):
        # Demo staff have a published password: never in production (settings.production).
        if not settings.DEMO_DATA_ALLOWED:
            raise CommandError(
                "seed_demo refuses to run under production settings: it creates staff "
                "accounts with a published password. Nothing was created.")
        lines: list[str] = []
        for label in ORDER:
            config = apps.get_app_config(label)
            try:
                module = import_module(f"{config.name}.demo")
            except ModuleNotFoundError as exc:
                if exc.name == f"{config.name}.demo":
                    continue
                raise
            lines.extend(module.seed(stdout=self.stdout))
        self.stdout.write("Demo data ready.")
        for line in lines:
            self.stdout.write(f"  {line}")
