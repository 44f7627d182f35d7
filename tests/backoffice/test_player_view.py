"""One page per player, found by username, email, id, withdrawal id or provider txn id."""

import pytest
from django.db import transaction
from django.utils import timezone

from backoffice.selectors import player_search
from backoffice.services import adjustment_propose
from tests.factories import make_player, make_staff
from wallet.models import Withdrawal

pytestmark = pytest.mark.django_db


def _withdrawal(player, amount=300, ptx=""):
    from wallet.ledger import hold_funds

    with transaction.atomic():
        w = Withdrawal.objects.create(player=player, amount=amount, currency="USD",
                                      destination="IBAN DE00", provider_transaction_id=ptx)
        hold_funds(player_id=player.pk, currency="USD", amount=amount, kind="withdrawal_reserve",
                   dedupe_key=f"withdrawal:{w.pk}:reserve", reference=f"withdrawal:{w.pk}")
    return w


@pytest.mark.parametrize("how", ["username", "email", "id", "withdrawal_id", "provider_txn"])
def test_search_finds_the_player(how):
    player = make_player(funds={"USD": 1_000})
    make_player(funds={"USD": 10})  # someone else
    w = _withdrawal(player, ptx=f"psp-{player.pk}-77")
    q = {"username": player.username, "email": player.email.upper(), "id": str(player.pk),
         "withdrawal_id": str(w.pk), "provider_txn": f"psp-{player.pk}-77"}[how]
    assert player_search(q=q) == [player]


def test_search_never_returns_staff():
    staff = make_staff("support_agent")
    assert player_search(q=staff.username) == []


def test_player_page_shows_everything(staff_client):
    player = make_player(funds={"USD": 1_000, "EUR": 500})
    w = _withdrawal(player)
    adjustment_propose(player_id=player.pk, currency="USD", amount=250, reason="bonus promise",
                       actor=make_staff("support_agent"), now=timezone.now())
    _, client = staff_client("support_agent")
    resp = client.get(f"/admin/players/{player.pk}/")
    assert resp.status_code == 200
    html = resp.content.decode()
    for section in ('id="profile"', 'id="balances"', 'id="ledger"', 'id="withdrawals"',
                    'id="deposits"', 'id="adjustments"', 'id="history"'):
        assert section in html
    assert '<td class="available">7.00</td>' in html and '<td class="reserved">3.00</td>' in html
    assert '<td class="available">5.00</td>' in html  # EUR
    assert str(w.pk) in html and "bonus promise" in html
    # Other apps' player-linked models get their own sections.
    assert 'id="game_sessionsgamesession"' in html or 'id="game-sessionsgamesession"' in html \
        or "Game sessions" in html
    search = client.get("/admin/players/", {"q": player.email})
    assert f'/admin/players/{player.pk}/' in search.content.decode()


def test_trader_cannot_open_player_pages(staff_client):
    player = make_player()
    _, client = staff_client("trader")
    assert client.get(f"/admin/players/{player.pk}/").status_code == 403
    assert client.get("/admin/players/", {"q": player.username}).status_code == 403


def test_dashboard_renders_without_external_resources(staff_client):
    make_player(funds={"USD": 1_000})
    _, client = staff_client("compliance_officer")
    resp = client.get("/admin/dashboard/")
    assert resp.status_code == 200
    html = resp.content.decode()
    assert "<svg" in html and "Outbox relay lag" in html and "Open discrepancies" in html
    assert "cdn" not in html.lower() and "https://" not in html and "src=\"http" not in html
