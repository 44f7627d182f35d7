"""seed_demo is idempotent: a second run changes nothing and prints the same logins."""

import io

import pytest
from django.core.management import call_command

from bonuses.models import Campaign, PlayerBonus
from users.models import User
from wallet.models import Account, Entry, Transaction

pytestmark = pytest.mark.django_db(transaction=True)


def _counts():
    return (User.objects.count(), Transaction.objects.count(), Entry.objects.count(),
            sum(Account.objects.filter(owner__username="alice").values_list("balance", flat=True)))


def test_seed_demo_twice_changes_nothing():
    first = io.StringIO()
    call_command("seed_demo", stdout=first)
    after_first = _counts()
    second = io.StringIO()
    call_command("seed_demo", stdout=second)
    assert _counts() == after_first
    assert "alice / demo-password-123" in first.getvalue()
    assert Account.objects.get(owner__username="alice", kind="cash", currency="USD").balance == 100_000
    # A campaign and alice's granted bonus, so the admin shows them on first run.
    assert Campaign.objects.count() == 2
    assert PlayerBonus.objects.get(player__username="alice").status == "granted"
    assert Account.objects.get(owner__username="alice", kind="bonus", currency="EUR").balance == 1_000
