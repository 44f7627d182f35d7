"""Run the reconciliation checks now, with a progress bar, and record the findings."""

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from tqdm import tqdm

from reconciliation.checks import CHECKS
from reconciliation.services import reconcile_run


class Command(BaseCommand):
    help = "Check the ledger invariants and stuck states; record each finding once."

    def add_arguments(self, parser):
        parser.add_argument("--only", action="append", choices=[c.name for c in CHECKS],
                            help="run only this check (repeatable)")
        parser.add_argument("--no-progress", action="store_true")

    def handle(self, *args, only=None, no_progress=False, **options):
        names = only or [c.name for c in CHECKS]
        bar = tqdm(total=len(names), unit="check", disable=no_progress, file=self.stderr)

        def progress(name: str) -> None:
            bar.set_postfix_str(name)
            bar.update(1)

        try:
            result = reconcile_run(now=timezone.now(), only=only, progress=progress)
        except Exception as exc:  # noqa: BLE001 - one clear line for the operator
            raise CommandError(f"reconciliation failed: {exc}")
        finally:
            bar.close()
        self.stdout.write(f"{result.findings} findings, {result.new} new")
        for kind, n in sorted(result.by_kind.items()):
            self.stdout.write(f"  {kind}: {n}")
