"""Run the outbox relay once (what the beat schedule does every second)."""

from django.core.management.base import BaseCommand

from events.relay import outbox_relay


class Command(BaseCommand):
    help = "Publish committed outbox events to the consumers now."

    def handle(self, *args, **options):
        result = outbox_relay()
        self.stdout.write(f"{result.relayed} events relayed, {result.published} deliveries"
                          + (f"; failed: {result.error}" if result.error else ""))
