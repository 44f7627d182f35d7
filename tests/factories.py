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


def make_token(user: User, *, otp: bool = True) -> str:
    """An API token key for `user`, as `POST /api/v1/auth/token/` issues it. A staff user
    gets a confirmed TOTP device and a token that passed it (`otp=False`: a staff token that
    skipped the second factor, which the API can no longer issue: for refusal tests)."""
    from django.utils import timezone
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from users.models import AuthToken, TokenKind
    from users.tokens import key_digest, token_create

    if not user.is_staff:
        return token_create(user=user, now=timezone.now(), label="test")[1]
    device = (TOTPDevice.objects.filter(user=user, confirmed=True).first()
              or TOTPDevice.objects.create(user=user, name="phone", confirmed=True))
    token, key = token_create(user=user, now=timezone.now(), otp_device=device.persistent_id,
                              label="test")
    if not otp:
        # Bypassing the CHECK constraint needs a different kind: a player-kind row of a
        # staff user is what a token issued before the user became staff looks like.
        AuthToken.objects.filter(pk=token.pk).update(kind=TokenKind.PLAYER, otp_device="")
    assert AuthToken.objects.filter(digest=key_digest(key)).exists()
    return key
