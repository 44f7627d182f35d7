"""The one way money moves: `ledger_post`.

Every money change of every app is a balanced set of postings written here, inside the
caller's service transaction. Player accounts are locked in primary-key order with
SELECT ... FOR UPDATE, re-checked, updated and chained; system accounts are neither locked
nor updated (their balances are derived from entries), so no single row serializes all
players.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from django.db import connection, transaction
from psycopg.types.json import Jsonb

from common.replica import pin_to_primary

from .chain import entry_hash
from .errors import InsufficientFunds, UnbalancedPostings
from .models import SYSTEM_KINDS, Account, AccountKind, Transaction


@dataclass(frozen=True)
class Posting:
    account: Account
    amount: int  # signed minor units; + credits the account, - debits it


@dataclass(frozen=True)
class PlayerAccounts:
    cash: Account
    bonus: Account
    reserved: Account


def player_accounts(*, player_id: int, currency: str) -> PlayerAccounts:
    """Return (creating if needed) the player's cash, bonus and reserved accounts.

    Uses INSERT ... ON CONFLICT DO NOTHING so concurrent first uses never collide, and
    opens no savepoint.
    """
    rows = {
        a.kind: a for a in Account.objects.filter(owner_id=player_id, currency=currency)
    }
    if len(rows) < 3:
        Account.objects.bulk_create(
            [
                Account(owner_id=player_id, kind=kind, currency=currency)
                for kind in (AccountKind.CASH, AccountKind.BONUS, AccountKind.RESERVED)
                if kind not in rows
            ],
            ignore_conflicts=True,
        )
        rows = {a.kind: a for a in Account.objects.filter(owner_id=player_id, currency=currency)}
    return PlayerAccounts(
        cash=rows[AccountKind.CASH], bonus=rows[AccountKind.BONUS], reserved=rows[AccountKind.RESERVED]
    )


# Process-wide caches of account ids. Account rows are never deleted and their ids never
# change, so a cached id of a *committed* row cannot go stale; balances are always read under
# the lock. A row read inside an open transaction may be one this transaction inserted, so
# it is cached only once that transaction commits (_remember): a rollback must never leave
# the id of a row that does not exist (every later posting would fail on the foreign key).
_system_cache: dict[tuple[str, str], Account] = {}
# (player_id, currency) -> {kind: account id}.
_player_ids_cache: dict[tuple[int, str], dict[str, int]] = {}


def _remember(cache: dict, key, value) -> None:
    if connection.in_atomic_block:
        transaction.on_commit(lambda: cache.setdefault(key, value))
    else:
        cache.setdefault(key, value)


def _posting_accounts(player_id: int, currency: str) -> PlayerAccounts:
    """Lightweight account handles for posting: ids from the cache, balances left to the lock."""
    key = (player_id, currency)
    ids = _player_ids_cache.get(key)
    if ids is None:
        ids = dict(Account.objects.filter(owner_id=player_id, currency=currency)
                   .values_list("kind", "id"))
        if len(ids) != 3:
            accts = player_accounts(player_id=player_id, currency=currency)
            ids = {a.kind: a.pk for a in (accts.cash, accts.bonus, accts.reserved)}
        _remember(_player_ids_cache, key, ids)

    def handle(kind: str) -> Account:
        return Account(pk=ids[kind], owner_id=player_id, kind=kind, currency=currency)

    return PlayerAccounts(cash=handle(AccountKind.CASH), bonus=handle(AccountKind.BONUS),
                          reserved=handle(AccountKind.RESERVED))


def posting_accounts(*, player_id: int, currency: str) -> PlayerAccounts:
    """The player's account handles for `ledger_post` without reading their rows (ids cached):
    ledger_post locks them and fills in their balances."""
    return _posting_accounts(player_id, currency)


def system_account(kind: str, currency: str) -> Account:
    if kind not in SYSTEM_KINDS:
        raise ValueError(f"{kind} is not a system account kind")
    cached = _system_cache.get((kind, currency))
    if cached is not None:
        return cached
    Account.objects.bulk_create(
        [Account(owner=None, kind=kind, currency=currency)], ignore_conflicts=True
    )
    account = Account.objects.get(owner__isnull=True, kind=kind, currency=currency)
    _remember(_system_cache, (kind, currency), account)
    return account


def _check_balanced(postings: Sequence[Posting]) -> None:
    sums: dict[str, int] = defaultdict(int)
    for p in postings:
        if not isinstance(p.amount, int) or isinstance(p.amount, bool) or p.amount == 0:
            raise UnbalancedPostings(f"posting amounts must be non-zero ints, got {p.amount!r}")
        sums[p.account.currency] += p.amount
    unbalanced = {c: s for c, s in sums.items() if s != 0}
    if unbalanced:
        raise UnbalancedPostings(f"postings do not sum to zero: {unbalanced}")


def ledger_post(
    *,
    kind: str,
    postings: Sequence[Posting],
    dedupe_key: str | None = None,
    reference: str = "",
    external_reference: str = "",
    created_by_id: int | None = None,
    reason: str = "",
    metadata: dict | None = None,
    reverses: Transaction | None = None,
) -> Transaction:
    """Write one balanced ledger transaction inside the caller's atomic block.

    Raises InsufficientFunds when a player account would go negative (nothing is written),
    UnbalancedPostings on a programming error, IntegrityError on a repeated dedupe_key.
    """
    if not connection.in_atomic_block:
        raise RuntimeError("ledger_post must run inside the calling service's transaction")
    _check_balanced(postings)

    # Net the postings per account so one account gets one entry per transaction.
    net: dict[int, int] = defaultdict(int)
    accounts: dict[int, Account] = {}
    for p in postings:
        net[p.account.pk] += p.amount
        accounts[p.account.pk] = p.account
    net = {pk: amt for pk, amt in net.items() if amt != 0}

    player_ids = sorted(pk for pk in net if not accounts[pk].is_system)
    # The hot path of the whole platform, so plain SQL: lock, insert, insert, update.
    with connection.cursor() as cur:
        locked: dict[int, list] = {}
        if player_ids:
            cur.execute(
                "SELECT id, balance, chain_head, kind, currency, owner_id FROM wallet_account "
                "WHERE id = ANY(%s) ORDER BY id FOR UPDATE",
                [player_ids],
            )
            locked = {row[0]: list(row[1:]) for row in cur.fetchall()}
        if len(locked) != len(player_ids):
            raise RuntimeError(f"ledger accounts missing: {sorted(set(player_ids) - set(locked))}")
        for pk in player_ids:
            balance, _, account_kind, currency, _ = locked[pk]
            if balance + net[pk] < 0:
                raise InsufficientFunds(extra={"account": account_kind, "currency": currency})

        metadata = metadata or {}
        cur.execute(
            "INSERT INTO wallet_transaction (kind, dedupe_key, reference, external_reference, "
            "reverses_id, created_by_id, reason, metadata) VALUES (%s, %s, %s, %s, %s, %s, %s, %s) "
            "RETURNING id, created_at",
            # str(): psycopg would store a TextChoices member by its *name*.
            [str(kind), dedupe_key, str(reference), str(external_reference),
             reverses.pk if reverses is not None else None, created_by_id, reason,
             Jsonb(metadata)],  # type: ignore[list-item]  # psycopg adapts Jsonb
        )
        txn_id, created_at = cur.fetchone()

        rows: list = []
        updates: list = []
        for pk in sorted(net):
            amount = net[pk]
            if pk in locked:
                row = locked[pk]
                balance_after = row[0] + amount
                prev = row[1]
                digest = entry_hash(prev_hash=prev, account_id=pk, transaction_id=txn_id,
                                    amount=amount, balance_after=balance_after, currency=row[3])
                rows.append((txn_id, pk, row[3], amount, balance_after, prev, digest))
                row[0], row[1] = balance_after, digest
                updates += [pk, balance_after, digest]
            else:
                rows.append((txn_id, pk, accounts[pk].currency, amount, None, "", ""))
        cur.execute(
            "INSERT INTO wallet_entry (transaction_id, account_id, currency, amount, balance_after, "
            "prev_hash, hash) VALUES " + ", ".join(["(%s, %s, %s, %s, %s, %s, %s)"] * len(rows)),
            [value for row in rows for value in row],
        )
        if updates:
            cur.execute(
                "UPDATE wallet_account AS a SET balance = v.balance, chain_head = v.head FROM (VALUES "
                + ", ".join(["(%s::bigint, %s::bigint, %s::varchar)"] * (len(updates) // 3))
                + ") AS v(id, balance, head) WHERE a.id = v.id",
                updates,
            )

    if locked:
        owners = {row[4] for row in locked.values()}
        transaction.on_commit(lambda: pin_to_primary(owners))
    # Keep callers' Account instances in step with what was written.
    for p in postings:
        if p.account.pk in locked:
            p.account.balance, p.account.chain_head = locked[p.account.pk][0], locked[p.account.pk][1]
    txn = Transaction(
        pk=txn_id, kind=str(kind), dedupe_key=dedupe_key, reference=reference,
        external_reference=external_reference, reverses=reverses, created_by_id=created_by_id,
        reason=reason, metadata=metadata, created_at=created_at,
    )
    txn._state.adding = False
    return txn


def ledger_reverse(*, original: Transaction, kind: str = "reversal", dedupe_key: str | None = None,
                   created_by_id: int | None = None, reason: str = "") -> Transaction:
    """Post the exact opposite of `original` (corrections never edit rows)."""
    postings = [
        Posting(account=e.account, amount=-e.amount)
        for e in original.entries.select_related("account")
    ]
    return ledger_post(
        kind=kind, postings=postings, dedupe_key=dedupe_key or f"reverse:{original.pk}",
        reference=original.reference, created_by_id=created_by_id, reason=reason,
        reverses=original, metadata={"reverses": original.pk},
    )


def hold_funds(*, player_id: int, currency: str, amount: int, kind: str, dedupe_key: str,
               reference: str, metadata: dict | None = None) -> Transaction:
    """Move `amount` from the player's cash to reserved (a stake, a withdrawal request)."""
    accts = _posting_accounts(player_id, currency)
    return ledger_post(
        kind=kind, dedupe_key=dedupe_key, reference=reference, metadata=metadata,
        postings=[Posting(accts.cash, -amount), Posting(accts.reserved, amount)],
    )


def release_hold(*, player_id: int, currency: str, amount: int, kind: str, dedupe_key: str,
                 reference: str, created_by_id: int | None = None, reason: str = "",
                 metadata: dict | None = None) -> Transaction:
    """Return `amount` from reserved to cash (void, cancel, reject, failure)."""
    accts = _posting_accounts(player_id, currency)
    return ledger_post(
        kind=kind, dedupe_key=dedupe_key, reference=reference, metadata=metadata,
        created_by_id=created_by_id, reason=reason,
        postings=[Posting(accts.reserved, -amount), Posting(accts.cash, amount)],
    )


def settle_hold(*, player_id: int, currency: str, stake: int, payout: int, kind: str,
                dedupe_key: str, reference: str, metadata: dict | None = None) -> Transaction:
    """Resolve a held stake: the stake goes to the house and `payout` (may be 0) to cash."""
    if payout < 0:
        raise ValueError("payout cannot be negative")
    accts = _posting_accounts(player_id, currency)
    house = system_account(AccountKind.HOUSE, currency)
    postings = [Posting(accts.reserved, -stake), Posting(house, stake)]
    if payout:
        postings += [Posting(house, -payout), Posting(accts.cash, payout)]
    return ledger_post(kind=kind, dedupe_key=dedupe_key, reference=reference,
                       metadata=metadata, postings=postings)


__all__ = [
    "posting_accounts",
    "Posting",
    "PlayerAccounts",
    "player_accounts",
    "system_account",
    "ledger_post",
    "ledger_reverse",
    "hold_funds",
    "release_hold",
    "settle_hold",
    "transaction",
]
