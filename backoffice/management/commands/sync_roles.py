from django.core.management.base import BaseCommand

from backoffice.roles import roles_sync


class Command(BaseCommand):
    help = "(Re)apply the staff role permission map to the role groups (idempotent)."

    def handle(self, *args, **options):
        for role, count in roles_sync().items():
            self.stdout.write(f"{role}: {count} permissions")
