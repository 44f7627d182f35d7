from django.core.management.base import BaseCommand, CommandError

from backoffice.chain import ledger_chain_verify


class Command(BaseCommand):
    help = ("Verify the hash chain of every player account's ledger entries; report the first "
            "edited, deleted or reordered row of each broken chain. Exits 1 if any is found.")

    def add_arguments(self, parser):
        parser.add_argument("--account", type=int, action="append", dest="accounts",
                            help="only this account id (repeatable)")

    def handle(self, *args, accounts=None, **options):
        breaks = list(ledger_chain_verify(account_ids=accounts))
        for b in breaks:
            row = f"entry {b.entry_id}" if b.entry_id else "end of chain"
            self.stdout.write(f"BROKEN account {b.account_id} at {row}: {b.problem} - {b.detail}")
        if breaks:
            raise CommandError(f"{len(breaks)} broken ledger chain(s)")
        self.stdout.write(self.style.SUCCESS("ledger chains intact"))
