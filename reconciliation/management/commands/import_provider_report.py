"""Import a provider settlement report (CSV) and match it against our records."""

from datetime import UTC, datetime
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from common.errors import DomainError
from reconciliation.services import provider_report_import


def _moment(raw: str | None):
    if not raw:
        return None
    value = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    return value if value.tzinfo else timezone.make_aware(value, UTC)


class Command(BaseCommand):
    help = "Import a provider settlement report CSV; report missing and mismatched lines."

    def add_arguments(self, parser):
        parser.add_argument("path")
        parser.add_argument("--provider", default="sandbox")
        parser.add_argument("--period-start", help="ISO 8601; default: the first line's time")
        parser.add_argument("--period-end", help="ISO 8601; default: the last line's time")

    def handle(self, *args, path, provider, period_start=None, period_end=None, **options):
        try:
            raw = Path(path).read_bytes()
        except OSError as exc:
            raise CommandError(f"cannot read {path}: {exc.strerror}")
        try:
            result = provider_report_import(
                provider=provider, raw=raw, filename=Path(path).name,
                period_start=_moment(period_start), period_end=_moment(period_end),
                now=timezone.now())
        except (DomainError, ValueError) as exc:
            raise CommandError(f"{getattr(exc, 'code', 'invalid_argument')}: {exc}")
        self.stdout.write(f"report {result.report.pk}: {result.report.line_count} lines, "
                          f"{result.findings} findings, {result.new} new")
        for kind, n in sorted(result.by_kind.items()):
            self.stdout.write(f"  {kind}: {n}")
