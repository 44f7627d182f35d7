"""Every state change of bonuses: grants, bonus-aware stakes and settlements, wagering,
conversion, forfeit and expiry (docs/bonuses.md).

Lock order (the platform's, extended): the domain rows of the caller (bet, session and
round, casino transaction and round, deposit), then the player's compliance row
(common.gates), then the player's open bonus and its stake rows, then the player's accounts
in primary-key order (wallet.ledger). Nothing here locks a compliance row after a bonus row.

Stakes take cash first, then bonus. What a stake returns (a win, a void) goes back in the
stake's proportion: bonus share = payout x bonus_part // stake (rounded down), the rest to
cash; the bonus share of a return that arrives after its bonus closed stays with the house.
Every closing posting of a bonus (conversion, forfeit, expiry) uses the one dedupe key
`bonus:<id>:close`, so a bonus closes at most once in the ledger.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import F
from django_fsm import can_proceed

from common.db import service_atomic
from common.errors import BadRequest
from common.gates import compliance_row_lock
from common.history import save_with_history
from common.money import format_amount
from events.services import emit
from users.models import User
from wallet.ledger import (
    Posting,
    hold_funds,
    ledger_post,
    posting_accounts,
    release_hold,
    settle_hold,
    system_account,
)
from wallet.models import Account, AccountKind, Deposit, DepositStatus, Transaction

from .errors import (
    BonusAlreadyOpen,
    BonusForfeitConfirmationRequired,
    BonusMaxBetExceeded,
    BonusNotFound,
    BonusNotOpen,
    BonusStaffRecipient,
    CampaignInactive,
    CampaignNotFound,
    InvalidCampaign,
)
from .models import (
    OPEN_BONUS_STATUSES,
    WAGERING_STATUSES,
    BonusStake,
    BonusStatus,
    BonusTransactionKind,
    Campaign,
    PlayerBonus,
    Product,
    StakeStatus,
    Trigger,
)

# --- locks and reads under them ----------------------------------------------------------------


def _open_bonus_lock(*, player_id: int, currency: str) -> PlayerBonus | None:
    return (PlayerBonus.objects.select_for_update()
            .filter(player_id=player_id, currency=currency, status__in=OPEN_BONUS_STATUSES)
            .first())


def _balances_lock(*, player_id: int, currency: str) -> dict[str, int]:
    """Lock the player's accounts (pk order, as the ledger does) and read their balances."""
    accts = posting_accounts(player_id=player_id, currency=currency)
    rows = (Account.objects.select_for_update()
            .filter(pk__in=[accts.cash.pk, accts.bonus.pk, accts.reserved.pk]).order_by("pk")
            .values_list("kind", "balance"))
    return dict(rows)


def _postings(*pairs: tuple[Account, int]) -> list[Posting]:
    net: dict[int, list] = {}
    for account, amount in pairs:
        net.setdefault(account.pk, [account, 0])[1] += amount
    return [Posting(account, amount) for account, amount in net.values() if amount]


def _payload(pb: PlayerBonus, now: datetime, **extra) -> dict:
    return {"bonus_id": str(pb.pk), "player_id": pb.player_id, "currency": pb.currency,
            "amount": pb.amount, "status": pb.status, "occurred_at": now.isoformat(), **extra}


# --- grants ------------------------------------------------------------------------------------


def grant_amount(*, campaign: Campaign, deposit_amount: int | None) -> int:
    """The bonus a campaign gives: a fixed amount, or percent of the deposit (rounded down)
    capped by `cap`."""
    if campaign.fixed_amount is not None:
        return campaign.fixed_amount
    if not deposit_amount:
        return 0
    amount = deposit_amount * campaign.percent // 100
    if campaign.cap is not None:
        amount = min(amount, campaign.cap)
    return amount


def _grant(*, player_id: int, campaign: Campaign, amount: int, grant_key: str, now: datetime,
           actor=None, reason: str = "", deposit_reference: str = "") -> PlayerBonus:
    """Create the bonus and credit it (house -> bonus). The caller holds the compliance row."""
    pb = PlayerBonus(
        player_id=player_id, campaign=campaign, currency=campaign.currency, grant_key=grant_key,
        amount=amount, wagering_required=amount * campaign.wagering_multiple,
        contributions=campaign.contributions(), max_bet=campaign.max_bet,
        max_conversion=campaign.max_conversion,
        expires_at=now + timedelta(days=campaign.valid_days), reason=reason,
        granted_by=actor if getattr(actor, "pk", None) else None,
        deposit_reference=deposit_reference,
    )
    save_with_history(pb, user=actor, reason=reason or f"granted by campaign {campaign.pk}",
                      force_insert=True)
    accts = posting_accounts(player_id=player_id, currency=campaign.currency)
    ledger_post(
        kind=BonusTransactionKind.GRANT,
        # Named after the business event: a replayed or parallel trigger posts nothing more.
        dedupe_key=f"bonus:grant:{grant_key}",
        reference=f"bonus:{pb.pk}",
        created_by_id=getattr(actor, "pk", None), reason=reason,
        postings=[Posting(system_account(AccountKind.HOUSE, campaign.currency), -amount),
                  Posting(accts.bonus, amount)],
        metadata={"campaign_id": campaign.pk, "grant_key": grant_key},
    )
    emit(topic="bonus.granted", aggregate_type="bonus", aggregate_id=pb.pk,
         payload=_payload(pb, now, campaign_id=campaign.pk))
    return pb


def deposit_credited(*, player_id: int, currency: str, amount: int, deposit_id, now: datetime,
                     **_) -> None:
    """DEPOSIT_CREDIT_HOOKS: grant the first-deposit bonus inside the deposit's webhook
    transaction, after the compliance row is locked (two parallel first deposits of one
    player are ordered on it) and before the deposit's own posting. Never refuses: the money
    has arrived; a deposit that qualifies for nothing grants nothing."""
    if (Deposit.objects.filter(player_id=player_id, status=DepositStatus.SUCCEEDED)
            .exclude(pk=deposit_id).exists()):
        return
    grant_key = f"first_deposit:{player_id}"
    if PlayerBonus.objects.filter(grant_key=grant_key).exists():
        return
    campaign = (Campaign.objects.filter(trigger=Trigger.FIRST_DEPOSIT, currency=currency,
                                        active=True, min_deposit__lte=amount)
                .order_by("-pk").first())
    if campaign is None:
        return
    if User.objects.filter(pk=player_id, is_staff=True).exists():
        return
    if _open_bonus_lock(player_id=player_id, currency=currency) is not None:
        return
    bonus = grant_amount(campaign=campaign, deposit_amount=amount)
    if bonus <= 0:
        return
    _grant(player_id=player_id, campaign=campaign, amount=bonus, grant_key=grant_key, now=now,
           reason=f"first deposit {deposit_id}", deposit_reference=f"deposit:{deposit_id}")


def bonus_grant_manual(*, player_id: int, campaign_id: int, amount: int | None = None,
                       reason: str, actor, now: datetime) -> PlayerBonus:
    """Grant a bonus by hand (staff), with a reason.

    Raises BadRequest (reason_required), CampaignNotFound, CampaignInactive, BonusStaffRecipient,
    BonusAlreadyOpen, InvalidCampaign (no amount). A refusal writes nothing.
    """
    if not reason.strip():
        raise BadRequest("A reason is required to grant a bonus.", code="reason_required")
    with service_atomic():
        campaign = Campaign.objects.filter(pk=campaign_id).first()
        if campaign is None:
            raise CampaignNotFound()
        if not campaign.active:
            raise CampaignInactive()
        player = User.objects.filter(pk=player_id).first()
        if player is None:
            raise BonusNotFound("No such player.", code="player_not_found")
        if player.is_staff:
            raise BonusStaffRecipient()
        # The per-player serialization point of every money decision, before any bonus row.
        compliance_row_lock(player_id=player_id)
        if _open_bonus_lock(player_id=player_id, currency=campaign.currency) is not None:
            raise BonusAlreadyOpen()
        value = amount if amount is not None else grant_amount(campaign=campaign, deposit_amount=None)
        if value <= 0:
            raise InvalidCampaign("Give an amount: the campaign has no fixed amount.",
                                  code="amount_required")
        return _grant(player_id=player_id, campaign=campaign, amount=value,
                      grant_key=f"manual:{uuid.uuid4()}", now=now, actor=actor, reason=reason)


def campaign_create(*, actor, now: datetime, **terms) -> Campaign:
    """Create a campaign. Raises InvalidCampaign on terms the database would refuse."""
    if (terms.get("percent") is None) == (terms.get("fixed_amount") is None):
        raise InvalidCampaign("Give either percent or fixed_amount.")
    games = terms.get("contribution_games") or {}
    if not isinstance(games, dict) or any(
            not isinstance(v, int) or isinstance(v, bool) or not 0 <= v <= 100 for v in games.values()):
        raise InvalidCampaign("contribution_games maps game codes to percents 0-100.")
    with service_atomic():
        campaign = Campaign(created_by=actor, **terms)
        save_with_history(campaign, user=actor, reason="created")
    return campaign


# --- stakes and settlements ---------------------------------------------------------------------


@dataclass(frozen=True)
class Split:
    cash: int
    bonus: int


def _check_max_bet(pb: PlayerBonus, amount: int) -> None:
    if pb.status in WAGERING_STATUSES and pb.max_bet is not None and amount > pb.max_bet:
        raise BonusMaxBetExceeded(extra={"max_bet": format_amount(pb.max_bet, pb.currency),
                                         "currency": pb.currency, "bonus_id": str(pb.pk)})


def _split_stake(*, player_id: int, currency: str, amount: int) -> Split:
    balances = _balances_lock(player_id=player_id, currency=currency)
    cash = min(balances.get(AccountKind.CASH, 0), amount)
    # More than cash + bonus: the ledger refuses the bonus overdraft (insufficient_funds).
    return Split(cash=cash, bonus=amount - cash)


def _track(pb: PlayerBonus, *, reference: str, product: str, game: str, amount: int,
           split: Split, round_reference: str = "") -> BonusStake:
    stake = BonusStake.objects.create(
        player_bonus=pb, player_id=pb.player_id, currency=pb.currency, reference=reference,
        product=product, game=game, amount=amount, cash_part=split.cash, bonus_part=split.bonus,
        round_reference=round_reference)
    if pb.status == BonusStatus.GRANTED:
        pb.activate()
        save_with_history(pb, reason=f"first stake {reference}")
    return stake


def stake_hold(*, player_id: int, currency: str, amount: int, product: str, game: str = "",
               kind: str, dedupe_key: str, reference: str, metadata: dict | None = None,
               now: datetime) -> Transaction:
    """Hold a stake in reserved, cash first, then bonus (wallet.ledger.hold_funds when the
    player has no open bonus). Raises BonusMaxBetExceeded, InsufficientFunds."""
    pb = _open_bonus_lock(player_id=player_id, currency=currency)
    if pb is None:
        return hold_funds(player_id=player_id, currency=currency, amount=amount, kind=kind,
                          dedupe_key=dedupe_key, reference=reference, metadata=metadata)
    _check_max_bet(pb, amount)
    split = _split_stake(player_id=player_id, currency=currency, amount=amount)
    accts = posting_accounts(player_id=player_id, currency=currency)
    txn = ledger_post(
        kind=kind, dedupe_key=dedupe_key, reference=reference,
        metadata={**(metadata or {}), "bonus_id": str(pb.pk), "cash_part": split.cash,
                  "bonus_part": split.bonus},
        postings=_postings((accts.cash, -split.cash), (accts.bonus, -split.bonus),
                           (accts.reserved, amount)),
    )
    _track(pb, reference=reference, product=product, game=game, amount=amount, split=split)
    return txn


def _return_split(stake: BonusStake, *, returned: int, void: bool) -> Split:
    if void:
        return Split(cash=stake.cash_part, bonus=stake.bonus_part)
    bonus = returned * stake.bonus_part // stake.amount
    return Split(cash=returned - bonus, bonus=bonus)


def _contribute(pb: PlayerBonus, stake: BonusStake, *, now: datetime) -> None:
    """Advance wagering by the stake weighted by its product (in the settlement's transaction)."""
    if pb.status not in WAGERING_STATUSES:
        return
    weight = pb.contribution_percent(product=stake.product, game=stake.game)
    contribution = stake.amount * weight // 100
    if contribution <= 0:
        return
    stake.contribution = contribution
    pb.wagered += contribution
    # A counter under the bonus row's lock: no history row per stake (transitions have one).
    PlayerBonus.objects.filter(pk=pb.pk).update(wagered=F("wagered") + contribution)
    if pb.status == BonusStatus.ACTIVE and pb.wagered >= pb.wagering_required:
        pb.complete_wagering()
        save_with_history(pb, reason=f"wagering complete with {stake.reference}")
        emit(topic="bonus.wagered", aggregate_type="bonus", aggregate_id=pb.pk,
             payload=_payload(pb, now, wagered=pb.wagered))


def _convert_if_done(pb: PlayerBonus, *, now: datetime) -> None:
    if pb.status != BonusStatus.WAGERED:
        return
    if BonusStake.objects.filter(player_bonus=pb, status=StakeStatus.OPEN).exists():
        return  # a bonus-funded stake is still open: its return converts with the rest
    _close(pb, action="convert", now=now, reason="wagering complete")


def stake_settle(*, player_id: int, currency: str, stake: int, payout: int, kind: str,
                 dedupe_key: str, reference: str, metadata: dict | None = None, now: datetime,
                 void: bool = False, created_by_id: int | None = None,
                 reason: str = "") -> Transaction:
    """Resolve a held stake (wallet.ledger.settle_hold / release_hold when no bonus tracked
    it): the payout splits between cash and bonus in the stake's proportion; a first,
    non-void settlement advances wagering; a wagered bonus with no open stake converts."""
    bs = BonusStake.objects.select_for_update().filter(reference=reference).first()
    if bs is None:
        if void:
            return release_hold(player_id=player_id, currency=currency, amount=stake, kind=kind,
                                dedupe_key=dedupe_key, reference=reference, metadata=metadata,
                                created_by_id=created_by_id, reason=reason)
        return settle_hold(player_id=player_id, currency=currency, stake=stake, payout=payout,
                           kind=kind, dedupe_key=dedupe_key, reference=reference,
                           metadata=metadata)
    pb = PlayerBonus.objects.select_for_update().get(pk=bs.player_bonus_id)
    back = _return_split(bs, returned=stake if void else payout, void=void)
    live = pb.is_open
    kept = 0 if live else back.bonus
    accts = posting_accounts(player_id=player_id, currency=currency)
    house = system_account(AccountKind.HOUSE, currency)
    txn = ledger_post(
        kind=kind, dedupe_key=dedupe_key, reference=reference, created_by_id=created_by_id,
        reason=reason,
        metadata={**(metadata or {}), "bonus_id": str(pb.pk), "cash_share": back.cash,
                  "bonus_share": back.bonus if live else 0, "bonus_share_forfeited": kept},
        postings=_postings((accts.reserved, -stake), (house, stake - back.cash - (back.bonus - kept)),
                           (accts.cash, back.cash), (accts.bonus, back.bonus - kept)),
    )
    first = bs.status == StakeStatus.OPEN
    bs.returned_cash, bs.returned_bonus, bs.returned_forfeited = back.cash, back.bonus - kept, kept
    bs.status = StakeStatus.VOID if void else StakeStatus.SETTLED
    bs.settled_at = now
    if first and not void:
        _contribute(pb, bs, now=now)
    bs.save(update_fields=["returned_cash", "returned_bonus", "returned_forfeited", "status",
                           "settled_at", "contribution"])
    _convert_if_done(pb, now=now)
    return txn


# --- the seamless wallet (casino): the bet debits at once, wins and rollbacks come later ---------


@dataclass(frozen=True)
class Debit:
    transaction: Transaction | None
    cash_after: int


def casino_stake(*, player_id: int, currency: str, amount: int, game: str, dedupe_key: str,
                 reference: str, stake_reference: str, external_reference: str,
                 metadata: dict, kind: str, now: datetime) -> Debit:
    """Debit a seamless-wallet bet to the house, cash first, then bonus; with an open bonus,
    wagering advances in this transaction (the debit is the bet's settlement) and the stake
    stays open until its round closes or it is rolled back. Raises BonusMaxBetExceeded,
    InsufficientFunds."""
    pb = _open_bonus_lock(player_id=player_id, currency=currency)
    accts = posting_accounts(player_id=player_id, currency=currency)
    house = system_account(AccountKind.HOUSE, currency)
    if pb is None:
        split = Split(cash=amount, bonus=0)
    else:
        _check_max_bet(pb, amount)
        split = _split_stake(player_id=player_id, currency=currency, amount=amount)
        metadata = {**metadata, "bonus_id": str(pb.pk), "cash_part": split.cash,
                    "bonus_part": split.bonus}
    txn = ledger_post(kind=kind, dedupe_key=dedupe_key, reference=reference,
                      external_reference=external_reference, metadata=metadata,
                      postings=_postings((accts.cash, -split.cash), (accts.bonus, -split.bonus),
                                         (house, amount)))
    if pb is not None:
        bs = _track(pb, reference=stake_reference, product=Product.CASINO, game=game,
                    amount=amount, split=split, round_reference=reference)
        _contribute(pb, bs, now=now)
        if bs.contribution:
            bs.save(update_fields=["contribution"])
    return Debit(transaction=txn, cash_after=accts.cash.balance)


def casino_return(*, player_id: int, currency: str, amount: int, stake_reference: str | None,
                  dedupe_key: str, reference: str, external_reference: str, metadata: dict,
                  kind: str, rollback: bool, now: datetime,
                  reverses: Transaction | None = None) -> Debit:
    """Credit a seamless-wallet win or rollback from the house, split in the proportion of
    the bet it names (all cash when no bonus funded it). A rollback takes back the bet's
    wagering contribution while its bonus is still wagering."""
    bs = (BonusStake.objects.select_for_update().filter(reference=stake_reference).first()
          if stake_reference else None)
    accts = posting_accounts(player_id=player_id, currency=currency)
    house = system_account(AccountKind.HOUSE, currency)
    if bs is None:
        txn = ledger_post(kind=kind, dedupe_key=dedupe_key, reference=reference,
                          external_reference=external_reference, metadata=metadata,
                          reverses=reverses,
                          postings=[Posting(house, -amount), Posting(accts.cash, amount)])
        return Debit(transaction=txn, cash_after=accts.cash.balance)
    pb = PlayerBonus.objects.select_for_update().get(pk=bs.player_bonus_id)
    back = _return_split(bs, returned=amount, void=rollback)
    kept = 0 if pb.is_open else back.bonus
    postings = _postings((house, -(amount - kept)), (accts.cash, back.cash),
                         (accts.bonus, back.bonus - kept))
    # A return wholly forfeited (bonus closed, bet funded by bonus alone) posts nothing.
    txn = None if not postings else ledger_post(
        kind=kind, dedupe_key=dedupe_key, reference=reference,
        external_reference=external_reference, reverses=reverses,
        metadata={**metadata, "bonus_id": str(pb.pk), "cash_share": back.cash,
                  "bonus_share": back.bonus - kept, "bonus_share_forfeited": kept},
        postings=postings,
    )
    bs.returned_cash += back.cash
    bs.returned_bonus += back.bonus - kept
    bs.returned_forfeited += kept
    fields = ["returned_cash", "returned_bonus", "returned_forfeited"]
    if rollback:
        if bs.contribution and pb.status in WAGERING_STATUSES:
            PlayerBonus.objects.filter(pk=pb.pk).update(wagered=F("wagered") - bs.contribution)
            pb.wagered -= bs.contribution
            bs.contribution = 0
        bs.status, bs.settled_at = StakeStatus.VOID, now
        fields += ["contribution", "status", "settled_at"]
    bs.save(update_fields=fields)
    if rollback:
        _convert_if_done(pb, now=now)
    return Debit(transaction=txn, cash_after=accts.cash.balance)


def casino_round_closed(*, player_id: int, currency: str, reference: str, now: datetime) -> None:
    """The seamless-wallet round `reference` closed: its bonus stakes are settled (no win of
    theirs can come any more), and a wagered bonus with no open stake converts."""
    stakes = list(BonusStake.objects.select_for_update()
                  .filter(round_reference=reference, status=StakeStatus.OPEN)
                  .values_list("pk", "player_bonus_id"))
    if not stakes:
        return
    BonusStake.objects.filter(pk__in=[pk for pk, _ in stakes]).update(
        status=StakeStatus.SETTLED, settled_at=now)
    for bonus_id in sorted({b for _, b in stakes}):
        pb = PlayerBonus.objects.select_for_update().get(pk=bonus_id)
        _convert_if_done(pb, now=now)


# --- closing: conversion, forfeit, expiry --------------------------------------------------------


def _close(pb: PlayerBonus, *, action: str, now: datetime, reason: str, actor=None) -> PlayerBonus:
    """Empty the bonus account in one posting named `bonus:<id>:close` and close the bonus.

    convert: the balance up to max_conversion moves to cash, the excess to the house;
    forfeit / expire: the whole balance goes to the house."""
    balance = _balances_lock(player_id=pb.player_id, currency=pb.currency).get(AccountKind.BONUS, 0)
    if action == "convert":
        to_cash = balance if pb.max_conversion is None else min(balance, pb.max_conversion)
    else:
        to_cash = 0
    to_house = balance - to_cash
    if balance:
        accts = posting_accounts(player_id=pb.player_id, currency=pb.currency)
        ledger_post(
            kind=BonusTransactionKind.CONVERT if action == "convert" else BonusTransactionKind.FORFEIT,
            dedupe_key=f"bonus:{pb.pk}:close", reference=f"bonus:{pb.pk}",
            created_by_id=getattr(actor, "pk", None), reason=reason,
            postings=_postings((accts.bonus, -balance), (accts.cash, to_cash),
                               (system_account(AccountKind.HOUSE, pb.currency), to_house)),
            metadata={"action": action, "converted": to_cash, "forfeited": to_house},
        )
    if action == "convert":
        pb.convert(amount=to_cash, forfeited=to_house, now=now)
    elif action == "expire":
        pb.expire(amount=to_house, now=now)
    else:
        pb.forfeit(amount=to_house, reason=reason, now=now)
    save_with_history(pb, user=actor, reason=reason)
    emit(topic=f"bonus.{pb.status}", aggregate_type="bonus", aggregate_id=pb.pk,
         payload=_payload(pb, now, converted=to_cash, forfeited=to_house))
    return pb


def _lock_bonus(bonus_id) -> PlayerBonus:
    try:
        return PlayerBonus.objects.select_for_update().get(pk=bonus_id)
    except (PlayerBonus.DoesNotExist, ValueError, TypeError):
        raise BonusNotFound() from None


def bonus_forfeit(*, bonus_id, actor, reason: str, now: datetime) -> PlayerBonus:
    """Forfeit an open bonus (staff), with a reason: its balance goes to the house.

    Raises BadRequest (reason_required), BonusNotFound, BonusNotOpen.
    """
    if not reason.strip():
        raise BadRequest("A reason is required to forfeit a bonus.", code="reason_required")
    with service_atomic():
        pb = _lock_bonus(bonus_id)
        if not can_proceed(pb.forfeit):
            raise BonusNotOpen(extra={"status": pb.status})
        return _close(pb, action="forfeit", now=now, reason=reason, actor=actor)


def bonus_convert(*, bonus_id, now: datetime) -> PlayerBonus:
    """Convert a wagered bonus with no open stake (idempotent: anything else is left alone)."""
    with service_atomic():
        pb = _lock_bonus(bonus_id)
        _convert_if_done(pb, now=now)
    return pb


def bonuses_expire(*, now: datetime, limit: int = 500) -> int:
    """Expire bonuses past their expiry still wagering, one per transaction; convert wagered
    bonuses whose last stake closed (a missed conversion). Safe to run twice or in parallel:
    each bonus is locked and re-checked. Returns how many changed."""
    changed = 0
    due = list(PlayerBonus.objects.filter(status__in=WAGERING_STATUSES, expires_at__lte=now)
               .order_by("expires_at").values_list("pk", flat=True)[:limit])
    for pk in due:
        with service_atomic():
            pb = PlayerBonus.objects.select_for_update(skip_locked=True).filter(pk=pk).first()
            if pb is None or pb.status not in WAGERING_STATUSES or pb.expires_at > now:
                continue
            _close(pb, action="expire", now=now, reason="expired")
            changed += 1
    wagered = list(PlayerBonus.objects.filter(status=BonusStatus.WAGERED)
                   .values_list("pk", flat=True)[:limit])
    for pk in wagered:
        with service_atomic():
            pb = PlayerBonus.objects.select_for_update(skip_locked=True).filter(pk=pk).first()
            if pb is None:
                continue
            _convert_if_done(pb, now=now)
            changed += pb.status == BonusStatus.CONVERTED
    return changed


def withdrawal_requested(*, player_id: int, currency: str, amount: int, forfeit_bonus: bool,
                         now: datetime, **_) -> None:
    """WITHDRAWAL_REQUEST_HOOKS: a withdrawal while a bonus is open forfeits it, but only when
    the player confirmed (forfeit_bonus); otherwise the request is refused (409
    bonus_forfeit_confirmation_required, naming the amount that would be lost). Runs after
    the compliance row is locked, before the withdrawal's hold."""
    pb = _open_bonus_lock(player_id=player_id, currency=currency)
    if pb is None:
        return
    if not forfeit_bonus:
        balance = _balances_lock(player_id=player_id, currency=currency).get(AccountKind.BONUS, 0)
        raise BonusForfeitConfirmationRequired(extra={
            "bonus_id": str(pb.pk), "currency": currency,
            "bonus_amount": format_amount(balance, currency), "bonus_status": pb.status})
    _close(pb, action="forfeit", now=now, reason="withdrawal requested")


EXPIRE_TASK = "bonuses.tasks.bonuses_expire_task"

__all__ = [
    "EXPIRE_TASK", "bonus_convert", "bonus_forfeit", "bonus_grant_manual", "bonuses_expire",
    "campaign_create", "casino_return", "casino_round_closed", "casino_stake", "deposit_credited",
    "grant_amount", "stake_hold", "stake_settle", "withdrawal_requested",
]
