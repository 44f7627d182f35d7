"""Reads for the player pages: search by anything a player could quote, the summary a support
agent needs in the first minutes of a call, and one merged activity timeline.

Every read here is bounded (a fixed number of newest rows per source, through indexes on
the player column), so the page costs the same for a player with ten entries or a million.
"""

from __future__ import annotations

import heapq
import uuid
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import datetime

from axes.models import AccessLog
from django.contrib import admin
from django.db.models import Count, Q, Sum
from django.urls import NoReverseMatch, reverse
from django.utils import timezone

from affiliates.selectors import attribution_get
from betting.models import Bet, BetStatus
from bonuses.selectors import bonus_rows
from common.display import money, odds, person
from common.numbers import ascii_int
from kyc.models import AMLProfile, AMLStatus, KYCApplication, KYCStatus
from responsible import selectors as rg_selectors
from sessions.models import GameRound, GameSession, RoundStatus, SessionStatus
from users.models import User
from wallet.models import (
    OPEN_WITHDRAWAL_STATUSES,
    Account,
    Deposit,
    Entry,
    FeeCharge,
    ProviderCallback,
    Refund,
    Transaction,
    Withdrawal,
)
from wallet.selectors import wallet_list

from .audit import historical_sources
from .models import AdjustmentStatus, ManualAdjustment, PlayerNote

TIMELINE_LIMIT = 100
OPEN_ROWS = 10


def _as_uuid(raw: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(raw)
    except ValueError:
        return None


@dataclass(frozen=True)
class SearchMatch:
    player: User
    matched: str  # what the query was: "email", "withdrawal 3f2c...", "ledger transaction 42"


def player_search_matches(*, q: str, limit: int = 50) -> list[SearchMatch]:
    """Players matching what a player could quote on a call: username, email, name, player
    id, a deposit / withdrawal / bet / game session / round / KYC application id, a ledger
    transaction id or reference, a provider transaction id. Staff are never returned."""
    q = (q or "").strip()
    if not q or "\x00" in q:
        return []
    found: OrderedDict[int, str] = OrderedDict()

    def add(ids, why: str) -> None:
        for pk in ids:
            found.setdefault(pk, why)

    players = User.objects.filter(is_staff=False)
    number = ascii_int(q)
    if number is not None:
        add(players.filter(pk=number).values_list("pk", flat=True), "player id")
        add(Account.objects.filter(entries__transaction_id=number, owner__isnull=False)
            .values_list("owner_id", flat=True).distinct(), f"ledger transaction {q}")
    as_uuid = _as_uuid(q)
    if as_uuid is not None:
        for model, label in ((Withdrawal, "withdrawal"), (Deposit, "deposit"), (Bet, "bet"),
                             (GameSession, "game session"), (KYCApplication, "KYC application")):
            add(model.objects.filter(pk=as_uuid).values_list("player_id", flat=True),
                f"{label} {q}")
        add(GameRound.objects.filter(Q(pk=as_uuid) | Q(client_round_id=as_uuid))
            .values_list("player_id", flat=True), f"game round {q}")
    for model, label in ((Withdrawal, "withdrawal"), (Deposit, "deposit")):
        add(model.objects.filter(provider_transaction_id=q).values_list("player_id", flat=True),
            f"{label} provider transaction {q}")
    # A provider callback that named our payment by reference, found by the provider's id.
    for ref in ProviderCallback.objects.filter(provider_transaction_id=q).values_list(
            "reference", flat=True)[:limit]:
        ref_uuid = _as_uuid(ref)
        if ref_uuid is not None:
            add(Withdrawal.objects.filter(pk=ref_uuid).values_list("player_id", flat=True),
                f"provider callback {q}")
            add(Deposit.objects.filter(pk=ref_uuid).values_list("player_id", flat=True),
                f"provider callback {q}")
    txn_ids = Transaction.objects.filter(reference=q).values_list("pk", flat=True)[:limit]
    add(Account.objects.filter(entries__transaction_id__in=list(txn_ids), owner__isnull=False)
        .values_list("owner_id", flat=True).distinct(), f"ledger reference {q}")
    add(players.filter(email__iexact=q).values_list("pk", flat=True), "email")
    add(players.filter(username__iexact=q).values_list("pk", flat=True), "username")
    if len(q) >= 2:
        parts = q.split()
        name = Q(first_name__iexact=parts[0], last_name__iexact=parts[-1]) if len(parts) > 1 \
            else Q(last_name__iexact=q)
        add(players.filter(name).values_list("pk", flat=True)[:limit], "name")
        add(players.filter(Q(username__istartswith=q) | Q(email__istartswith=q))
            .order_by("username").values_list("pk", flat=True)[:limit], "starts with")
    by_id = players.in_bulk(list(found)[:limit])
    return [SearchMatch(player=by_id[pk], matched=why) for pk, why in found.items() if pk in by_id]


def player_search(*, q: str, limit: int = 50) -> list[User]:
    """The players of `player_search_matches`, ordered by username."""
    return sorted((m.player for m in player_search_matches(q=q, limit=limit)),
                  key=lambda p: p.username)


def admin_change_url(obj) -> str | None:
    if obj is None or not admin.site.is_registered(type(obj)):
        return None
    opts = obj._meta
    try:
        return reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[obj.pk])
    except NoReverseMatch:
        return None


def _change_url(model, pk) -> str | None:
    if not admin.site.is_registered(model):
        return None
    opts = model._meta
    try:
        return reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[pk])
    except NoReverseMatch:
        return None


# --- summary -----------------------------------------------------------------------------

@dataclass
class Flag:
    level: str  # "bad" | "warn" | "info"
    text: str
    url: str | None = None


def player_summary(*, player: User, viewer) -> dict:
    """The header of the player page: balances in major units, KYC and AML, the live game
    session, open bets, rounds and withdrawals, and what restricts the player."""
    balances = [
        {"currency": w["currency"], "available": money(w["available"], w["currency"]),
         "reserved": money(w["reserved"], w["currency"]), "bonus": money(w["bonus"], w["currency"])}
        for w in wallet_list(player=player)
    ]
    kyc = KYCApplication.objects.filter(player=player).order_by("-created_at").first()
    aml = AMLProfile.objects.filter(player=player).select_related("changed_by").first()
    aml_status = aml.status if aml else AMLStatus.CLEAR
    live = (GameSession.objects.filter(player=player, status=SessionStatus.LIVE)
            .order_by("-started_at").first())
    force_close_url = None
    if live is not None and viewer.has_perm("backoffice.force_close_session"):
        try:
            force_close_url = reverse("admin:game_sessions_gamesession_transition",
                                      args=[live.pk, "force_close"])
        except NoReverseMatch:
            force_close_url = None
    open_rounds = list(GameRound.objects.filter(player=player, status=RoundStatus.OPEN)
                       .order_by("-opened_at")[:OPEN_ROWS])
    open_bets_qs = Bet.objects.filter(player=player, status=BetStatus.OPEN)
    open_bets = list(open_bets_qs.order_by("-created_at")[:OPEN_ROWS])
    open_bet_totals = [
        {"currency": r["currency"], "count": r["n"], "stake": money(r["stake"], r["currency"])}
        for r in open_bets_qs.values("currency").annotate(n=Count("pk"), stake=Sum("stake"))
        .order_by("currency")
    ]
    withdrawals = list(Withdrawal.objects.filter(player=player,
                                                 status__in=OPEN_WITHDRAWAL_STATUSES)
                       .order_by("-created_at")[:OPEN_ROWS])
    flags: list[Flag] = []
    if not player.is_active:
        flags.append(Flag("bad", "Account deactivated: the player cannot log in."))
    if aml_status == AMLStatus.BLOCKED:
        flags.append(Flag("bad", f"AML blocked: no deposits, withdrawals or bets. {aml.reason}".strip(),
                          _change_url(AMLProfile, player.pk)))
    elif aml_status == AMLStatus.REVIEW:
        flags.append(Flag("warn", f"AML review: {aml.reason}".strip(),
                          _change_url(AMLProfile, player.pk)))
    if kyc is None or kyc.status != KYCStatus.APPROVED:
        flags.append(Flag("warn", "KYC not approved: withdrawals need an approved KYC application.",
                          admin_change_url(kyc)))
    flags += _responsible_flags(player)
    pending_adjustments = ManualAdjustment.objects.filter(
        player=player, status=AdjustmentStatus.PROPOSED).count()
    if pending_adjustments:
        flags.append(Flag("info", f"{pending_adjustments} manual adjustment(s) awaiting approval."))
    bonuses = [
        {"bonus": row["bonus"], "campaign": row["campaign"],
         "amount": money(row["bonus"].amount, row["bonus"].currency),
         "balance": money(row["balance"], row["bonus"].currency),
         "wagered": money(row["bonus"].wagered, row["bonus"].currency),
         "required": money(row["bonus"].wagering_required, row["bonus"].currency),
         "progress": row["progress_percent"], "url": admin_change_url(row["bonus"])}
        for row in bonus_rows(player_id=player.pk)[:OPEN_ROWS]
    ]
    return {
        "balances": balances,
        "bonuses": bonuses,
        "kyc": kyc,
        "kyc_url": admin_change_url(kyc),
        "aml_status": aml_status,
        "aml": aml,
        "live_session": live,
        "live_session_url": admin_change_url(live),
        "force_close_url": force_close_url,
        "open_rounds": [{"round": r, "stake": money(r.stake, r.currency),
                         "url": admin_change_url(r)} for r in open_rounds],
        "open_bets": [{"bet": b, "stake": money(b.stake, b.currency), "odds": odds(b.accepted_odds),
                       "url": admin_change_url(b)} for b in open_bets],
        "open_bet_totals": open_bet_totals,
        "open_withdrawals": [{"withdrawal": w, "amount": money(w.amount, w.currency),
                              "url": admin_change_url(w)} for w in withdrawals],
        "flags": flags,
        **_refund_fee_affiliate_summary(player),
    }


def _refund_fee_affiliate_summary(player: User) -> dict:
    """Refunds of the player's deposits, the fees on their payments, and the affiliate who
    referred them (docs/refunds-fees-affiliates.md)."""
    refunds = list(Refund.objects.filter(player=player).order_by("-created_at")[:OPEN_ROWS])
    fees = [
        {"currency": r["currency"], "bearer": r["bearer"], "count": r["n"],
         "total": money(r["total"], r["currency"])}
        for r in FeeCharge.objects.filter(player=player).values("currency", "bearer")
        .annotate(n=Count("pk"), total=Sum("amount")).order_by("currency", "bearer")
    ]
    attribution = attribution_get(player=player)
    return {
        "refunds": [{"refund": r, "amount": money(r.amount, r.currency), "url": admin_change_url(r)}
                    for r in refunds],
        "fees": fees,
        "attribution": attribution,
        "attribution_url": admin_change_url(attribution.affiliate) if attribution else None,
    }


def _limit_value(limit, amount) -> str:
    if limit.kind == "session_time":
        return f"{amount // 60} min"
    return money(amount, limit.currency)


def _responsible_flags(player: User) -> list[Flag]:
    """Exclusions in force, limits and their pending changes (responsible gambling)."""
    now = timezone.now()
    flags = []
    for exclusion in rg_selectors.exclusions_in_force(player_id=player.pk, now=now):
        until = f"until {exclusion.ends_at:%Y-%m-%d %H:%M}" if exclusion.ends_at else "indefinite"
        if exclusion.status == "return_requested":
            until = f"return requested, reopens {exclusion.reopen_at:%Y-%m-%d %H:%M}"
        flags.append(Flag("bad", f"{exclusion.get_kind_display()} ({exclusion.source}, {until}): "
                                 "no deposits, bets or play; withdrawals allowed.",
                          admin_change_url(exclusion)))
    for limit in rg_selectors.limit_list(player_id=player.pk):
        text = (f"{limit.get_source_display()} {limit.period} {limit.kind} limit "
                f"{_limit_value(limit, limit.amount)}")
        if limit.status == "pending":
            change = ("removal" if limit.pending_amount is None
                      else f"increase to {_limit_value(limit, limit.pending_amount)}")
            text += f"; {change} pending (cooling-off until {limit.pending_effective_at:%Y-%m-%d %H:%M})"
        flags.append(Flag("info", text, admin_change_url(limit)))
    return flags


# --- timeline ----------------------------------------------------------------------------

@dataclass(order=True)
class TimelineEvent:
    at: datetime
    source: str = field(compare=False)  # ledger, deposit, withdrawal, bet, round, session, ...
    title: str = field(compare=False)
    detail: str = field(compare=False, default="")
    amount: str = field(compare=False, default="")
    actor: str = field(compare=False, default="")
    channel: str = field(compare=False, default="")
    url: str | None = field(compare=False, default=None)


SOURCE_LABELS = {
    "wallet.deposit": "deposit",
    "wallet.withdrawal": "withdrawal",
    "betting.bet": "bet",
    "game_sessions.gamesession": "session",
    "game_sessions.gameround": "round",
    "kyc.kycapplication": "kyc",
    "kyc.amlprofile": "aml",
    "backoffice.manualadjustment": "staff",
    "responsible.limit": "limit",
    "responsible.exclusion": "exclusion",
    "responsible.profile": "responsible gambling",
    "bonuses.playerbonus": "bonus",
    "bonuses.campaign": "campaign",
}
# Amount columns per history source: (amount field, label) in the order they matter.
_AMOUNT_FIELDS = ("amount", "stake")


def _channel_of(rec) -> str:
    return str(getattr(rec, "history_channel", "") or getattr(rec, "channel", "") or "")


def _history_events(player: User, limit: int, before: datetime | None) -> list[TimelineEvent]:
    events: list[TimelineEvent] = []
    for model, history, player_field, status_field in historical_sources():
        label = model._meta.label_lower
        if player_field is None or label.startswith("reconciliation."):
            continue
        qs = history.objects.filter(**{player_field: player.pk})
        if before is not None:
            qs = qs.filter(history_date__lt=before)
        records = list(qs.select_related("history_user").order_by("-history_date")[:limit])
        pk_name = model._meta.pk.attname
        # Oldest first, to see what each record changed against the previous one.
        last_status: dict = {}
        source = SOURCE_LABELS.get(label, model._meta.model_name)
        name = str(model._meta.verbose_name).capitalize()
        for rec in reversed(records):
            obj_pk = getattr(rec, pk_name)
            status = getattr(rec, status_field, "") if status_field else ""
            previous = last_status.get(obj_pk)
            last_status[obj_pk] = status
            if rec.history_type == "~" and previous is not None and previous == status:
                continue  # a change of some other column: the state did not move
            if rec.history_type == "+":
                title = f"{name} created" + (f" ({status})" if status else "")
            elif rec.history_type == "-":
                title = f"{name} deleted"
            else:
                title = f"{name} {status}".replace("_", " ") if status else f"{name} changed"
            currency = getattr(rec, "currency", None)
            amount_field = next((f for f in _AMOUNT_FIELDS if hasattr(rec, f)), None)
            amount = money(getattr(rec, amount_field), currency) if amount_field and currency \
                else ""
            detail = rec.history_change_reason or ""
            payout = getattr(rec, "payout", None)
            if payout and currency and status not in ("open", ""):
                detail = f"payout {money(payout, currency)}" + (f" · {detail}" if detail else "")
            accepted = getattr(rec, "accepted_odds", None)
            if accepted is not None and rec.history_type == "+":
                detail = f"at odds {odds(accepted)}" + (f" · {detail}" if detail else "")
            events.append(TimelineEvent(
                at=rec.history_date, source=source, title=title, detail=detail, amount=amount,
                actor=person(rec.history_user), channel=_channel_of(rec),
                url=_change_url(model, obj_pk)))
    return events


def _ledger_events(player: User, limit: int, before: datetime | None) -> list[TimelineEvent]:
    accounts = list(Account.objects.filter(owner=player).values_list("pk", flat=True))
    if not accounts:
        return []
    qs = Entry.objects.filter(account_id__in=accounts)
    if before is not None:
        qs = qs.filter(created_at__lt=before)
    entries = list(qs.select_related("transaction", "transaction__created_by", "account")
                   .order_by("-id")[:limit])
    by_txn: OrderedDict[int, list[Entry]] = OrderedDict()
    for entry in entries:
        by_txn.setdefault(entry.transaction_id, []).append(entry)
    events = []
    for txn_id, rows in by_txn.items():
        txn = rows[0].transaction
        parts = [f"{e.account.kind} {money(e.amount, e.currency, signed=True)}"
                 for e in sorted(rows, key=lambda e: e.account.kind)]
        cash = [e for e in rows if e.account.kind == "cash"]
        after = f" · cash balance {money(cash[0].balance_after, cash[0].currency)}" \
            if cash and cash[0].balance_after is not None else ""
        detail = ", ".join(parts) + after + (f" · {txn.reason}" if txn.reason else "")
        total = sum(e.amount for e in rows if e.account.kind in ("cash", "bonus"))
        events.append(TimelineEvent(
            at=txn.created_at, source="ledger",
            title=txn.get_kind_display(),
            detail=detail, amount=money(total, rows[0].currency, signed=True) if total else "",
            actor=person(txn.created_by) if txn.created_by_id else "",
            url=_change_url(Transaction, txn_id)))
    return events


def _note_events(player: User, limit: int, before: datetime | None) -> list[TimelineEvent]:
    qs = PlayerNote.objects.filter(player=player)
    if before is not None:
        qs = qs.filter(created_at__lt=before)
    return [TimelineEvent(at=n.created_at, source="note", title="Internal note", detail=n.body,
                          actor=person(n.author), channel="admin", url=None)
            for n in qs.select_related("author").order_by("-created_at")[:limit]]


def _login_events(player: User, limit: int, before: datetime | None) -> list[TimelineEvent]:
    qs = AccessLog.objects.filter(username=player.username)
    if before is not None:
        qs = qs.filter(attempt_time__lt=before)
    events = []
    for log in qs.order_by("-attempt_time")[:limit]:
        channel = "API" if (log.path_info or "").startswith("/api/") else "web"
        events.append(TimelineEvent(
            at=log.attempt_time, source="login", title="Logged in",
            detail=f"from {log.ip_address or 'unknown address'} · {(log.user_agent or '')[:80]}",
            actor=player.username, channel=channel, url=None))
    return events


def player_timeline(*, player: User, limit: int = TIMELINE_LIMIT,
                    before: datetime | None = None) -> list[TimelineEvent]:
    """Everything that happened to a player, newest first, at most `limit` events: ledger
    movements, deposits, withdrawals, bets, rounds, sessions, KYC, AML, staff decisions and
    notes, logins; each with who did it and a link to the record."""
    sources = [
        _ledger_events(player, limit, before),
        _history_events(player, limit, before),
        _note_events(player, limit, before),
        _login_events(player, limit, before),
    ]
    merged = heapq.merge(*(sorted(s, reverse=True) for s in sources), reverse=True)
    out = []
    for event in merged:
        out.append(event)
        if len(out) >= limit:
            break
    return out


def player_notes(*, player: User, limit: int = 50) -> list[PlayerNote]:
    return list(PlayerNote.objects.filter(player=player).select_related("author")
                .order_by("-created_at", "-id")[:limit])
