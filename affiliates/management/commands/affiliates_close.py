from datetime import date

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from affiliates.services import affiliates_close_month, previous_month
from common.money import format_amount


class Command(BaseCommand):
    help = "Close a month's affiliate commissions (default: the previous month). Safe to re-run."

    def add_arguments(self, parser):
        parser.add_argument("--month", help="YYYY-MM")

    def handle(self, *args, **options):
        now = timezone.now()
        if options["month"]:
            try:
                year, month = (int(x) for x in options["month"].split("-"))
                target = date(year, month, 1)
            except ValueError:
                raise CommandError("--month must be YYYY-MM") from None
        else:
            target = previous_month(now)
        for close in affiliates_close_month(month=target, now=now):
            self.stdout.write(f"{close.affiliate} {close.month:%Y-%m}: "
                              f"{format_amount(close.commission, close.currency)} {close.currency}")
