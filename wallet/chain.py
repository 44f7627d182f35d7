"""Tamper evidence: each player-account entry hashes its predecessor and its own content."""

from __future__ import annotations

import hashlib


def entry_hash(*, prev_hash: str, account_id: int, transaction_id: int, amount: int,
               balance_after: int | None, currency: str) -> str:
    canonical = f"{prev_hash}|{account_id}|{transaction_id}|{currency}|{amount}|{balance_after}"
    return hashlib.sha256(canonical.encode()).hexdigest()
