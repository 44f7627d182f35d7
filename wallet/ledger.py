"""The one way money moves: `ledger_post`.

Every money change of every app is a balanced set of postings written here, inside the
caller's service transaction. Player accounts are locked in primary-key order with
SELECT ... FOR UPDATE, re-checked, updated and chained; system accounts are neither locked
nor updated (their balances are derived from entries), so no single row serializes all
players.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from django.db import connection, transaction
from psycopg.types.json import Jsonb

from common.db import json_rows, json_rows_sql, pg_array
from common.replica import pin_to_primary

from .chain import entry_hash
from .errors import InsufficientFunds, UnbalancedPostings
from .models import SYSTEM_KINDS, Account, AccountKind, Entry, Transaction


@dataclass(frozen=True)
class AccountRef:
    """An account as a batch posting names it: what `ledger_post_batch` reads of an Account,
    without building model instances (a batch settlement names thousands)."""

    pk: int
    owner_id: int | None
    kind: str
    currency: str

    @property
    def is_system(self) -> bool:
        return self.owner_id is None


@dataclass(frozen=True)
class Posting:
    account: Account | AccountRef  # ledger_post takes Accounts; ledger_post_batch either
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
    return _handles(player_id, currency, ids)


@dataclass(frozen=True)
class PlayerAccountRefs:
    cash: AccountRef
    bonus: AccountRef
    reserved: AccountRef


def posting_account_refs(*, keys: Iterable[tuple[int, str]]) -> dict[tuple[int, str], PlayerAccountRefs]:
    """The players' account refs for `ledger_post_batch`, for many (player id, currency)
    pairs: ids from the cache, the others read in one query (a batch settlement touches
    hundreds of players at once); accounts not created yet are created."""
    keys = set(keys)
    ids: dict[tuple[int, str], dict[str, int]] = {}
    missing = []
    for key in keys:
        if key in _player_ids_cache:
            ids[key] = _player_ids_cache[key]
        else:
            missing.append(key)
    if missing:
        found: dict[tuple[int, str], dict[str, int]] = defaultdict(dict)
        rows = Account.objects.filter(owner_id__in={p for p, _ in missing},
                                      currency__in={c for _, c in missing})
        for owner_id, currency, kind, pk in rows.values_list("owner_id", "currency", "kind", "id"):
            found[(owner_id, currency)][kind] = pk
        for key in missing:
            if len(found.get(key, ())) != 3:
                accts = _posting_accounts(*key)
                found[key] = {a.kind: a.pk for a in (accts.cash, accts.bonus, accts.reserved)}
            ids[key] = found[key]
            _remember(_player_ids_cache, key, found[key])
    return {
        (player_id, currency): PlayerAccountRefs(*(
            AccountRef(pk=i[kind], owner_id=player_id, kind=kind, currency=currency)
            for kind in (AccountKind.CASH, AccountKind.BONUS, AccountKind.RESERVED)))
        for (player_id, currency), i in ids.items()
    }


def _handles(player_id: int, currency: str, ids: dict[str, int]) -> PlayerAccounts:
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
    accounts: dict[int, Account | AccountRef] = {}
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
        if p.account.pk in locked and isinstance(p.account, Account):
            p.account.balance, p.account.chain_head = locked[p.account.pk][0], locked[p.account.pk][1]
    txn = Transaction(
        pk=txn_id, kind=str(kind), dedupe_key=dedupe_key, reference=reference,
        external_reference=external_reference, reverses=reverses, created_by_id=created_by_id,
        reason=reason, metadata=metadata, created_at=created_at,
    )
    txn._state.adding = False
    return txn


@dataclass(frozen=True)
class PostingRequest:
    """One ledger transaction of a `ledger_post_batch`: the arguments of `ledger_post`."""

    kind: str
    postings: Sequence[Posting]
    dedupe_key: str | None = None
    reference: str = ""
    external_reference: str = ""
    created_by_id: int | None = None
    reason: str = ""
    metadata: dict = field(default_factory=dict)
    reverses_id: int | None = None


_BATCH_TRANSACTIONS_SQL = (
    "INSERT INTO wallet_transaction (id, kind, dedupe_key, reference, external_reference, "
    "reverses_id, created_by_id, reason, metadata) "
    "SELECT v.id, v.kind, v.dedupe_key, v.reference, v.external_reference, v.reverses_id, "
    "v.created_by_id, v.reason, v.metadata FROM " + json_rows_sql(
        ("id", "bigint"), ("kind", "varchar"), ("dedupe_key", "varchar"), ("reference", "varchar"),
        ("external_reference", "varchar"), ("reverses_id", "bigint"), ("created_by_id", "bigint"),
        ("reason", "text"), ("metadata", "jsonb")) + " AS v ORDER BY v.n"
)
_BATCH_ENTRIES_SQL = (
    "INSERT INTO wallet_entry (transaction_id, account_id, currency, amount, balance_after, "
    "prev_hash, hash) SELECT v.t, v.a, v.c, v.amount, v.b, v.prev, v.hash FROM " + json_rows_sql(
        ("t", "bigint"), ("a", "bigint"), ("c", "varchar"), ("amount", "bigint"), ("b", "bigint"),
        ("prev", "varchar"), ("hash", "varchar")) + " AS v ORDER BY v.n"
)
_BATCH_ACCOUNTS_SQL = (
    "UPDATE wallet_account AS a SET balance = v.balance, chain_head = v.head FROM "
    + json_rows_sql(("id", "bigint"), ("balance", "bigint"), ("head", "varchar"))
    + " AS v WHERE a.id = v.id"
)


def ledger_transaction_ids(count: int) -> list[int]:
    """Reserve `count` ledger transaction ids, ascending, for a `ledger_post_batch` whose
    caller writes rows naming their transactions before posting them (in the same database
    transaction; the foreign keys are checked at commit)."""
    if count <= 0:
        return []
    with connection.cursor() as cur:
        cur.execute("SELECT nextval(pg_get_serial_sequence('wallet_transaction', 'id')) "
                    "FROM generate_series(1, %s) ORDER BY 1", [count])
        return [row[0] for row in cur.fetchall()]


def ledger_post_batch(requests: Sequence[PostingRequest], *,
                      transaction_ids: Sequence[int] | None = None) -> list[int]:
    """Write many balanced ledger transactions, in order, inside the caller's atomic block:
    what `ledger_post` does for each, in four statements whatever their number (lock the
    player accounts in primary-key order, insert the transactions, the entries, update the
    accounts). Returns the transaction ids, in the order of `requests`: `transaction_ids`
    (from ledger_transaction_ids) when given, else new ones.

    The overdraft check runs in order on the running balances, before anything is written:
    InsufficientFunds (with `request_index`, the first refused request) writes nothing.
    Raises UnbalancedPostings on a programming error, IntegrityError on a repeated dedupe key
    (the whole batch is refused: the caller decides what to retry).
    """
    if not connection.in_atomic_block:
        raise RuntimeError("ledger_post_batch must run inside the calling service's transaction")
    if not requests:
        return []
    accounts: dict[int, Account | AccountRef] = {}
    nets: list[dict[int, int]] = []
    for request in requests:
        _check_balanced(request.postings)
        net: dict[int, int] = defaultdict(int)
        for p in request.postings:
            net[p.account.pk] += p.amount
            accounts[p.account.pk] = p.account
        nets.append({pk: amt for pk, amt in sorted(net.items()) if amt != 0})
    player_ids = sorted(pk for pk, account in accounts.items() if not account.is_system)

    with connection.cursor() as cur:
        locked: dict[int, list] = {}
        if player_ids:
            cur.execute(
                "SELECT id, balance, chain_head, kind, currency, owner_id FROM wallet_account "
                "WHERE id = ANY(%s::bigint[]) ORDER BY id FOR UPDATE",
                [pg_array(player_ids)],
            )
            locked = {row[0]: list(row[1:]) for row in cur.fetchall()}
        if len(locked) != len(player_ids):
            raise RuntimeError(f"ledger accounts missing: {sorted(set(player_ids) - set(locked))}")
        running = {pk: row[0] for pk, row in locked.items()}
        for index, net in enumerate(nets):
            for pk, amount in net.items():
                if pk in running and running[pk] + amount < 0:
                    exc = InsufficientFunds(extra={"account": locked[pk][2],
                                                   "currency": locked[pk][3]})
                    exc.request_index = index  # type: ignore[attr-defined]
                    raise exc
            for pk, amount in net.items():
                if pk in running:
                    running[pk] += amount

        txn_ids = list(transaction_ids or ledger_transaction_ids(len(requests)))
        if len(txn_ids) != len(requests):
            raise ValueError("one transaction id per request")
        cur.execute(_BATCH_TRANSACTIONS_SQL, [json_rows([
            [txn_id, str(r.kind), r.dedupe_key, str(r.reference), str(r.external_reference),
             r.reverses_id, r.created_by_id, r.reason, r.metadata or {}]
            for txn_id, r in zip(txn_ids, requests, strict=True)])])

        entries = []
        for txn_id, net in zip(txn_ids, nets, strict=True):
            for pk, amount in net.items():
                if pk in locked:
                    row = locked[pk]
                    balance_after, prev = row[0] + amount, row[1]
                    digest = entry_hash(prev_hash=prev, account_id=pk, transaction_id=txn_id,
                                        amount=amount, balance_after=balance_after,
                                        currency=row[3])
                    row[0], row[1] = balance_after, digest
                    entries.append([txn_id, pk, row[3], amount, balance_after, prev, digest])
                else:
                    entries.append([txn_id, pk, accounts[pk].currency, amount, None, "", ""])
        cur.execute(_BATCH_ENTRIES_SQL, [json_rows(entries)])
        if locked:
            cur.execute(_BATCH_ACCOUNTS_SQL, [json_rows(
                [[pk, row[0], row[1]] for pk, row in locked.items()])])

    if locked:
        owners = {row[4] for row in locked.values()}
        transaction.on_commit(lambda: pin_to_primary(owners))
    return txn_ids


def reversal_postings(*, transaction_ids: Sequence[int]) -> dict[int, list[Posting]]:
    """The postings that exactly undo each transaction (one query for all of them), for the
    `PostingRequest`s of a batch of reversals (kind "reversal", `reverses_id` the original)."""
    out: dict[int, list[Posting]] = {pk: [] for pk in transaction_ids}
    rows = (Entry.objects.filter(transaction_id__in=list(transaction_ids)).order_by("id")
            .values_list("transaction_id", "account_id", "account__owner_id", "account__kind",
                         "currency", "amount"))
    for txn_id, account_id, owner_id, kind, currency, amount in rows:
        account = AccountRef(pk=account_id, owner_id=owner_id, kind=kind, currency=currency)
        out[txn_id].append(Posting(account=account, amount=-amount))
    return out


def release_hold_postings(*, accounts: PlayerAccounts | PlayerAccountRefs, amount: int) -> list[Posting]:
    """The postings of `release_hold`: reserved -> cash (`accounts` from posting_accounts)."""
    return [Posting(accounts.reserved, -amount), Posting(accounts.cash, amount)]


def settle_hold_postings(*, accounts: PlayerAccounts | PlayerAccountRefs, stake: int, payout: int,
                         house: Account | None = None) -> list[Posting]:
    """The postings of `settle_hold`: the stake to the house, `payout` (may be 0) to cash
    (`house`: the currency's house account, when the caller has it at hand)."""
    if payout < 0:
        raise ValueError("payout cannot be negative")
    house = house or system_account(AccountKind.HOUSE, accounts.cash.currency)
    postings = [Posting(accounts.reserved, -stake), Posting(house, stake)]
    if payout:
        postings += [Posting(house, -payout), Posting(accounts.cash, payout)]
    return postings


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
    return ledger_post(
        kind=kind, dedupe_key=dedupe_key, reference=reference, metadata=metadata,
        created_by_id=created_by_id, reason=reason,
        postings=release_hold_postings(accounts=_posting_accounts(player_id, currency),
                                       amount=amount),
    )


def settle_hold(*, player_id: int, currency: str, stake: int, payout: int, kind: str,
                dedupe_key: str, reference: str, metadata: dict | None = None) -> Transaction:
    """Resolve a held stake: the stake goes to the house and `payout` (may be 0) to cash."""
    postings = settle_hold_postings(accounts=_posting_accounts(player_id, currency), stake=stake,
                                    payout=payout)
    return ledger_post(kind=kind, dedupe_key=dedupe_key, reference=reference,
                       metadata=metadata, postings=postings)


__all__ = [
    "posting_accounts",
    "posting_account_refs",
    "AccountRef",
    "PlayerAccountRefs",
    "Posting",
    "PostingRequest",
    "ledger_post_batch",
    "ledger_transaction_ids",
    "reversal_postings",
    "release_hold_postings",
    "settle_hold_postings",
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
