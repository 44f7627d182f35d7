"""Every state change of the seamless wallet: launches, and the provider's balance, bet,
win, rollback and round-end calls.

Exactly once by the provider's transaction id: each call first claims its row in
ProviderTransaction with INSERT ... ON CONFLICT DO NOTHING. The UNIQUE (provider,
transaction_id) index serializes every racer on that id: a parallel duplicate waits for the
first to commit, then finds its row and replays its answer (or, if the first rolled back,
claims the id itself). A rollback claims the *bet's* id too (as a tombstone) when the bet
is not there yet, so a bet and its rollback racing always end in one of two states: bet
applied then reversed, or bet refused.

Lock order, everywhere (DESIGN.md): the provider-transaction rows (the call's own, then the
one it references), then the round row, then the player's compliance row (bets only, taken
by the gates), then the player's accounts (wallet.ledger, primary-key order). Nothing is
written on a refusal: the claim rolls back with everything else.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TypeVar

from django.conf import settings
from django.db import connection

from bonuses.services import casino_return, casino_round_closed, casino_stake
from common.db import service_atomic
from common.errors import DomainError
from common.gates import Operation, gates_check, refuse_staff_account
from common.history import save_with_history
from common.hooks import hooks_run
from common.money import currency_get
from events.services import emit
from wallet.models import Account, AccountKind, TransactionKind
from wallet.models import Transaction as LedgerTransaction

from .commands import (
    BalanceQuery,
    BetCommand,
    Caller,
    RollbackCommand,
    RoundEndCommand,
    WalletResult,
    WinCommand,
)
from .errors import (
    DuplicateTransaction,
    InvalidGame,
    InvalidPayload,
    InvalidReference,
    InvalidToken,
    PlayerMismatch,
    RoundClosed,
    TokenExpired,
    TransactionNotFound,
    TransactionRolledBack,
    WrongCurrency,
)
from .models import (
    CasinoRound,
    GameLaunch,
    ProviderTransaction,
    RoundStatus,
    TxKind,
    TxStatus,
    WinKind,
)
from .policy import ProviderPolicy, provider_policy

T = TypeVar("T")


def provider_user_id(player_id: int) -> str:
    """The player's id as providers see it (no personal data; at least 4 characters)."""
    return f"player-{player_id}"


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


# --- launch -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Launch:
    launch: GameLaunch
    token: str
    game_url: str


def game_launch(*, player, provider: str, game: str, currency: str, now: datetime) -> Launch:
    """Mint a short-lived launch token for `player` in `provider`'s `game`, and its game URL.

    Raises UnknownProvider, StaffAccountRefused (403 staff_account), a DRF ValidationError
    (unknown_currency).
    """
    policy = provider_policy(provider)
    currency_get(currency)
    refuse_staff_account(player)
    token = secrets.token_urlsafe(32)
    launch = GameLaunch(
        token_hash=_token_hash(token), player=player, provider=provider, game=game,
        currency=currency, created_at=now,
        expires_at=now + timedelta(seconds=settings.CASINO_LAUNCH_TOKEN_TTL_S),
    )
    with service_atomic():
        launch.save()
    url = policy.game_url.format(token=token, game=game, currency=currency,
                                 user=provider_user_id(player.pk))
    return Launch(launch=launch, token=token, game_url=url)


# --- helpers (inside a service's transaction unless said otherwise) ----------------------------


def _launch_resolve(caller: Caller) -> GameLaunch:
    """The launch behind the caller's token. Raises InvalidToken, PlayerMismatch."""
    if not caller.token:
        raise InvalidToken()
    launch = (GameLaunch.objects.select_related("player")
              .filter(token_hash=_token_hash(caller.token), provider=caller.provider).first())
    if launch is None:
        raise InvalidToken()
    if caller.player_ref is not None and caller.player_ref != provider_user_id(launch.player_id):
        raise PlayerMismatch("The user does not match the launch token.")
    return launch


def _fingerprint(*parts: object) -> str:
    return hashlib.sha256(json.dumps(parts, separators=(",", ":")).encode()).hexdigest()


_CLAIM_SQL = """
INSERT INTO casino_providertransaction
    (provider, transaction_id, kind, status, player_id, reference_transaction_id, win_kind,
     amount, currency, game, fingerprint, outcome_code, request_id, created_at)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
ON CONFLICT (provider, transaction_id) DO NOTHING
RETURNING id
"""


def _claim(*, provider: str, transaction_id: str, kind: str, player_id: int, currency: str,
           now: datetime, status: str = TxStatus.APPLIED, reference: str = "",
           win_kind: str = "", amount: int = 0, game: str = "", fingerprint: str = "",
           outcome_code: str = "ok", request_id: str = "") -> int | None:
    """Insert the row of `transaction_id`; None when it exists (a concurrent uncommitted
    claim is waited for). Raw SQL: the ORM cannot say ON CONFLICT DO NOTHING RETURNING."""
    with connection.cursor() as cur:
        cur.execute(_CLAIM_SQL, [provider, transaction_id, str(kind), str(status), player_id,
                                 reference, str(win_kind), amount, currency, game, fingerprint,
                                 outcome_code, request_id[:200], now])
        row = cur.fetchone()
    return row[0] if row else None


def _lock_tx(provider: str, transaction_id: str) -> ProviderTransaction | None:
    return (ProviderTransaction.objects.select_for_update()
            .filter(provider=provider, transaction_id=transaction_id).first())


def _replay(row: ProviderTransaction, *, kind: str, fingerprint: str) -> WalletResult:
    """Answer a repeated transaction id: the original result and balance, or the contract's
    duplicate error when the parameters differ."""
    if row.status == TxStatus.TOMBSTONE:
        if kind == TxKind.BET:
            raise TransactionRolledBack("This bet was rolled back before it arrived; it is refused.")
        raise DuplicateTransaction()
    if row.kind != kind or row.fingerprint != fingerprint:
        raise DuplicateTransaction()
    return WalletResult(player_id=row.player_id, currency=row.currency,
                        balance=row.balance_after or 0, code=row.outcome_code, replayed=True,
                        transaction_id=row.transaction_id)


def cash_balance(*, player_id: int, currency: str) -> int:
    """The player's cash balance (read from the primary; under a lock when the caller holds one)."""
    value = (Account.objects.filter(owner_id=player_id, kind=AccountKind.CASH, currency=currency)
             .values_list("balance", flat=True).first())
    return value or 0


_ROUND_INSERT_SQL = """
INSERT INTO casino_casinoround
    (provider, provider_round_id, player_id, currency, game, status, bet_total, win_total,
     opened_at)
VALUES (%s, %s, %s, %s, %s, %s, 0, 0, %s)
ON CONFLICT (provider, provider_round_id) DO NOTHING
RETURNING id
"""


def _round_lock(*, provider: str, round_id: str, player_id: int, currency: str, game: str,
                now: datetime, create: bool) -> CasinoRound | None:
    rnd = (CasinoRound.objects.select_for_update()
           .filter(provider=provider, provider_round_id=round_id).first())
    if rnd is None and create:
        # ON CONFLICT DO NOTHING: two first bets of one round never collide. The row we
        # insert is ours until commit; only when a concurrent first bet won do we lock its row.
        rnd = CasinoRound(provider=provider, provider_round_id=round_id, player_id=player_id,
                          currency=currency, game=game, opened_at=now)
        with connection.cursor() as cur:
            cur.execute(_ROUND_INSERT_SQL, [provider, round_id, player_id, currency, game,
                                            RoundStatus.OPEN.value, now])
            row = cur.fetchone()
        if row is None:
            rnd = CasinoRound.objects.select_for_update().get(provider=provider,
                                                              provider_round_id=round_id)
        else:
            rnd.pk = row[0]
            rnd._state.adding = False
    if rnd is not None and rnd.player_id != player_id:
        raise PlayerMismatch("The round belongs to another player.")
    return rnd


def _round_add(rnd: CasinoRound, *, bets: int = 0, wins: int = 0) -> None:
    # Totals are counters changed under the round's lock (not state changes: no history row).
    if bets or wins:
        rnd.bet_total += bets
        rnd.win_total += wins
        CasinoRound.objects.filter(pk=rnd.pk).update(bet_total=rnd.bet_total,
                                                     win_total=rnd.win_total)


def _round_close(rnd: CasinoRound, *, now: datetime, reason: str) -> None:
    if rnd.status == RoundStatus.OPEN:
        rnd.close(now=now)
        save_with_history(rnd, reason=reason)
        # No win can come any more: the round's bonus stakes close (a wagered bonus converts).
        casino_round_closed(player_id=rnd.player_id, currency=rnd.currency,
                            reference=f"casino_round:{rnd.pk}", now=now)


def _stake_reference(provider: str, transaction_id: str) -> str:
    return f"casino:{provider}:{transaction_id}"[:200]


def _finish(row_id: int, **fields) -> None:
    ProviderTransaction.objects.filter(pk=row_id).update(**fields)


def _event(topic: str, *, provider: str, transaction_id: str, rnd: CasinoRound | None,
           player_id: int, currency: str, now: datetime, **money: int) -> None:
    emit(topic=topic, aggregate_type="casino_transaction",
                aggregate_id=f"{provider}:{transaction_id}"[:64],
                payload={"provider": provider, "transaction_id": transaction_id,
                         "round_id": rnd.provider_round_id if rnd else "",
                         "player_id": player_id, "currency": currency,
                         "occurred_at": now.isoformat(), **money})


def _bet_gates(*, launch: GameLaunch, amount: int, currency: str, now: datetime) -> None:
    # Locks the player's compliance row after the transaction and round rows, before the
    # accounts, and runs every registered gate (AML block, responsible-gambling limits) on
    # it. Wins and rollbacks never call this: the round already happened.
    gates_check(operation=Operation.CASINO_BET, player_id=launch.player_id, amount=amount,
                currency=currency, now=now, player=launch.player)


def _refused(fn: Callable[[], T], *, player_id: int, currency: str) -> T:
    """Run a service body; on a refusal attach the player's current balance to the error
    (contracts answer it with every status), read after the rollback."""
    try:
        return fn()
    except DomainError as exc:
        exc.balance = cash_balance(player_id=player_id, currency=currency)  # type: ignore[attr-defined]
        exc.currency = currency  # type: ignore[attr-defined]
        raise


def _check_call(policy: ProviderPolicy, launch: GameLaunch, *, currency: str, game: str) -> None:
    if currency != launch.currency:
        raise WrongCurrency(f"The game was launched in {launch.currency}.")
    if policy.game_must_match and game and game != launch.game:
        raise InvalidGame()


# --- provider calls ---------------------------------------------------------------------------


def casino_balance(*, query: BalanceQuery, now: datetime) -> WalletResult:
    """The player's cash balance. Raises InvalidToken, TokenExpired, PlayerMismatch."""
    launch = _launch_resolve(query.caller)
    if now >= launch.expires_at:
        raise TokenExpired()
    return WalletResult(player_id=launch.player_id, currency=launch.currency,
                        balance=cash_balance(player_id=launch.player_id, currency=launch.currency))


def casino_bet(*, cmd: BetCommand, now: datetime) -> WalletResult:
    """Debit a bet exactly once by its transaction id.

    Raises InvalidToken, TokenExpired, PlayerMismatch, WrongCurrency, InvalidGame,
    DuplicateTransaction, TransactionRolledBack (a rollback came first), RoundClosed,
    InsufficientFunds, and whatever the bet gates raise (AccountRestricted, limits).
    """
    caller = cmd.caller
    policy = provider_policy(caller.provider)
    launch = _launch_resolve(caller)
    if now >= launch.expires_at:
        raise TokenExpired()
    _check_call(policy, launch, currency=cmd.currency, game=cmd.game)
    if cmd.amount < 0 or (cmd.amount == 0 and not cmd.free):
        raise InvalidPayload("A bet amount must be positive.")
    fp = _fingerprint(TxKind.BET, launch.player_id, cmd.amount, cmd.currency, cmd.round_id,
                      cmd.game, cmd.free)
    debit = 0 if cmd.free else cmd.amount

    def body() -> WalletResult:
        with service_atomic():
            row_id = _claim(provider=caller.provider, transaction_id=cmd.transaction_id,
                            kind=TxKind.BET, player_id=launch.player_id, currency=cmd.currency,
                            amount=debit, game=cmd.game, fingerprint=fp, now=now,
                            request_id=caller.request_id)
            if row_id is None:
                row = _lock_tx(caller.provider, cmd.transaction_id)
                return _replay(row, kind=TxKind.BET, fingerprint=fp)
            rnd = _round_lock(provider=caller.provider, round_id=cmd.round_id,
                              player_id=launch.player_id, currency=cmd.currency, game=cmd.game,
                              now=now, create=True)
            if rnd.status != RoundStatus.OPEN:
                raise RoundClosed()
            _bet_gates(launch=launch, amount=debit, currency=cmd.currency, now=now)
            balance = None
            txn = None
            if debit:
                # Cash first, then an open bonus's money; wagering advances here (bonuses).
                debited = casino_stake(
                    player_id=launch.player_id, currency=cmd.currency, amount=debit,
                    game=cmd.game, kind=TransactionKind.CASINO_BET,
                    dedupe_key=f"casino:{caller.provider}:{cmd.transaction_id}",
                    reference=f"casino_round:{rnd.pk}",
                    stake_reference=_stake_reference(caller.provider, cmd.transaction_id),
                    external_reference=f"{caller.provider}:{cmd.transaction_id}"[:200],
                    metadata={"provider": caller.provider, "round": cmd.round_id,
                              "game": cmd.game},
                    now=now,
                )
                txn = debited.transaction
                balance = debited.cash_after
                _round_add(rnd, bets=debit)
                _event("casino.bet", provider=caller.provider, transaction_id=cmd.transaction_id,
                       rnd=rnd, player_id=launch.player_id, currency=cmd.currency, now=now,
                       stake=debit)
            if balance is None:
                balance = cash_balance(player_id=launch.player_id, currency=cmd.currency)
            if cmd.round_closed:
                _round_close(rnd, now=now, reason=f"closed by bet {cmd.transaction_id}")
            _finish(row_id, round_id=rnd.pk, ledger_transaction_id=getattr(txn, "pk", None),
                    balance_after=balance)
            return WalletResult(player_id=launch.player_id, currency=cmd.currency,
                                balance=balance, transaction_id=cmd.transaction_id)

    return _refused(body, player_id=launch.player_id, currency=launch.currency)


def casino_win(*, cmd: WinCommand, now: datetime) -> WalletResult:
    """Credit a win exactly once by its transaction id (an expired token is accepted).

    Raises InvalidToken, PlayerMismatch, WrongCurrency, InvalidGame, InvalidPayload,
    DuplicateTransaction, TransactionNotFound (unknown bet), InvalidReference,
    TransactionRolledBack (its bet was rolled back and the provider's rule refuses).
    """
    caller = cmd.caller
    policy = provider_policy(caller.provider)
    launch = _launch_resolve(caller)
    _check_call(policy, launch, currency=cmd.currency, game=cmd.game)
    if cmd.amount < 0:
        raise InvalidPayload("A win amount cannot be negative.")
    if cmd.win_kind == WinKind.REGULAR and not cmd.reference_transaction_id:
        raise InvalidPayload("A win must reference its bet (free-spin and jackpot wins may not).")
    fp = _fingerprint(TxKind.WIN, launch.player_id, cmd.amount, cmd.currency, cmd.round_id,
                      cmd.game, cmd.reference_transaction_id, str(cmd.win_kind))

    def body() -> WalletResult:
        with service_atomic():
            row_id = _claim(provider=caller.provider, transaction_id=cmd.transaction_id,
                            kind=TxKind.WIN, player_id=launch.player_id, currency=cmd.currency,
                            amount=cmd.amount, game=cmd.game, fingerprint=fp,
                            reference=cmd.reference_transaction_id, win_kind=cmd.win_kind,
                            now=now, request_id=caller.request_id)
            if row_id is None:
                row = _lock_tx(caller.provider, cmd.transaction_id)
                return _replay(row, kind=TxKind.WIN, fingerprint=fp)
            bet = None
            if cmd.reference_transaction_id:
                bet = _lock_tx(caller.provider, cmd.reference_transaction_id)
                if bet is None:
                    raise TransactionNotFound("The referenced bet does not exist.")
                if bet.kind != TxKind.BET:
                    raise InvalidReference("A win must reference a bet.")
                if bet.player_id != launch.player_id:
                    raise PlayerMismatch("The referenced bet belongs to another player.")
                if (bet.status in (TxStatus.ROLLED_BACK, TxStatus.TOMBSTONE)
                        and policy.win_after_rollback == "refuse"):
                    raise TransactionRolledBack("The referenced bet was rolled back.")
            if bet is not None and bet.round_id is not None:
                rnd = CasinoRound.objects.select_for_update().get(pk=bet.round_id)
                if rnd.provider_round_id != cmd.round_id:
                    raise InvalidReference("The win's round differs from its bet's.")
            else:
                rnd = _round_lock(provider=caller.provider, round_id=cmd.round_id,
                                  player_id=launch.player_id, currency=cmd.currency,
                                  game=cmd.game, now=now, create=True)
            txn = None
            balance = None
            if cmd.amount:
                # A win lowers the player's net loss (responsible gambling); never refuses.
                hooks_run("STAKE_RETURN_HOOKS", player_id=launch.player_id, currency=cmd.currency,
                          stake=0, payout=cmd.amount, staked_at=None, now=now)
                # A win of a bonus-funded bet splits in the bet's proportion (bonuses).
                credited = casino_return(
                    player_id=launch.player_id, currency=cmd.currency, amount=cmd.amount,
                    stake_reference=(_stake_reference(caller.provider, bet.transaction_id)
                                     if bet is not None else None),
                    kind=TransactionKind.CASINO_WIN,
                    dedupe_key=f"casino:{caller.provider}:{cmd.transaction_id}",
                    reference=f"casino_round:{rnd.pk}",
                    external_reference=f"{caller.provider}:{cmd.transaction_id}"[:200],
                    metadata={"provider": caller.provider, "round": cmd.round_id,
                              "game": cmd.game, "win_kind": str(cmd.win_kind),
                              "bet": cmd.reference_transaction_id},
                    rollback=False, now=now,
                )
                txn = credited.transaction
                balance = credited.cash_after
                _round_add(rnd, wins=cmd.amount)
                _event("casino.win", provider=caller.provider, transaction_id=cmd.transaction_id,
                       rnd=rnd, player_id=launch.player_id, currency=cmd.currency, now=now,
                       payout=cmd.amount, win_kind=str(cmd.win_kind))
            if balance is None:
                balance = cash_balance(player_id=launch.player_id, currency=cmd.currency)
            if cmd.round_closed or policy.round_close == "first_win":
                _round_close(rnd, now=now, reason=f"closed by win {cmd.transaction_id}")
            _finish(row_id, round_id=rnd.pk, ledger_transaction_id=getattr(txn, "pk", None),
                    balance_after=balance)
            return WalletResult(player_id=launch.player_id, currency=cmd.currency,
                                balance=balance, transaction_id=cmd.transaction_id)

    return _refused(body, player_id=launch.player_id, currency=launch.currency)


def casino_rollback(*, cmd: RollbackCommand, now: datetime) -> WalletResult:
    """Reverse a bet exactly once (an expired token is accepted).

    A bet not seen yet gets a durable tombstone (the late bet is refused) and the answer the
    provider's policy names (success, or transaction_not_found). Rolling back a bet already
    rolled back is a no-op success. Raises InvalidToken, PlayerMismatch,
    DuplicateTransaction, InvalidReference (not a bet).
    """
    caller = cmd.caller
    policy = provider_policy(caller.provider)
    launch = _launch_resolve(caller)
    if not cmd.reference_transaction_id:
        raise InvalidPayload("A rollback must reference the bet it reverses.")
    fp = _fingerprint(TxKind.ROLLBACK, launch.player_id, cmd.reference_transaction_id,
                      cmd.round_id, cmd.game)
    currency = launch.currency

    def body() -> WalletResult:
        with service_atomic():
            row_id = _claim(provider=caller.provider, transaction_id=cmd.transaction_id,
                            kind=TxKind.ROLLBACK, player_id=launch.player_id, currency=currency,
                            game=cmd.game, fingerprint=fp, reference=cmd.reference_transaction_id,
                            now=now, request_id=caller.request_id)
            if row_id is None:
                row = _lock_tx(caller.provider, cmd.transaction_id)
                return _replay(row, kind=TxKind.ROLLBACK, fingerprint=fp)
            tombstone = _claim(provider=caller.provider,
                               transaction_id=cmd.reference_transaction_id, kind=TxKind.BET,
                               status=TxStatus.TOMBSTONE, player_id=launch.player_id,
                               currency=currency, game=cmd.game, now=now,
                               outcome_code=TransactionRolledBack.code,
                               request_id=caller.request_id)
            if tombstone is not None:
                # The bet has not arrived (or never will): nothing to reverse, and the
                # tombstone refuses it if it does.
                code = "ok" if policy.unknown_rollback == "ok" else TransactionNotFound.code
                balance = cash_balance(player_id=launch.player_id, currency=currency)
                _finish(row_id, outcome_code=code, balance_after=balance)
                return WalletResult(player_id=launch.player_id, currency=currency,
                                    balance=balance, code=code, transaction_id=cmd.transaction_id)
            bet = _lock_tx(caller.provider, cmd.reference_transaction_id)
            if bet.kind != TxKind.BET:
                raise InvalidReference("Only bets can be rolled back.")
            if bet.player_id != launch.player_id:
                raise PlayerMismatch("The referenced bet belongs to another player.")
            rnd = None
            txn = None
            reversed_amount = 0
            if bet.round_id is not None:
                rnd = CasinoRound.objects.select_for_update().get(pk=bet.round_id)
            if bet.status == TxStatus.APPLIED:
                reversed_amount = bet.amount
                if bet.ledger_transaction_id is not None:
                    # The stake leaves the player's limit counters; never refuses.
                    hooks_run("STAKE_RETURN_HOOKS", player_id=bet.player_id, currency=bet.currency,
                              stake=bet.amount, payout=bet.amount, staked_at=bet.created_at,
                              now=now, void=True)
                    # The bet's cash and bonus parts go back where they came from (bonuses).
                    txn = casino_return(
                        player_id=bet.player_id, currency=bet.currency, amount=bet.amount,
                        stake_reference=_stake_reference(caller.provider, bet.transaction_id),
                        kind=TransactionKind.CASINO_ROLLBACK,
                        # Named after the bet: one reversal per bet, whatever the rollback id.
                        dedupe_key=f"casino:{caller.provider}:{bet.transaction_id}:rollback",
                        reference=f"casino_round:{bet.round_id}",
                        external_reference=f"{caller.provider}:{cmd.transaction_id}"[:200],
                        reverses=LedgerTransaction(pk=bet.ledger_transaction_id),
                        metadata={"provider": caller.provider, "bet": bet.transaction_id},
                        rollback=True, now=now,
                    ).transaction
                    _event("casino.rollback", provider=caller.provider,
                           transaction_id=cmd.transaction_id, rnd=rnd, player_id=bet.player_id,
                           currency=bet.currency, now=now, stake=bet.amount,
                           bet_transaction_id=bet.transaction_id)
                ProviderTransaction.objects.filter(pk=bet.pk).update(
                    status=TxStatus.ROLLED_BACK, rolled_back_at=now)
                if rnd is not None:
                    _round_add(rnd, bets=-bet.amount)
                    _round_after_rollback(rnd, now=now, rollback_id=cmd.transaction_id)
            if rnd is not None and cmd.round_closed:
                _round_close(rnd, now=now, reason=f"closed by rollback {cmd.transaction_id}")
            balance = cash_balance(player_id=launch.player_id, currency=currency)
            _finish(row_id, round_id=getattr(rnd, "pk", None), amount=reversed_amount,
                    ledger_transaction_id=getattr(txn, "pk", None), balance_after=balance)
            return WalletResult(player_id=launch.player_id, currency=currency, balance=balance,
                                transaction_id=cmd.transaction_id)

    return _refused(body, player_id=launch.player_id, currency=currency)


def _round_after_rollback(rnd: CasinoRound, *, now: datetime, rollback_id: str) -> None:
    """A round whose every bet is rolled back and that paid nothing is rolled back."""
    if rnd.status == RoundStatus.ROLLED_BACK or rnd.win_total:
        return
    live = (ProviderTransaction.objects
            .filter(round=rnd, kind=TxKind.BET, status=TxStatus.APPLIED).exists())
    if not live:
        rnd.roll_back(now=now)
        save_with_history(rnd, reason=f"rolled back by {rollback_id}")


def casino_round_end(*, cmd: RoundEndCommand, now: datetime) -> WalletResult:
    """Close a round (no more bets). Closing a closed round is a no-op.

    Raises InvalidToken, PlayerMismatch, TransactionNotFound (no such round).
    """
    launch = _launch_resolve(cmd.caller)
    with service_atomic():
        rnd = _round_lock(provider=cmd.caller.provider, round_id=cmd.round_id,
                          player_id=launch.player_id, currency=launch.currency, game="",
                          now=now, create=False)
        if rnd is None:
            raise TransactionNotFound("No such round.", code="round_not_found")
        _round_close(rnd, now=now, reason="round end")
    return WalletResult(player_id=launch.player_id, currency=launch.currency,
                        balance=cash_balance(player_id=launch.player_id, currency=launch.currency))
