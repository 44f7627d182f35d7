"""Verify the per-account hash chains of player ledger entries (wallet.chain)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from django.db.models import Exists, OuterRef

from wallet.chain import entry_hash
from wallet.models import Account, Entry


@dataclass(frozen=True)
class ChainBreak:
    account_id: int
    entry_id: int | None  # the first row found wrong; None when the account's tail is gone
    problem: str  # edited | deleted_or_reordered | tail_deleted | balance_mismatch
    detail: str


def ledger_chain_verify(*, account_ids: list[int] | None = None, chunk_size: int = 5000,
                        progress=None) -> Iterator[ChainBreak]:
    """Walk every player account's entries by id and yield the first break of each chain.

    One server-side cursor over (account_id, id), served by the entry_account_id index, so
    memory stays flat however long the ledger. An entry whose own hash does not match its
    content was edited; one whose prev_hash is not its predecessor's hash follows a
    deleted row or was moved; an account whose chain_head is not its last entry's hash
    lost its last rows.
    """
    qs = Entry.objects.using("default").filter(account__owner__isnull=False)
    if account_ids is not None:
        qs = qs.filter(account_id__in=account_ids)
    rows = qs.order_by("account_id", "id").values_list(
        "id", "account_id", "transaction_id", "amount", "balance_after", "currency",
        "prev_hash", "hash", "account__chain_head",
    )
    current = None
    prev_hash = ""
    prev_balance = 0
    broken = False
    head = ""
    for pk, account_id, txn_id, amount, balance_after, currency, row_prev, row_hash, chain_head \
            in rows.iterator(chunk_size=chunk_size):
        if progress is not None:
            progress(1)
        if account_id != current:
            if current is not None and not broken and prev_hash != head:
                yield ChainBreak(current, None, "tail_deleted",
                                 "chain_head does not match the last entry: rows were removed "
                                 "from the end of the chain (or the head was edited)")
            current, prev_hash, prev_balance, broken, head = account_id, "", 0, False, chain_head
        if broken:
            continue
        expected = entry_hash(prev_hash=row_prev, account_id=account_id, transaction_id=txn_id,
                              amount=amount, balance_after=balance_after, currency=currency)
        if expected != row_hash:
            broken = True
            yield ChainBreak(account_id, pk, "edited",
                             f"entry {pk}: content does not match its hash (row edited)")
            continue
        if row_prev != prev_hash:
            broken = True
            yield ChainBreak(account_id, pk, "deleted_or_reordered",
                             f"entry {pk}: prev_hash is not the hash of the entry before it "
                             f"(a row was deleted or rows were reordered)")
            continue
        if balance_after != prev_balance + amount:
            broken = True
            yield ChainBreak(account_id, pk, "balance_mismatch",
                             f"entry {pk}: balance_after does not follow from the entry before")
            continue
        prev_hash, prev_balance = row_hash, balance_after
    if current is not None and not broken and prev_hash != head:
        yield ChainBreak(current, None, "tail_deleted",
                         "chain_head does not match the last entry: rows were removed from "
                         "the end of the chain (or the head was edited)")
    # Accounts that have a chain head but no entry left at all.
    orphans = Account.objects.using("default").filter(owner__isnull=False).exclude(chain_head="")
    orphans = orphans.filter(~Exists(Entry.objects.filter(account_id=OuterRef("pk"))))
    if account_ids is not None:
        orphans = orphans.filter(pk__in=account_ids)
    for account_id in orphans.values_list("pk", flat=True).iterator():
        yield ChainBreak(account_id, None, "tail_deleted",
                         "the account has a chain head but no entries: all rows were removed")
