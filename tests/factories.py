"""Factories shared by every app's tests."""

from __future__ import annotations

import itertools
import uuid

from django.contrib.auth.models import Group
from django.db import transaction

from users.models import User

_seq = itertools.count(1)


def make_player(*, username: str | None = None, funds: dict[str, int] | None = None) -> User:
    """A player, optionally funded (minor units per currency) through a real ledger deposit."""
    n = next(_seq)
    username = username or f"player{n}_{uuid.uuid4().hex[:6]}"
    user = User.objects.create_user(username=username, email=f"{username}@example.test",
                                    password="correct-horse-battery")
    for currency, amount in (funds or {}).items():
        fund_player(user, amount, currency)
    return user


def make_staff(*roles: str, username: str | None = None) -> User:
    n = next(_seq)
    username = username or f"staff{n}_{uuid.uuid4().hex[:6]}"
    user = User.objects.create_user(username=username, email=f"{username}@example.test",
                                    password="correct-horse-battery", is_staff=True)
    for role in roles:
        group, _ = Group.objects.get_or_create(name=role)
        user.groups.add(group)
    return user


def fund_player(user: User, amount: int, currency: str = "USD") -> None:
    """Credit cash through the ledger, as a settled deposit would."""
    from wallet.ledger import Posting, ledger_post, player_accounts, system_account
    from wallet.models import AccountKind

    with transaction.atomic():
        accts = player_accounts(player_id=user.pk, currency=currency)
        clearing = system_account(AccountKind.PROVIDER_CLEARING, currency)
        ledger_post(
            kind="deposit", reference=f"test-funding:{uuid.uuid4().hex}",
            postings=[Posting(clearing, -amount), Posting(accts.cash, amount)],
        )


def balances(user: User, currency: str = "USD") -> dict[str, int]:
    from wallet.ledger import player_accounts

    accts = player_accounts(player_id=user.pk, currency=currency)
    return {"cash": accts.cash.balance, "reserved": accts.reserved.balance, "bonus": accts.bonus.balance}
