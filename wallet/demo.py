from django.db import transaction
from django.utils import timezone

from users.models import User
from wallet.ledger import Posting, ledger_post, player_accounts, system_account
from wallet.models import AccountKind, FeeSchedule, Refund, Transaction
from wallet.refunds import refund_request, refund_send
from wallet.services import CallbackInput, deposit_create, provider_callback_apply

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
    return ["players funded: 1000.00 USD, 500.00 EUR, 250.000000 USDT each",
            *seed_fees_and_refund()]



def _callback(event: str, ref, amount: str, ptx: str) -> None:
    data = CallbackInput(event=event, provider_transaction_id=ptx, reference=str(ref),
                         amount_raw=amount, currency="USD")
    provider_callback_apply(provider="sandbox", data=data, payload={"demo": True},
                            now=timezone.now())


def seed_fees_and_refund() -> list[str]:
    """A fee schedule (player-borne withdrawal fee) and a deposit of bob's partly refunded."""
    FeeSchedule.objects.get_or_create(
        provider="sandbox", operation="withdrawal", currency="USD", active=True,
        defaults={"percent_bp": 100, "fixed": 0, "minimum": 50, "maximum": 1_000,
                  "bearer": "player"})
    bob, staff = (User.objects.filter(username=n).first() for n in ("bob", "payments"))
    if bob is None or staff is None or Refund.objects.filter(player=bob).exists():
        return []
    now = timezone.now()
    dep = deposit_create(player=bob, amount=5_000, currency="USD", provider="sandbox", now=now)
    _callback("deposit.succeeded", dep.pk, "50.00", f"demo-dep-{dep.pk}")
    refund = refund_request(deposit_id=dep.pk, amount=2_000, reason="demo: duplicate payment",
                            actor=staff, now=now)
    refund_send(refund_id=refund.pk, now=now)
    _callback("refund.completed", refund.pk, "20.00", f"demo-refund-{refund.pk}")
    return ["fee schedule: sandbox USD withdrawals 1% (0.50-10.00, player bears); "
            "bob's 50.00 USD deposit refunded 20.00"]
