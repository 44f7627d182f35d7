"""Reconciliation checks: the ledger invariants of DESIGN.md and stuck states, in SQL.

Every check is one set-based statement returning only the offending rows; nothing loops
over entries in Python. `run_checks` runs them all inside ONE repeatable-read, read-only
transaction, so every check sees the same snapshot and concurrent money movement cannot
produce a false finding (a balance read before, its entries summed after, a write).
That snapshot is the replica's when one keeps up (`config.db_router`), so a scan over the
whole ledger does not load the primary that money runs on.
"""

from __future__ import annotations

import contextvars
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.apps import apps
from django.conf import settings
from django.db import connection, connections, router, transaction

from affiliates.models import Affiliate, AffiliateClose, AffiliatePayout
from betting.models import Bet, BetLeg, BetStatus, Market, MarketSettlement
from bonuses.models import OPEN_BONUS_STATUSES, BonusStake, PlayerBonus
from casino.models import OUTCOME_OK, ProviderTransaction, TxStatus
from common.models import IdempotencyRecord
from events.models import OutboxEvent
from sessions.models import GameRound, GameSession, RoundStatus, SessionStatus
from wallet.models import (
    COUNTED_REFUND_STATUSES,
    OPEN_REFUND_STATUSES,
    OPEN_WITHDRAWAL_STATUSES,
    Account,
    AccountKind,
    Deposit,
    DepositStatus,
    Entry,
    FeeCharge,
    ProviderCallback,
    Refund,
    RefundStatus,
    Transaction,
    TransactionKind,
    Withdrawal,
    WithdrawalStatus,
)

from .models import DiscrepancyKind as K

# A broken invariant on a million rows must not write a million findings: each check
# reports at most this many (and says so in the finding's detail).
MAX_FINDINGS_PER_CHECK = 1000

# The database the running scan reads: run_checks picks it once, for every check.
_scan_db: contextvars.ContextVar[str] = contextvars.ContextVar("scan_db", default="default")


@dataclass(frozen=True)
class Finding:
    kind: str
    fingerprint: str
    subject: str
    currency: str = ""
    player_id: int | None = None
    expected: int | None = None
    actual: int | None = None
    detail: dict = field(default_factory=dict)


def sql_table(model) -> str:
    """A model's table, quoted, for the raw SQL below (never a hard-coded name)."""
    return connection.ops.quote_name(model._meta.db_table)


def sql_in(*values: str) -> str:
    """SQL list of status or kind constants, inlined (not bound) so partial indexes on them
    still match (PostgreSQL reads `IN ('live')` as `= 'live'`). Only the apps' own enum
    values go through here, never input."""
    names = [str(v) for v in values]
    for name in names:
        assert re.fullmatch(r"[a-z_]+", name), name
    return "(" + ", ".join(f"'{name}'" for name in names) + ")"


ENTRY, ACCOUNT, TXN = sql_table(Entry), sql_table(Account), sql_table(Transaction)
DEPOSIT, WITHDRAWAL, CALLBACK = sql_table(Deposit), sql_table(Withdrawal), sql_table(ProviderCallback)
CASINO_TXN = sql_table(ProviderTransaction)
REFUND, FEE_CHARGE = sql_table(Refund), sql_table(FeeCharge)


def _rows(sql: str, params: list | None = None) -> list[tuple]:
    with connections[_scan_db.get()].cursor() as cur:
        cur.execute(sql, params or [])
        return cur.fetchall()


# --- invariants 1 and 2, in one pass over wallet_entry ------------------------------------------
#
# Invariant 2 needs the entries summed per account (a few rows per player). Invariant 1
# needs them summed per ledger transaction and currency: one group per transaction, which on
# millions of entries costs far more than the per-account pass. So the same pass also sums a
# fingerprint: every entry's amount times a random weight of its (transaction, currency).
# If every transaction balances in every currency, the fingerprint is exactly zero (each
# transaction contributes weight x 0). If one does not, it is non-zero except with
# probability about 2^-62 (two primes near 2^31, weights from a hash seeded at random per
# run, so no one can craft entries that cancel out). Only then does the exact per-transaction
# GROUP BY run, to name the culprits. All arithmetic is exact integers: |amount mod p| and
# |weight mod p| are below 2^31, so each product fits in a bigint and SUM() widens.
_P1, _P2 = 2_147_483_647, 2_147_483_629

LEDGER_SUMS_SQL = f"""
WITH per_account AS MATERIALIZED (
    SELECT account_id, currency, SUM(amount)::bigint AS total,
           SUM((amount %% {_P1}) * (h %% {_P1})) AS f1,
           SUM((amount %% {_P2}) * (h %% {_P2})) AS f2
      FROM (SELECT account_id, currency, amount,
                   hashint8extended(transaction_id, %(seed)s) AS h FROM {ENTRY}) e
     GROUP BY account_id, currency
),
per_currency AS (
    SELECT currency, SUM(total)::bigint AS total,
           mod(SUM(f1), {_P1}) * (hashtextextended(currency, %(seed)s) %% {_P1}) AS g1,
           mod(SUM(f2), {_P2}) * (hashtextextended(currency, %(seed)s) %% {_P2}) AS g2
      FROM per_account GROUP BY currency
)
SELECT 'fingerprint', NULL::bigint, NULL::bigint, NULL::varchar,
       CASE WHEN mod(COALESCE(SUM(g1), 0), {_P1}) <> 0 OR mod(COALESCE(SUM(g2), 0), {_P2}) <> 0
            THEN 1 ELSE 0 END::bigint, NULL::bigint, NULL::varchar
  FROM per_currency
UNION ALL
SELECT 'currency', NULL, NULL, currency, total, NULL, NULL FROM per_currency WHERE total <> 0
UNION ALL
SELECT 'account', a.id, a.owner_id, a.currency, COALESCE(s.total, 0), a.balance, a.kind
  FROM {ACCOUNT} a
  -- An entry in another currency than its account's is left out of the account's sum, so
  -- it shows as a mismatch too.
  LEFT JOIN per_account s ON s.account_id = a.id AND s.currency = a.currency
 WHERE a.owner_id IS NOT NULL AND a.balance <> COALESCE(s.total, 0)
"""

UNBALANCED_TRANSACTIONS_SQL = f"""
SELECT transaction_id, currency, SUM(amount)::bigint FROM {ENTRY}
 GROUP BY transaction_id, currency HAVING SUM(amount) <> 0
 ORDER BY transaction_id LIMIT %s
"""


def check_ledger_sums() -> list[Finding]:
    """Invariant 1 (each transaction and each currency sums to zero) and invariant 2 (every
    materialized balance equals the sum of its entries), from one scan of the entries."""
    out: list[Finding] = []
    unbalanced_somewhere = False
    rows = _rows_named(LEDGER_SUMS_SQL, {"seed": secrets.randbits(62)})
    for tag, ident, owner, currency, total, balance, kind in rows:
        if tag == "fingerprint":
            unbalanced_somewhere = bool(total)
        elif tag == "currency":
            out.append(Finding(K.UNBALANCED_LEDGER, f"unbalanced_ledger:{currency}",
                               f"all {currency} entries", currency, expected=0, actual=total))
        else:
            out.append(Finding(K.BALANCE_MISMATCH, f"balance_mismatch:account:{ident}",
                               f"account {ident} ({kind})", currency, owner, expected=total,
                               actual=balance, detail={"account_id": ident, "kind": kind,
                                                       "difference": balance - total}))
    if unbalanced_somewhere:
        for ident, currency, total in _rows(UNBALANCED_TRANSACTIONS_SQL, [MAX_FINDINGS_PER_CHECK]):
            out.append(Finding(K.UNBALANCED_TRANSACTION, f"unbalanced_transaction:{ident}:{currency}",
                               f"transaction {ident}", currency, expected=0, actual=total,
                               detail={"transaction_id": ident}))
    return out


def _rows_named(sql: str, params: dict) -> list[tuple]:
    with connections[_scan_db.get()].cursor() as cur:
        cur.execute(sql, params)
        return cur.fetchall()


def check_negative_balances() -> list[Finding]:
    """Invariant 3: no player balance below zero (a CHECK forbids it; verify anyway)."""
    rows = _rows(f"SELECT id, owner_id, kind, currency, balance FROM {ACCOUNT} "
                 "WHERE owner_id IS NOT NULL AND balance < 0")
    return [Finding(K.NEGATIVE_BALANCE, f"negative_balance:account:{pk}", f"account {pk} ({kind})",
                    currency, owner, expected=0, actual=balance, detail={"account_id": pk})
            for pk, owner, kind, currency, balance in rows]


def check_single_posting() -> list[Finding]:
    """Invariant 4: one dedupe key, one provider transaction id, one settlement -> at most
    one (unreversed) ledger transaction each."""
    out: list[Finding] = []
    for key, ids in _rows(f"SELECT dedupe_key, array_agg(id ORDER BY id) FROM {TXN} "
                          "WHERE dedupe_key IS NOT NULL GROUP BY dedupe_key HAVING count(*) > 1"):
        out.append(Finding(K.DUPLICATE_DEDUPE_KEY, f"duplicate_dedupe_key:{key}", f"dedupe key {key}",
                           expected=1, actual=len(ids), detail={"transaction_ids": ids}))
    unreversed = (f"NOT EXISTS (SELECT 1 FROM {TXN} r WHERE r.reverses_id = t.id) "
                  "AND t.reverses_id IS NULL")
    for ref, ids in _rows(
        f"SELECT external_reference, array_agg(id ORDER BY id) FROM {TXN} t "
        "WHERE external_reference <> '' AND kind IN "
        + sql_in(TransactionKind.DEPOSIT, TransactionKind.WITHDRAWAL_PAID,
              TransactionKind.CASINO_BET, TransactionKind.CASINO_WIN,
              TransactionKind.REFUND_PAID) + " AND "
        + unreversed + " GROUP BY external_reference HAVING count(*) > 1"
    ):
        out.append(Finding(K.DUPLICATE_PROVIDER_TXN, f"duplicate_provider_txn:ledger:{ref}",
                           f"provider transaction {ref}", expected=1, actual=len(ids),
                           detail={"transaction_ids": ids}))
    for provider, ptx, refs in _rows(
        "SELECT provider, provider_transaction_id, array_agg(ref ORDER BY ref) FROM ("
        f" SELECT provider, provider_transaction_id, 'deposit:' || id AS ref FROM {DEPOSIT}"
        "  WHERE provider_transaction_id <> ''"
        " UNION ALL SELECT provider, provider_transaction_id, 'withdrawal:' || id"
        f"  FROM {WITHDRAWAL} WHERE provider_transaction_id <> ''"
        " UNION ALL SELECT provider, provider_transaction_id, 'refund:' || id"
        f"  FROM {REFUND} WHERE provider_transaction_id <> ''"
        ") x GROUP BY provider, provider_transaction_id HAVING count(*) > 1"
    ):
        out.append(Finding(K.DUPLICATE_PROVIDER_TXN, f"duplicate_provider_txn:{provider}:{ptx}",
                           f"{provider} transaction {ptx}", expected=1, actual=len(refs),
                           detail={"references": refs}))
    for kind, ref, ids in _rows(
        f"SELECT kind, reference, array_agg(id ORDER BY id) FROM {TXN} t "
        "WHERE kind IN " + sql_in(TransactionKind.BET_SETTLE, TransactionKind.ROUND_SETTLE,
                               TransactionKind.WITHDRAWAL_PAID, TransactionKind.REFUND_PAID)
        + " AND reference <> '' AND "
        + unreversed + " GROUP BY kind, reference HAVING count(*) > 1"
    ):
        out.append(Finding(K.DUPLICATE_SETTLEMENT, f"duplicate_settlement:{kind}:{ref}",
                           f"{kind} of {ref}", expected=1, actual=len(ids),
                           detail={"transaction_ids": ids}))
    return out


# --- invariant 5: reserved = open withdrawals + open bets + open rounds ---------------------------

# (model, amount field, open statuses): every hold on a reserved account is one of these.
RESERVED_SOURCES = [
    (Withdrawal, "amount", [str(s) for s in OPEN_WITHDRAWAL_STATUSES]),
    (Refund, "amount", [str(s) for s in OPEN_REFUND_STATUSES]),
    (Bet, "stake", [str(BetStatus.OPEN)]),
    (GameRound, "stake", [str(RoundStatus.OPEN)]),
]


def _reserved_source_sql() -> tuple[list[str], list]:
    parts: list[str] = []
    params: list = []
    for model, amount_field, statuses in RESERVED_SOURCES:
        meta = model._meta
        table = connection.ops.quote_name(meta.db_table)
        player = meta.get_field("player").column  # type: ignore[union-attr]  # concrete fields
        amount = meta.get_field(amount_field).column  # type: ignore[union-attr]
        parts.append(f"SELECT {player} AS player_id, currency, {amount} AS amount, "
                     f"'{meta.label_lower}' AS source FROM {table} WHERE status = ANY(%s)")
        params.append(statuses)
    return parts, params


def check_reserved() -> list[Finding]:
    """Invariant 5: each reserved account equals the sum of its owner's open holds."""
    parts, params = _reserved_source_sql()
    holds = " UNION ALL ".join(parts) if parts else (
        "SELECT NULL::bigint AS player_id, NULL::varchar AS currency, 0::bigint AS amount, "
        "'' AS source WHERE false")
    sql = f"""
    WITH holds AS ({holds}),
    expected AS (
        SELECT player_id, currency, SUM(amount)::bigint AS total,
               jsonb_object_agg(source, n) AS by_source
          FROM (SELECT player_id, currency, source, SUM(amount)::bigint AS amount, count(*) AS n
                  FROM holds GROUP BY player_id, currency, source) s
         GROUP BY player_id, currency
    ),
    reserved AS (SELECT id, owner_id, currency, balance FROM {ACCOUNT}
                  WHERE kind IN {sql_in(AccountKind.RESERVED)})
    SELECT COALESCE(r.owner_id, e.player_id), COALESCE(r.currency, e.currency), r.id,
           COALESCE(e.total, 0), COALESCE(r.balance, 0), e.by_source
      FROM reserved r FULL JOIN expected e ON e.player_id = r.owner_id AND e.currency = r.currency
     WHERE COALESCE(r.balance, 0) <> COALESCE(e.total, 0)
    """
    return [
        Finding(K.RESERVED_MISMATCH, f"reserved_mismatch:{player}:{currency}",
                f"reserved {currency} of player {player}", currency, player, expected=expected,
                actual=actual, detail={"account_id": account_id, "open_holds": by_source or {}})
        for player, currency, account_id, expected, actual, by_source in _rows(sql, params)
    ]


# --- stuck states -------------------------------------------------------------------------------


def _ago(now: datetime, seconds: int) -> datetime:
    return now - timedelta(seconds=seconds)


def check_stuck(*, now: datetime) -> list[Finding]:
    """Deposits pending, withdrawals processing, rounds open, live sessions without a
    heartbeat, and outbox events unsent, each past its configured age."""
    out: list[Finding] = []
    for pk, player, currency, amount, created in _rows(
        f"SELECT id, player_id, currency, amount, created_at FROM {DEPOSIT} "
        f"WHERE status IN {sql_in(DepositStatus.PENDING)} AND created_at < %s "
        "ORDER BY created_at LIMIT %s",
        [_ago(now, settings.STUCK_DEPOSIT_PENDING_S), MAX_FINDINGS_PER_CHECK],
    ):
        out.append(Finding(K.STUCK_DEPOSIT, f"stuck_deposit:{pk}", f"deposit {pk}", currency,
                           player, actual=amount, detail={"since": created.isoformat()}))
    for pk, player, currency, amount, since in _rows(
        f"SELECT id, player_id, currency, amount, updated_at FROM {WITHDRAWAL} "
        f"WHERE status IN {sql_in(WithdrawalStatus.PROCESSING)} AND updated_at < %s "
        "ORDER BY updated_at LIMIT %s",
        [_ago(now, settings.STUCK_WITHDRAWAL_PROCESSING_S), MAX_FINDINGS_PER_CHECK],
    ):
        out.append(Finding(K.STUCK_WITHDRAWAL, f"stuck_withdrawal:{pk}", f"withdrawal {pk}",
                           currency, player, actual=amount, detail={"since": since.isoformat()}))
    for pk, player, currency, stake, opened in _rows(
        f"SELECT id, player_id, currency, stake, opened_at FROM {sql_table(GameRound)} "
        f"WHERE status IN {sql_in(RoundStatus.OPEN)} AND opened_at < %s "
        "ORDER BY opened_at LIMIT %s",
        [_ago(now, settings.STUCK_ROUND_OPEN_S), MAX_FINDINGS_PER_CHECK],
    ):
        out.append(Finding(K.STUCK_ROUND, f"stuck_round:{pk}", f"round {pk}", currency, player,
                           actual=stake, detail={"since": opened.isoformat()}))
    for pk, player, currency, beat in _rows(
        f"SELECT id, player_id, currency, last_heartbeat_at FROM {sql_table(GameSession)} "
        f"WHERE status IN {sql_in(SessionStatus.LIVE)} AND last_heartbeat_at < %s "
        "ORDER BY last_heartbeat_at LIMIT %s",
        [_ago(now, settings.STUCK_SESSION_HEARTBEAT_S), MAX_FINDINGS_PER_CHECK],
    ):
        out.append(Finding(K.STALE_SESSION, f"stale_session:{pk}", f"session {pk}", currency,
                           player, detail={"last_heartbeat_at": beat.isoformat()}))
    out += _stuck_work(now)
    # One finding per backlog (named by its oldest event), not one per event: an outage
    # can leave a million events unsent and they are one incident.
    row = _rows(
        f"SELECT min(id), count(*), min(created_at) FROM {sql_table(OutboxEvent)} "
        "WHERE sent_at IS NULL AND created_at < %s", [_ago(now, settings.STUCK_OUTBOX_UNSENT_S)])[0]
    if row[1]:
        out.append(Finding(K.OUTBOX_UNSENT, f"outbox_unsent:{row[0]}",
                           f"{row[1]} outbox events unsent", actual=row[1],
                           detail={"oldest_event_id": row[0], "oldest_created_at": row[2].isoformat()}))
    return out


def _stuck_work(now: datetime) -> list[Finding]:
    """Work whose task or request was lost: keys in progress, resulted markets with bets not
    settled, approved withdrawals not sent, provider callbacks nobody reviewed."""
    out: list[Finding] = []
    for user_id, key, created in _rows(
        f"SELECT user_id, key, created_at FROM {sql_table(IdempotencyRecord)} "
        f"WHERE status IN {sql_in(IdempotencyRecord.Status.IN_PROGRESS)} AND created_at < %s "
        "ORDER BY created_at LIMIT %s",
        [_ago(now, settings.STUCK_IDEMPOTENCY_KEY_S), MAX_FINDINGS_PER_CHECK],
    ):
        out.append(Finding(K.STUCK_IDEMPOTENCY_KEY, f"stuck_idempotency_key:{user_id}:{key}",
                           f"idempotency key {key!r}", player_id=user_id,
                           detail={"since": created.isoformat()}))
    for pk, open_bets, resulted in _rows(
        f"SELECT m.id, count(DISTINCT l.bet_id), max(s.created_at) FROM {sql_table(Market)} m "
        f"JOIN {sql_table(BetLeg)} l ON l.market_id = m.id "
        " AND l.settled_version < m.settlement_version "
        f"JOIN {sql_table(MarketSettlement)} s ON s.market_id = m.id "
        "GROUP BY m.id HAVING max(s.created_at) < %s ORDER BY m.id LIMIT %s",
        [_ago(now, settings.STUCK_MARKET_UNSETTLED_S), MAX_FINDINGS_PER_CHECK],
    ):
        out.append(Finding(K.UNSETTLED_MARKET, f"unsettled_market:{pk}", f"market {pk}",
                           actual=open_bets, detail={"resulted_at": resulted.isoformat(),
                                                     "bets_not_settled": open_bets}))
    for pk, player, currency, amount, since in _rows(
        f"SELECT id, player_id, currency, amount, updated_at FROM {WITHDRAWAL} "
        f"WHERE status IN {sql_in(WithdrawalStatus.APPROVED)} AND updated_at < %s "
        "ORDER BY updated_at LIMIT %s",
        [_ago(now, settings.STUCK_WITHDRAWAL_APPROVED_S), MAX_FINDINGS_PER_CHECK],
    ):
        out.append(Finding(K.UNSENT_WITHDRAWAL, f"unsent_withdrawal:{pk}", f"withdrawal {pk}",
                           currency, player, actual=amount, detail={"since": since.isoformat()}))
    # backoffice sits above reconciliation (it shows these findings), so its review table is
    # looked up in the app registry rather than imported.
    reviews = sql_table(apps.get_model("backoffice", "CallbackReview"))
    for pk, provider, ptid, code, received in _rows(
        "SELECT c.id, c.provider, c.provider_transaction_id, c.outcome_code, c.received_at "
        f"FROM {CALLBACK} c WHERE c.needs_review "
        f"AND NOT EXISTS (SELECT 1 FROM {reviews} r WHERE r.callback_id = c.id) "
        "AND c.received_at < %s ORDER BY c.id LIMIT %s",
        [_ago(now, settings.STUCK_CALLBACK_REVIEW_S), MAX_FINDINGS_PER_CHECK],
    ):
        out.append(Finding(K.CALLBACK_AWAITING_REVIEW, f"callback_awaiting_review:{pk}",
                           f"callback {provider}:{ptid}",
                           detail={"code": code, "received_at": received.isoformat()}))
    return out


# --- casino: provider transactions and their ledger postings agree --------------------------------

# Every provider transaction we answered with success and that moved money (amount > 0) has
# its ledger transaction, moving exactly that amount on the player's side; every casino
# ledger transaction belongs to a provider transaction. (Tombstones and refusals move nothing.)
CASINO_LEDGER_SQL = f"""
WITH posted AS (
    SELECT e.transaction_id, SUM(e.amount)::bigint AS player_net
      FROM {ENTRY} e JOIN {ACCOUNT} a ON a.id = e.account_id
     WHERE a.owner_id IS NOT NULL AND e.transaction_id IN (
           SELECT ledger_transaction_id FROM {CASINO_TXN}
            WHERE ledger_transaction_id IS NOT NULL)
     GROUP BY e.transaction_id
)
(SELECT pt.provider, pt.transaction_id, pt.kind, pt.player_id, pt.currency, pt.amount,
        abs(p.player_net), pt.ledger_transaction_id
   FROM {CASINO_TXN} pt
   LEFT JOIN posted p ON p.transaction_id = pt.ledger_transaction_id
  WHERE pt.status NOT IN {sql_in(TxStatus.TOMBSTONE)} AND pt.outcome_code = '{OUTCOME_OK}'
    AND ((pt.amount > 0 AND pt.ledger_transaction_id IS NULL)
         OR (pt.ledger_transaction_id IS NOT NULL
             AND COALESCE(abs(p.player_net), -1) <> pt.amount))
  LIMIT %(limit)s)
UNION ALL
(SELECT '', t.external_reference, t.kind, NULL, '', NULL, NULL, t.id
   FROM {TXN} t
  WHERE t.kind IN {sql_in(TransactionKind.CASINO_BET, TransactionKind.CASINO_WIN,
                       TransactionKind.CASINO_ROLLBACK)}
    AND NOT EXISTS (SELECT 1 FROM {CASINO_TXN} pt
                     WHERE pt.ledger_transaction_id = t.id)
  LIMIT %(limit)s)
"""


def check_casino() -> list[Finding]:
    """A casino provider transaction without its posting (or with another amount), or a casino
    posting without its provider transaction."""
    out = []
    for provider, ptx, kind, player, currency, amount, posted, txn in _rows_named(
            CASINO_LEDGER_SQL, {"limit": MAX_FINDINGS_PER_CHECK}):
        subject = (f"{provider} {kind} {ptx}" if provider
                   else f"ledger transaction {txn} ({kind} {ptx})")
        out.append(Finding(K.CASINO_LEDGER_MISMATCH,
                           f"casino_ledger_mismatch:{provider or 'ledger'}:{ptx or txn}",
                           subject, currency, player, expected=amount, actual=posted,
                           detail={"ledger_transaction_id": txn, "kind": kind}))
    return out


# --- refunds: never more than the deposit, and each completed one posted once ------------------

REFUNDS_SQL = f"""
(SELECT 'exceeds', d.id::text, d.player_id, d.currency, d.amount, SUM(r.amount)::bigint
   FROM {DEPOSIT} d JOIN {REFUND} r ON r.deposit_id = d.id
  WHERE r.status IN {sql_in(*COUNTED_REFUND_STATUSES)}
  GROUP BY d.id HAVING SUM(r.amount) > d.amount
  LIMIT %(limit)s)
UNION ALL
(SELECT 'unposted', r.id::text, r.player_id, r.currency, r.amount, p.paid
   FROM {REFUND} r
   LEFT JOIN LATERAL (
        SELECT -SUM(e.amount)::bigint AS paid FROM {TXN} t
          JOIN {ENTRY} e ON e.transaction_id = t.id
          JOIN {ACCOUNT} a ON a.id = e.account_id AND a.owner_id IS NOT NULL
         WHERE t.kind IN {sql_in(TransactionKind.REFUND_PAID)}
           AND t.reference = 'refund:' || r.id) p ON true
  WHERE (r.status IN {sql_in(RefundStatus.COMPLETED)} AND p.paid IS DISTINCT FROM r.amount)
     OR (r.status NOT IN {sql_in(RefundStatus.COMPLETED)} AND p.paid IS NOT NULL)
  LIMIT %(limit)s)
"""


def check_refunds() -> list[Finding]:
    """Refunds of a deposit (all but failed and rejected) never sum past the deposit, and every
    completed refund left the player's reserved funds by exactly its amount."""
    out = []
    for tag, ident, player, currency, expected, actual in _rows_named(
            REFUNDS_SQL, {"limit": MAX_FINDINGS_PER_CHECK}):
        if tag == "exceeds":
            out.append(Finding(K.REFUND_EXCEEDS_DEPOSIT, f"refund_exceeds_deposit:{ident}",
                               f"deposit {ident}", currency, player, expected=expected,
                               actual=actual, detail={"deposit_id": ident}))
        else:
            out.append(Finding(K.REFUND_LEDGER_MISMATCH, f"refund_ledger_mismatch:{ident}",
                               f"refund {ident}", currency, player, expected=expected,
                               actual=actual, detail={"refund_id": ident}))
    return out


# --- bonuses (docs/bonuses.md) -------------------------------------------------------------------
#
# For each player and currency, with the bonus app's rows as the one side and the bonus
# account as the other:
#   bonus balance = granted - staked (bonus parts) + returned (bonus shares of wins, voids,
#                   rollbacks) - converted - forfeited (forfeit, expiry, conversion excess)
# and a player with no open bonus in a currency holds no bonus money in it.

_BONUS, _BONUS_STAKE = sql_table(PlayerBonus), sql_table(BonusStake)
_OPEN_BONUS = sql_in(*OPEN_BONUS_STATUSES)

BONUS_BALANCE_SQL = f"""
WITH bal AS (SELECT owner_id AS player_id, currency, balance FROM {ACCOUNT}
              WHERE kind IN {sql_in(AccountKind.BONUS)} AND owner_id IS NOT NULL),
g AS (SELECT player_id, currency, SUM(amount)::bigint AS granted,
             SUM(converted_amount)::bigint AS converted, SUM(forfeited_amount)::bigint AS forfeited,
             bool_or(status IN {_OPEN_BONUS}) AS has_open
        FROM {_BONUS} GROUP BY player_id, currency),
s AS (SELECT player_id, currency, SUM(bonus_part)::bigint AS staked,
             SUM(returned_bonus)::bigint AS returned
        FROM {_BONUS_STAKE} GROUP BY player_id, currency),
x AS (SELECT COALESCE(b.player_id, g.player_id) AS player_id, COALESCE(b.currency, g.currency) AS currency,
             COALESCE(b.balance, 0) AS balance, COALESCE(g.granted, 0) AS granted,
             COALESCE(g.converted, 0) AS converted, COALESCE(g.forfeited, 0) AS forfeited,
             COALESCE(g.has_open, false) AS has_open
        FROM bal b FULL JOIN g ON g.player_id = b.player_id AND g.currency = b.currency)
SELECT x.player_id, x.currency, x.balance, x.granted, COALESCE(s.staked, 0), COALESCE(s.returned, 0),
       x.converted, x.forfeited, x.has_open
  FROM x LEFT JOIN s ON s.player_id = x.player_id AND s.currency = x.currency
 WHERE x.balance <> x.granted - COALESCE(s.staked, 0) + COALESCE(s.returned, 0) - x.converted - x.forfeited
    OR (NOT x.has_open AND x.balance <> 0)
 LIMIT %(limit)s
"""

_POSTED_TO = """(SELECT SUM(e.amount) FROM {txn} t JOIN {entry} e ON e.transaction_id = t.id
                   JOIN {account} a ON a.id = e.account_id AND a.kind IN {kind}
                  WHERE t.dedupe_key = {key})::bigint"""


def _posted_to(kind: str, key: str) -> str:
    return _POSTED_TO.format(txn=TXN, entry=ENTRY, account=ACCOUNT, kind=sql_in(kind), key=key)


BONUS_STATE_SQL = f"""
WITH p AS (
  SELECT pb.id, pb.player_id, pb.currency, pb.status, pb.amount, pb.converted_amount,
         pb.forfeited_amount,
         {_posted_to(AccountKind.BONUS, "'bonus:grant:' || pb.grant_key")} AS granted_posted,
         {_posted_to(AccountKind.BONUS, "'bonus:' || pb.id::text || ':close'")} AS closed_posted,
         {_posted_to(AccountKind.CASH, "'bonus:' || pb.id::text || ':close'")} AS converted_posted
    FROM {_BONUS} pb)
SELECT id, player_id, currency, status, amount, converted_amount, forfeited_amount,
       granted_posted, closed_posted, converted_posted
  FROM p
 WHERE granted_posted IS DISTINCT FROM amount
    OR (status IN {_OPEN_BONUS} AND closed_posted IS NOT NULL)
    OR (status NOT IN {_OPEN_BONUS}
        AND COALESCE(-closed_posted, 0) <> converted_amount + forfeited_amount)
    OR COALESCE(converted_posted, 0) <> converted_amount
 LIMIT %(limit)s
"""


def check_bonuses() -> list[Finding]:
    """Each player's bonus balance against the bonus rows (the equation above), and each
    bonus's state against its grant and closing postings."""
    params = {"limit": MAX_FINDINGS_PER_CHECK}
    out = []
    for (player, currency, balance, granted, staked, returned, converted, forfeited,
         has_open) in _rows_named(BONUS_BALANCE_SQL, params):
        equation = granted - staked + returned - converted - forfeited
        # Off the equation: its value; on it but with no open bonus: nothing should be left.
        expected = equation if balance != equation else 0
        out.append(Finding(
            K.BONUS_BALANCE_MISMATCH, f"bonus_balance_mismatch:{player}:{currency}",
            f"bonus {currency} of player {player}", currency, player, expected=expected,
            actual=balance,
            detail={"granted": granted, "staked": staked, "returned": returned,
                    "converted": converted, "forfeited": forfeited, "open_bonus": has_open}))
    for (pk, player, currency, status, amount, converted, forfeited, granted_posted,
         closed_posted, converted_posted) in _rows_named(BONUS_STATE_SQL, params):
        out.append(Finding(
            K.BONUS_STATE_MISMATCH, f"bonus_state_mismatch:{pk}", f"bonus {pk} ({status})",
            currency, player, expected=amount, actual=granted_posted,
            detail={"bonus_id": str(pk), "status": status, "converted": converted,
                    "forfeited": forfeited, "granted_posted": granted_posted,
                    "closed_posted": closed_posted, "converted_posted": converted_posted}))
    return out


# --- fees: the fees account moves exactly by the recorded fee charges ---------------------------

FEES_SQL = f"""
WITH posted AS (
    SELECT e.transaction_id, e.currency, SUM(e.amount)::bigint AS total
      FROM {ENTRY} e JOIN {ACCOUNT} a ON a.id = e.account_id
     WHERE a.kind IN {sql_in(AccountKind.FEES)} AND a.owner_id IS NULL
     GROUP BY e.transaction_id, e.currency
)
SELECT COALESCE(p.transaction_id, c.ledger_transaction_id), c.schedule_id, c.reference,
       COALESCE(p.currency, c.currency), c.amount, p.total
  FROM posted p FULL JOIN {FEE_CHARGE} c ON c.ledger_transaction_id = p.transaction_id
 WHERE p.total IS DISTINCT FROM c.amount
 ORDER BY 1 LIMIT %s
"""


def check_fees() -> list[Finding]:
    """Every entry on a fees account belongs to a fee charge of the same amount in the same
    ledger transaction, and every fee charge was posted: so the fees account equals the sum
    of the fee charges, per schedule and currency."""
    return [
        Finding(K.FEE_LEDGER_MISMATCH, f"fee_ledger_mismatch:{txn}", f"ledger transaction {txn}",
                currency, expected=charged, actual=posted,
                detail={"transaction_id": txn, "schedule_id": schedule, "reference": ref or ""})
        for txn, schedule, ref, currency, charged, posted in _rows(FEES_SQL, [MAX_FINDINGS_PER_CHECK])
    ]


# --- affiliates: payable = commission posted by the closes - payouts, per affiliate ---------------

_AFFILIATE, _CLOSE, _PAYOUT = sql_table(Affiliate), sql_table(AffiliateClose), sql_table(AffiliatePayout)

AFFILIATES_SQL = f"""
WITH posted AS (
    SELECT t.reference, SUM(e.amount)::bigint AS total
      FROM {ENTRY} e JOIN {ACCOUNT} a ON a.id = e.account_id
      JOIN {TXN} t ON t.id = e.transaction_id
     WHERE a.kind IN {sql_in(AccountKind.AFFILIATE_PAYABLE)} AND a.owner_id IS NULL
     GROUP BY t.reference
),
expected AS (
    SELECT 'affiliate:' || af.id AS reference, af.currency,
           COALESCE((SELECT SUM(c.commission) FROM {_CLOSE} c WHERE c.affiliate_id = af.id), 0)
         - COALESCE((SELECT SUM(p.amount) FROM {_PAYOUT} p WHERE p.affiliate_id = af.id), 0)
           AS total
      FROM {_AFFILIATE} af
)
SELECT COALESCE(x.reference, p.reference), x.currency, COALESCE(x.total, 0)::bigint,
       COALESCE(p.total, 0)::bigint
  FROM posted p FULL JOIN expected x ON x.reference = p.reference
 WHERE COALESCE(p.total, 0) <> COALESCE(x.total, 0)
 ORDER BY 1 LIMIT %s
"""


def check_affiliates() -> list[Finding]:
    """Each affiliate's payable on the ledger equals the commission its closes posted less
    what was paid out (an entry on the payable account of no affiliate is reported too)."""
    return [
        Finding(K.AFFILIATE_PAYABLE_MISMATCH, f"affiliate_payable_mismatch:{ref}", ref,
                currency or "", expected=expected, actual=posted, detail={"reference": ref})
        for ref, currency, expected, posted in _rows(AFFILIATES_SQL, [MAX_FINDINGS_PER_CHECK])
    ]


# --- the whole run ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Check:
    name: str
    run: Callable[..., list[Finding]]


CHECKS = [
    Check("ledger_sums", lambda now: check_ledger_sums()),
    Check("negative_balances", lambda now: check_negative_balances()),
    Check("single_posting", lambda now: check_single_posting()),
    Check("reserved", lambda now: check_reserved()),
    Check("casino", lambda now: check_casino()),
    Check("refunds", lambda now: check_refunds()),
    Check("bonuses", lambda now: check_bonuses()),
    Check("fees", lambda now: check_fees()),
    Check("affiliates", lambda now: check_affiliates()),
    Check("stuck", lambda now: check_stuck(now=now)),
]


def run_checks(*, now: datetime, only: list[str] | None = None,
               progress: Callable[[str], None] | None = None) -> list[Finding]:
    """Run the checks on one consistent snapshot and return their findings."""
    findings: list[Finding] = []
    # Nested in an outer transaction (a test), the outer one's snapshot rules instead.
    outermost = not connection.in_atomic_block
    # The replica when it keeps up (config.db_router decides): a whole-ledger scan must
    # not load the primary.
    db = router.db_for_read(Entry, purpose="reconciliation_scan") if outermost else "default"
    token = _scan_db.set(db)
    try:
        with transaction.atomic(using=db, durable=outermost), connections[db].cursor() as cur:
            if outermost:
                cur.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            # The per-transaction grouping holds one hash entry per ledger transaction.
            cur.execute("SET LOCAL work_mem = %s", [settings.RECONCILIATION_WORK_MEM])
            for check in CHECKS:
                if only and check.name not in only:
                    continue
                found = check.run(now)
                if len(found) > MAX_FINDINGS_PER_CHECK:
                    found = found[:MAX_FINDINGS_PER_CHECK]
                findings.extend(found)
                if progress:
                    progress(check.name)
    finally:
        _scan_db.reset(token)
    return findings
