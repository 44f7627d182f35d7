"""The player page for a support call: search by anything the player can quote, a summary in
major units, one merged timeline newest first, append-only notes with their author."""

import re
import uuid

import pytest
from django.db import DatabaseError, connection, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from backoffice.models import PlayerNote
from backoffice.selectors import player_search, player_search_matches, player_timeline
from backoffice.services import adjustment_propose
from sessions.services import game_round_bet, game_session_start
from tests.factories import make_player, make_staff
from wallet.models import Deposit, Entry, Withdrawal

pytestmark = pytest.mark.django_db


def _withdrawal(player, amount=300, ptx=""):
    from wallet.ledger import hold_funds

    with transaction.atomic():
        w = Withdrawal.objects.create(player=player, amount=amount, currency="USD",
                                      destination="IBAN DE00", provider_transaction_id=ptx)
        hold_funds(player_id=player.pk, currency="USD", amount=amount, kind="withdrawal_reserve",
                   dedupe_key=f"withdrawal:{w.pk}:reserve", reference=f"withdrawal:{w.pk}")
    return w


def _live_round(player, stake=200):
    now = timezone.now()
    session = game_session_start(player=player, game="hilo", currency="USD", now=now)
    game_round_bet(session_id=session.pk, player=player, client_round_id=uuid.uuid4(),
                   stake=stake, now=now)
    return session


@pytest.mark.parametrize("how", ["username", "email", "id", "withdrawal_id", "provider_txn",
                                 "deposit_id", "session_id", "ledger_txn", "ledger_reference"])
def test_search_finds_the_player_by_what_they_can_quote(how):
    player = make_player(funds={"USD": 1_000})
    other = make_player(funds={"USD": 10})  # someone else, with ids of their own
    _withdrawal(other, amount=5)
    w = _withdrawal(player, ptx=f"psp-{player.pk}-77")
    deposit = Deposit.objects.create(player=player, amount=500, currency="USD", provider="sandbox")
    session = _live_round(player)
    txn = Entry.objects.filter(account__owner=player).order_by("-id").first().transaction
    q = {"username": player.username, "email": player.email.upper(), "id": str(player.pk),
         "withdrawal_id": str(w.pk), "provider_txn": f"psp-{player.pk}-77",
         "deposit_id": str(deposit.pk), "session_id": str(session.pk),
         "ledger_txn": str(txn.pk), "ledger_reference": f"withdrawal:{w.pk}"}[how]
    matches = player_search_matches(q=q)
    assert [m.player for m in matches] == [player], how
    assert player_search(q=q) == [player]


def test_search_never_returns_staff_and_ignores_junk():
    staff = make_staff("support_agent")
    assert player_search(q=staff.username) == []
    assert player_search(q="\x00") == [] and player_search(q="   ") == []


def test_summary_shows_money_in_major_units_and_what_is_open(staff_client):
    player = make_player(funds={"USD": 1_000, "EUR": 500})
    w = _withdrawal(player)  # 3.00 USD reserved
    _live_round(player, stake=150)  # 1.50 USD reserved
    _, client = staff_client("support_agent")
    html = client.get(f"/admin/players/{player.pk}/").content.decode()
    usd = re.search(r'<tr data-currency="USD">(.*?)</tr>', html, re.S).group(1)
    assert '<td class="bo-num available">5.50 USD</td>' in usd
    assert '<td class="bo-num reserved">4.50 USD</td>' in usd
    assert '<td class="bo-num bonus">0.00 USD</td>' in usd
    assert "5.00 EUR" in html
    assert 'id="kyc-status"' in html and "KYC not submitted" in html and "AML clear" in html
    assert f"/admin/wallet/withdrawal/{w.pk}/change/" in html and "3.00 USD" in html
    assert 'id="force-close"' in html and "/transition/force_close/" in html
    assert "withdrawals need an approved KYC application" in html
    # People read major units and no raw history tables.
    assert "minor" not in html and "Historical" not in html


def test_force_close_is_offered_only_to_roles_that_may(staff_client):
    player = make_player(funds={"USD": 1_000})
    _live_round(player)
    _, client = staff_client("compliance_officer")
    html = client.get(f"/admin/players/{player.pk}/").content.decode()
    assert 'id="live-session"' in html and 'id="force-close"' not in html


def test_timeline_merges_every_source_newest_first_with_links(staff_client, settings):
    settings.AXES_ENABLED = True  # its access log records the player's logins (off in tests)
    player = make_player(funds={"USD": 1_000})
    w = _withdrawal(player)
    _live_round(player)
    support, client = staff_client("support_agent")
    adjustment_propose(player_id=player.pk, currency="USD", amount=250, reason="promised bonus",
                       actor=support, now=timezone.now())
    assert client.post(f"/admin/players/{player.pk}/notes/",
                       {"body": "called about a stuck round, ticket 99"}).status_code == 302
    Client().post("/api/v1/auth/token/", {"username": player.username,
                                          "password": "correct-horse-battery"},
                  content_type="application/json")

    events = player_timeline(player=player)
    sources = {e.source for e in events}
    assert {"ledger", "withdrawal", "session", "round", "staff", "note", "login"} <= sources
    stamps = [e.at for e in events]
    assert stamps == sorted(stamps, reverse=True)
    note = next(e for e in events if e.source == "note")
    assert note.actor == support.username and "ticket 99" in note.detail
    adjustment = next(e for e in events if e.source == "staff")
    assert adjustment.actor == support.username and adjustment.url
    assert next(e for e in events if e.source == "withdrawal").url == \
        f"/admin/wallet/withdrawal/{w.pk}/change/"
    assert all(e.url for e in events if e.source in ("ledger", "withdrawal", "session", "round"))
    login = next(e for e in events if e.source == "login")
    assert login.channel == "API"

    html = client.get(f"/admin/players/{player.pk}/").content.decode()
    timeline = html[html.index('id="timeline"'):html.index('id="notes"')]
    assert "ticket 99" in timeline, timeline[-3000:]
    assert "+10.00 USD" in timeline  # the funding deposit, in major units
    assert 'data-source="login"' in timeline


def test_older_activity_pages_back_in_time(staff_client):
    player = make_player(funds={"USD": 1_000})
    for _ in range(3):
        _withdrawal(player, amount=10)
    first = player_timeline(player=player, limit=2)
    older = player_timeline(player=player, limit=100, before=first[-1].at)
    assert older and all(e.at < first[-1].at for e in older)


def test_last_login_is_recorded_by_the_api_login(staff_client):
    player = make_player()
    assert player.last_login is None
    resp = Client().post("/api/v1/auth/token/", {"username": player.username,
                                                 "password": "correct-horse-battery"},
                         content_type="application/json")
    assert resp.status_code == 200
    player.refresh_from_db()
    assert player.last_login is not None
    _, client = staff_client("support_agent")
    html = client.get(f"/admin/players/{player.pk}/").content.decode()
    last = re.search(r'id="last-login">([^<]*)<', html).group(1)
    assert last != "never" and last.endswith("UTC")


def test_notes_are_append_only_with_their_author(staff_client):
    player = make_player()
    support, client = staff_client("support_agent")
    assert client.post(f"/admin/players/{player.pk}/notes/", {"body": "first"}).status_code == 302
    note = PlayerNote.objects.get(player=player)
    assert note.author == support and note.body == "first"
    with pytest.raises(DatabaseError), transaction.atomic():
        PlayerNote.objects.filter(pk=note.pk).update(body="rewritten")
    with pytest.raises(DatabaseError), transaction.atomic():
        PlayerNote.objects.filter(pk=note.pk).delete()
    # Empty or oversized notes are refused and write nothing.
    for body in ("", "   ", "x" * 4001):
        client.post(f"/admin/players/{player.pk}/notes/", {"body": body})
    assert PlayerNote.objects.filter(player=player).count() == 1
    html = client.get(f"/admin/players/{player.pk}/").content.decode()
    notes = html[html.index('id="notes"'):]
    assert "first" in notes and support.username in notes


def test_roles_without_the_note_permission_cannot_write_notes(staff_client):
    player = make_player()
    _, client = staff_client("trader")
    resp = client.post(f"/admin/players/{player.pk}/notes/", {"body": "hello"})
    assert resp.status_code == 403
    assert PlayerNote.objects.count() == 0
    html = resp.content.decode()
    assert "backoffice.add_playernote" in html and "support_agent" in html


def test_refusal_names_the_permission_and_the_roles_that_have_it(staff_client):
    _, client = staff_client("support_agent")
    resp = client.get("/admin/dashboard/")
    assert resp.status_code == 403
    html = resp.content.decode()
    assert "backoffice.view_dashboard" in html
    roles = re.search(r'id="roles-needed">(.*?)</td>', html, re.S).group(1)
    assert "compliance_officer" in roles and "trader" in roles and "support_agent" not in roles
    assert "support_agent" in re.search(r'id="your-roles">(.*?)</td>', html, re.S).group(1)
    # A model page the role has no view permission on names that permission.
    resp = client.get("/admin/kyc/kycapplication/")
    assert resp.status_code == 403 and "kyc.view_kycapplication" in resp.content.decode()


def test_trader_cannot_open_player_pages(staff_client):
    player = make_player()
    _, client = staff_client("trader")
    assert client.get(f"/admin/players/{player.pk}/").status_code == 403
    assert client.get("/admin/players/", {"q": player.username}).status_code == 403


def test_search_page_lists_why_each_player_matched(staff_client):
    player = make_player(funds={"USD": 100})
    _, client = staff_client("support_agent")
    html = client.get("/admin/players/", {"q": player.email}).content.decode()
    assert f"/admin/players/{player.pk}/" in html and "email" in html
    resp = client.get("/admin/players/", {"q": player.email, "go": "1"})
    assert resp.status_code == 302 and resp["Location"] == f"/admin/players/{player.pk}/"


def test_timeline_costs_a_fixed_number_of_queries():
    small, big = make_player(funds={"USD": 100}), make_player(funds={"USD": 10_000})
    for _ in range(30):
        _withdrawal(big, amount=10)
    counts = []
    for player in (small, big):
        with CaptureQueriesContext(connection) as ctx:
            player_timeline(player=player)
        counts.append(len(ctx))
    assert counts[0] == counts[1]
