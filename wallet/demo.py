from django.db import transaction

from users.models import User
from wallet.ledger import Posting, ledger_post, player_accounts, system_account
from wallet.models import AccountKind, Transaction

DEMO_FUNDS = {"USD": 100_000, "EUR": 50_000, "USDT": 250_000_000}


def seed(*, stdout) -> list[str]:
    """Fund the demo players once per currency (the dedupe key makes a rerun a no-op)."""
    for user in User.objects.filter(username__in=["alice", "bob"]):
        for currency, amount in DEMO_FUNDS.items():
            key = f"demo-funding:{user.pk}:{currency}"
            if Transaction.objects.filter(dedupe_key=key).exists():
                continue
            with transaction.atomic(durable=True):
                accts = player_accounts(player_id=user.pk, currency=currency)
                clearing = system_account(AccountKind.PROVIDER_CLEARING, currency)
                ledger_post(kind="deposit", dedupe_key=key, reference="demo-funding",
                            postings=[Posting(clearing, -amount), Posting(accts.cash, amount)])
    return ["players funded: 1000.00 USD, 500.00 EUR, 250.000000 USDT each"]
