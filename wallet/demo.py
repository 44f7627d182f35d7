from django.db import transaction

from users.models import User
from wallet.ledger import Posting, ledger_post, player_accounts, system_account
from wallet.models import AccountKind

DEMO_FUNDS = {"USD": 100_000, "EUR": 50_000, "USDT": 250_000_000}


def seed(*, stdout) -> list[str]:
    for user in User.objects.filter(username__in=["alice", "bob"]):
        for currency, amount in DEMO_FUNDS.items():
            with transaction.atomic(durable=True):
                accts = player_accounts(player_id=user.pk, currency=currency)
                ledger_post(
                    kind="deposit",
                    dedupe_key=f"demo-funding:{user.pk}:{currency}",
                    reference="demo-funding",
                    postings=[
                        Posting(system_account(AccountKind.PROVIDER_CLEARING, currency), -amount),
                        Posting(accts.cash, amount),
                    ],
                ) if not accts.cash.entries.filter(
                    transaction__dedupe_key=f"demo-funding:{user.pk}:{currency}"
                ).exists() else None
    return ["players funded: 1000.00 USD, 500.00 EUR, 250.000000 USDT each"]
