"""Sportsbook throughput: bet placement and market settlement, service layer vs raw SQL.

(a) placement: PROCS processes place PLACE bets each way (`betting.services.bet_place` vs the
    same rows written by hand-written SQL: share-locked price, account locks, ledger
    transaction + chained entries, bet, leg, bet history, outbox event);
(b) settlement of a market with 10,000 open bets: `market_settlement_process` over PROCS
    disjoint chunks (what the chunk tasks run: one transaction per bet) vs the same writes
    in raw SQL over the same number of processes.
Both sides run in the same throwaway database in the same run. Prints bets/s and ratios.

    DJANGO_SETTINGS_MODULE=config.settings.dev .venv/bin/python bench/bet_placement.py \
        [--procs 4] [--place 1000] [--settle 10000]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import random
import time
import uuid
from decimal import Decimal

from _setup import bench_database, drop_database

DB = "bench_bet_placement"
PLAYERS = 400
FUNDS = 10**12


def _setup() -> dict:
    from django.db import connection
    from django.utils import timezone

    from betting.services import MarketSpec, SelectionSpec, event_create
    from users.models import User
    from wallet.ledger import player_accounts, system_account

    users = User.objects.bulk_create(
        [User(username=f"bettor{i}", email=f"bettor{i}@x.test") for i in range(PLAYERS)])
    ids = [u.pk for u in users]
    accounts = {}
    for pid in ids:
        accts = player_accounts(player_id=pid, currency="USD")
        accounts[pid] = (accts.cash.pk, accts.reserved.pk)
    system_account("provider_clearing", "USD")
    house = system_account("house", "USD").pk
    # Fund everyone in one balanced set-based statement pair (bench set-up only).
    with connection.cursor() as cur:
        cur.execute("SET session_replication_role = replica")
        cur.execute("INSERT INTO wallet_transaction (kind, reference, external_reference, reason, "
                    "metadata, created_at) VALUES ('deposit', 'bench-funding', '', '', '{}', now()) "
                    "RETURNING id")
        txn = cur.fetchone()[0]
        cur.execute("UPDATE wallet_account SET balance = %s WHERE owner_id IS NOT NULL AND kind = 'cash'",
                    [FUNDS])
        cur.execute("INSERT INTO wallet_entry (transaction_id, account_id, currency, amount, "
                    "balance_after, prev_hash, hash, created_at) SELECT %s, id, 'USD', %s, %s, '', '', "
                    "now() FROM wallet_account WHERE owner_id IS NOT NULL AND kind = 'cash'",
                    [txn, FUNDS, FUNDS])
        cur.execute("INSERT INTO wallet_entry (transaction_id, account_id, currency, amount, "
                    "created_at, prev_hash, hash) SELECT %s, id, 'USD', %s, now(), '', '' "
                    "FROM wallet_account WHERE owner_id IS NULL AND kind = 'provider_clearing'",
                    [txn, -FUNDS * PLAYERS])
        cur.execute("SET session_replication_role = origin")

    big = {"max_stake": Decimal("1000000.00"), "max_payout": Decimal("100000000.00")}
    markets = {}
    for side in ("service", "raw"):
        event = event_create(
            name=f"bench {side}", starts_at=timezone.now(), actor=None, now=timezone.now(),
            markets=[MarketSpec(name="Match result", selections=[
                SelectionSpec("Home", Decimal("2.150")), SelectionSpec("Away", Decimal("1.730"))],
                **big)],
        )
        market = event.markets.get()
        markets[side] = {"market": market.pk, "selections": list(
            market.selections.order_by("id").values_list("pk", flat=True))}
    return {"players": ids, "accounts": accounts, "house": house, "markets": markets}


# --- placement ------------------------------------------------------------------------------

def _service_place(ctx, market, count, out, barrier):
    import django

    django.setup()
    from django.db import connection
    from django.utils import timezone

    from betting.services import LegRequest, bet_place
    from users.models import User

    players = {u.pk: u for u in User.objects.filter(pk__in=ctx["players"])}
    rng = random.Random()
    barrier.wait()
    start = time.time()
    for _ in range(count):
        bet_place(player=players[rng.choice(ctx["players"])],
                  legs=[LegRequest(rng.choice(market["selections"]), Decimal("1.001"))],
                  stake=rng.randint(100, 5_000), currency="USD", odds_change="any",
                  now=timezone.now())
    out.put((start, time.time()))
    connection.close()


SQL_PRICE = ("SELECT s.id, s.odds, s.odds_version, m.id, m.status, m.event_id FROM betting_selection s "
             "JOIN betting_market m ON m.id = s.market_id WHERE s.id = ANY(%s) ORDER BY s.id "
             "FOR SHARE OF s, m")
SQL_LOCK = "SELECT id, balance, chain_head FROM wallet_account WHERE id IN (%s, %s) ORDER BY id FOR UPDATE"
SQL_TXN = ("INSERT INTO wallet_transaction (kind, dedupe_key, reference, external_reference, reason, "
           "metadata, created_at) VALUES (%s, %s, %s, '', '', '{}', now()) RETURNING id")
SQL_ENTRIES_2 = ("INSERT INTO wallet_entry (transaction_id, account_id, currency, amount, balance_after, "
                 "prev_hash, hash, created_at) VALUES (%s, %s, 'USD', %s, %s, %s, %s, now()), "
                 "(%s, %s, 'USD', %s, %s, %s, %s, now())")
SQL_HOUSE_ENTRY = ("INSERT INTO wallet_entry (transaction_id, account_id, currency, amount, prev_hash, "
                   "hash, created_at) VALUES (%s, %s, 'USD', %s, '', '', now())")
SQL_UPDATE_ACCOUNTS = ("UPDATE wallet_account AS a SET balance = v.balance, chain_head = v.head FROM "
                       "(VALUES (%s::bigint, %s::bigint, %s::varchar), (%s, %s, %s)) AS v(id, balance, head) "
                       "WHERE a.id = v.id")
BET_COLUMNS = ("id, player_id, kind, currency, stake, accepted_odds, odds_change, status, payout, "
               "settle_seq, stake_transaction_id, settle_transaction_id, created_at, settled_at")
SQL_BET = (f"INSERT INTO betting_bet ({BET_COLUMNS}) VALUES (%s, %s, 'single', 'USD', %s, %s, 'any', "
           "'open', NULL, 0, %s, NULL, now(), NULL)")
SQL_BET_HISTORY = (f"INSERT INTO betting_historicalbet ({BET_COLUMNS}, history_date, "
                   "history_change_reason, history_type, history_user_id) "
                   f"SELECT {BET_COLUMNS}, now(), %s, %s, %s FROM betting_bet WHERE id = %s")
SQL_LEG = ("INSERT INTO betting_betleg (bet_id, selection_id, market_id, event_id, requested_odds, "
           "accepted_odds, odds_version, result, settled_version) "
           "VALUES (%s, %s, %s, %s, %s, %s, %s, 'pending', 0)")
SQL_OUTBOX = ("INSERT INTO events_outboxevent (event_id, topic, aggregate_type, aggregate_id, payload, "
              "created_at, attempts) VALUES (%s, %s, 'bet', %s, %s, now(), 0)")


def _move(cur, *, txn, first, second, amount):
    """Post -amount on `first`, +amount on `second` (player accounts), chained like the ledger."""
    from wallet.chain import entry_hash

    cur.execute(SQL_LOCK, [first, second])
    rows = {r[0]: r[1:] for r in cur.fetchall()}
    out = []
    for account, delta in ((first, -amount), (second, amount)):
        balance, head = rows[account]
        balance += delta
        digest = entry_hash(prev_hash=head, account_id=account, transaction_id=txn, amount=delta,
                            balance_after=balance, currency="USD")
        out.append((account, delta, balance, head, digest))
    cur.execute(SQL_ENTRIES_2, [txn, *out[0][:4], out[0][4], txn, *out[1][:4], out[1][4]])
    cur.execute(SQL_UPDATE_ACCOUNTS, [out[0][0], out[0][2], out[0][4], out[1][0], out[1][2], out[1][4]])


def _raw_place_one(cur, ctx, market, rng):
    player = rng.choice(ctx["players"])
    cash, reserved = ctx["accounts"][player]
    stake = rng.randint(100, 5_000)
    bet_id = uuid.uuid4()
    cur.execute(SQL_PRICE, [[rng.choice(market["selections"])]])
    sel, odds, version, market_id, status, event_id = cur.fetchone()
    assert status == "open"
    cur.execute(SQL_TXN, ["bet_stake", f"bet:{bet_id}:stake", f"bet:{bet_id}"])
    txn = cur.fetchone()[0]
    _move(cur, txn=txn, first=cash, second=reserved, amount=stake)
    cur.execute(SQL_BET, [bet_id, player, stake, odds, txn])
    cur.execute(SQL_BET_HISTORY, [None, "+", player, bet_id])
    cur.execute(SQL_LEG, [bet_id, sel, market_id, event_id, Decimal("1.001"), odds, version])
    cur.execute(SQL_OUTBOX, [uuid.uuid4(), "bet.placed", str(bet_id), json.dumps(
        {"bet_id": str(bet_id), "player_id": player, "currency": "USD", "stake": stake,
         "occurred_at": "now"})])


def _raw_place(ctx, market, count, out, barrier):
    import django

    django.setup()
    from django.db import connection, transaction

    rng = random.Random()
    barrier.wait()
    start = time.time()
    for _ in range(count):
        with transaction.atomic(durable=True), connection.cursor() as cur:
            _raw_place_one(cur, ctx, market, rng)
    out.put((start, time.time()))
    connection.close()


def _place(target, ctx, market, total, procs) -> float:
    from django.db import connections

    connections.close_all()
    out = mp.Queue()
    barrier = mp.Barrier(procs)
    share = [total // procs + (1 if i < total % procs else 0) for i in range(procs)]
    workers = [mp.Process(target=target, args=(ctx, market, n, out, barrier)) for n in share]
    for w in workers:
        w.start()
    spans = [out.get() for _ in workers]
    for w in workers:
        w.join()
    return total / (max(e for _, e in spans) - min(s for s, _ in spans))


# --- settlement -----------------------------------------------------------------------------

def _service_settle_worker(market_id, bet_ids, out, barrier):
    import django

    django.setup()
    from django.db import connection
    from django.utils import timezone

    from betting.services import market_settlement_process

    barrier.wait()
    start = time.time()
    report = market_settlement_process(market_id=market_id, now=timezone.now(), bet_ids=bet_ids)
    assert set(report.counts) <= {"settled"}, report.counts
    out.put((start, time.time()))
    connection.close()


def _raw_settle_worker(ctx_market, bet_ids, out, barrier):
    import django

    django.setup()
    from django.db import connection

    ctx, market = ctx_market
    barrier.wait()
    start = time.time()
    _raw_settle_bets(ctx, market, bet_ids)
    out.put((start, time.time()))
    connection.close()


def _settle(target, arg, bet_ids, procs) -> float:
    """Run `procs` workers over disjoint slices of `bet_ids` (as the chunk tasks do)."""
    from django.db import connections

    connections.close_all()
    out = mp.Queue()
    barrier = mp.Barrier(procs)
    workers = [mp.Process(target=target, args=(arg, bet_ids[i::procs], out, barrier))
               for i in range(procs)]
    for w in workers:
        w.start()
    spans = [out.get() for _ in workers]
    for w in workers:
        w.join()
    return max(e for _, e in spans) - min(s for s, _ in spans)


def _service_settle(market, procs) -> float:
    from django.utils import timezone

    from betting import services

    # Measure the tasks' work here; queue nothing on a broker other people may consume.
    services._enqueue_settlement = lambda market_id: None
    services.market_settle(market_id=market["market"], winning_selection_ids=[market["selections"][0]],
                           actor=None, now=timezone.now())
    bet_ids = [str(b) for b in services.market_unsettled_bet_ids(market_id=market["market"])]
    return _settle(_service_settle_worker, market["market"], bet_ids, procs)


def _raw_settle(ctx, market, procs) -> float:
    from django.db import connection

    winner = market["selections"][0]
    with connection.cursor() as cur:
        cur.execute("UPDATE betting_market SET status = 'settled', winning_selection_ids = %s, "
                    "settlement_version = 1, resulted_at = now() WHERE id = %s",
                    [json.dumps([winner]), market["market"]])
        cur.execute("SELECT DISTINCT bet_id FROM betting_betleg WHERE market_id = %s AND "
                    "settled_version < 1 ORDER BY bet_id", [market["market"]])
        bet_ids = [r[0] for r in cur.fetchall()]
    return _settle(_raw_settle_worker, (ctx, market), bet_ids, procs)


def _raw_settle_bets(ctx, market, bet_ids) -> None:
    from django.db import connection, transaction

    from wallet.chain import entry_hash

    accounts = ctx["accounts"]
    for bet_id in bet_ids:
        with transaction.atomic(durable=True), connection.cursor() as cur:
            cur.execute("SELECT player_id, stake, status FROM betting_bet WHERE id = %s FOR UPDATE",
                        [bet_id])
            player, stake, status = cur.fetchone()
            if status != "open":
                continue
            cur.execute("SELECT status, winning_selection_ids, settlement_version FROM betting_market "
                        "WHERE id = %s", [market["market"]])
            _, winners, version = cur.fetchone()
            winners = json.loads(winners) if isinstance(winners, str) else winners
            cur.execute("SELECT id, selection_id, accepted_odds FROM betting_betleg WHERE bet_id = %s",
                        [bet_id])
            leg_id, selection, odds = cur.fetchone()
            won = selection in winners
            cur.execute("UPDATE betting_betleg SET result = %s, settled_version = %s WHERE id = %s",
                        ["won" if won else "lost", version, leg_id])
            payout = int(stake * odds) if won else 0
            cur.execute(SQL_TXN, ["bet_settle", f"bet:{bet_id}:settle:1", f"bet:{bet_id}"])
            txn = cur.fetchone()[0]
            cash, reserved = accounts[player]
            cur.execute(SQL_LOCK, [cash, reserved])
            rows = {r[0]: r[1:] for r in cur.fetchall()}
            changes = [(reserved, -stake)] + ([(cash, payout)] if payout else [])
            written = []
            for account, delta in changes:
                balance, head = rows[account]
                balance += delta
                digest = entry_hash(prev_hash=head, account_id=account, transaction_id=txn,
                                    amount=delta, balance_after=balance, currency="USD")
                cur.execute("INSERT INTO wallet_entry (transaction_id, account_id, currency, amount, "
                            "balance_after, prev_hash, hash, created_at) VALUES "
                            "(%s, %s, 'USD', %s, %s, %s, %s, now())",
                            [txn, account, delta, balance, head, digest])
                written.append((account, balance, digest))
            if stake - payout:
                cur.execute(SQL_HOUSE_ENTRY, [txn, ctx["house"], stake - payout])
            for account, balance, digest in written:
                cur.execute("UPDATE wallet_account SET balance = %s, chain_head = %s WHERE id = %s",
                            [balance, digest, account])
            cur.execute("UPDATE betting_bet SET status = %s, payout = %s, settle_seq = 1, "
                        "settle_transaction_id = %s, settled_at = now() WHERE id = %s",
                        ["won" if won else "lost", payout, txn, bet_id])
            cur.execute(SQL_BET_HISTORY, ["settlement", "~", None, bet_id])
            cur.execute(SQL_OUTBOX, [uuid.uuid4(), "bet.settled", str(bet_id), json.dumps(
                {"bet_id": str(bet_id), "player_id": player, "currency": "USD", "stake": stake,
                 "payout": payout, "outcome": "won" if won else "lost", "occurred_at": "now"})])


def _top_up(ctx, market, count) -> None:
    """Fill a market up to `count` open bets (set-up, not measured): bets and legs in bulk,
    their stakes held by one real ledger transaction per market."""
    from django.db import transaction

    from betting.models import Bet, BetLeg, Selection
    from wallet.ledger import Posting, ledger_post, player_accounts

    missing = count - BetLeg.objects.filter(market_id=market["market"]).count()
    if missing <= 0:
        return
    rng = random.Random(7)
    selections = {s.pk: s for s in Selection.objects.filter(pk__in=market["selections"])
                  .select_related("market")}
    bets, legs, held = [], [], {}
    for _ in range(missing):
        player, stake = rng.choice(ctx["players"]), rng.randint(100, 5_000)
        sel = selections[rng.choice(market["selections"])]
        bet = Bet(player_id=player, kind="single", currency="USD", stake=stake,
                  accepted_odds=sel.odds, odds_change="any")
        bets.append(bet)
        legs.append(BetLeg(bet=bet, selection=sel, market_id=sel.market_id,
                           event_id=sel.market.event_id, requested_odds=sel.odds,
                           accepted_odds=sel.odds, odds_version=sel.odds_version))
        held[player] = held.get(player, 0) + stake
    with transaction.atomic(durable=True):
        postings = []
        for player, amount in held.items():
            accts = player_accounts(player_id=player, currency="USD")
            postings += [Posting(accts.cash, -amount), Posting(accts.reserved, amount)]
        ledger_post(kind="bet_stake", postings=postings, reference="bench-top-up")
        Bet.objects.bulk_create(bets, batch_size=2_000)
        BetLeg.objects.bulk_create(legs, batch_size=2_000)


def _check_ledger() -> None:
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("SELECT count(*) FROM (SELECT transaction_id FROM wallet_entry GROUP BY "
                    "transaction_id, currency HAVING sum(amount) <> 0) t")
        assert cur.fetchone()[0] == 0
        cur.execute("SELECT count(*) FROM wallet_account WHERE owner_id IS NOT NULL AND kind = "
                    "'reserved' AND balance <> 0")
        assert cur.fetchone()[0] == 0, "every stake should be resolved after both settlements"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--procs", type=int, default=4)
    parser.add_argument("--place", type=int, default=1_000, help="bets placed by each side")
    parser.add_argument("--settle", type=int, default=10_000, help="open bets per settled market")
    args = parser.parse_args()
    args.place = min(args.place, args.settle)

    bench_database(DB)
    try:
        ctx = _setup()
        svc_market, raw_market = ctx["markets"]["service"], ctx["markets"]["raw"]
        place_service = _place(_service_place, ctx, svc_market, args.place, args.procs)
        place_raw = _place(_raw_place, ctx, raw_market, args.place, args.procs)
        _top_up(ctx, svc_market, args.settle)
        _top_up(ctx, raw_market, args.settle)
        settle_service = _service_settle(svc_market, args.procs)
        settle_raw = _raw_settle(ctx, raw_market, args.procs)
        _check_ledger()

        print(f"bet placement ({args.procs} processes, {args.place:,} single bets each side, "
              f"{PLAYERS} players)")
        print(f"  service (bet_place)      {place_service:8.0f} bets/s")
        print(f"  raw SQL, same writes     {place_raw:8.0f} bets/s")
        print(f"  service / raw SQL        {place_service / place_raw:8.2f}")
        print(f"settlement of a market with {args.settle:,} open bets ({args.procs} processes "
              "over disjoint chunks, one transaction per bet)")
        print(f"  service (settlement task) {settle_service:7.1f} s  "
              f"{args.settle / settle_service:8.0f} bets/s")
        print(f"  raw SQL, same writes      {settle_raw:7.1f} s  {args.settle / settle_raw:8.0f} bets/s")
        print(f"  service / raw SQL (bets/s) {settle_raw / settle_service:6.2f}")
    finally:
        from django.db import connections

        connections.close_all()
        drop_database(DB)


if __name__ == "__main__":
    main()
