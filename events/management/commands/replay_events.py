"""Deliver already-sent outbox events to their consumers again (they ignore repeats)."""

from datetime import UTC, datetime

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from tqdm import tqdm

from common.errors import DomainError
from events.models import OutboxEvent
from events.registry import CONSUMERS
from events.relay import events_replay


def _moment(raw: str):
    try:
        value = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise CommandError(f"not an ISO 8601 time: {raw!r}")
    return value if value.tzinfo else timezone.make_aware(value, UTC)


class Command(BaseCommand):
    help = "Re-deliver outbox events created since a time; read models must not change."

    def add_arguments(self, parser):
        parser.add_argument("--since", required=True, help="ISO 8601 time (UTC if no zone)")
        parser.add_argument("--until", help="ISO 8601 time, exclusive")
        parser.add_argument("--consumer", action="append", choices=sorted(CONSUMERS))
        parser.add_argument("--inline", action="store_true",
                            help="run the consumers in this process instead of via Celery")
        parser.add_argument("--no-progress", action="store_true")

    def handle(self, *args, since, until=None, consumer=None, inline=False, no_progress=False,
               **options):
        start, end = _moment(since), (_moment(until) if until else None)
        qs = OutboxEvent.objects.filter(created_at__gte=start, sent_at__isnull=False)
        if end:
            qs = qs.filter(created_at__lt=end)
        bar = tqdm(total=qs.count(), unit="event", disable=no_progress, file=self.stderr)
        try:
            result = events_replay(since=start, until=end, consumers=consumer, inline=inline,
                                   progress=bar.update)
        except DomainError as exc:
            raise CommandError(f"{exc.code}: {exc}")
        except Exception as exc:  # noqa: BLE001 - e.g. the broker is down
            raise CommandError(f"replay failed: {type(exc).__name__}: {exc}")
        finally:
            bar.close()
        self.stdout.write(f"{result.events} events replayed: {result.published} published, "
                          f"{result.applied} applied, {result.duplicates} already applied")
