"""Sportsbook throughput: bet placement and market settlement, service layer vs raw SQL.

(a) placement: PROCS processes place PLACE bets each way (`betting.services.bet_place` vs the
    same rows written by hand-written SQL: share-locked price, account locks, ledger
    transaction + chained entries, bet, leg, bet history, outbox event);
(b) settlement of a market with BETS open bets (10,000; `--bets 100000` for a big football
    market): `market_settlement_process` over the chunk tasks' chunks dealt to PROCS
    processes (what the chunk tasks run: BETTING_SETTLEMENT_BATCH bets per transaction,
    set-based) vs the fewest bare SQL statements we know that write the same rows (bets,
    legs, history, ledger transactions and chained entries, balances, usage counters,
    events), in the same batches over the same number of processes;
then the reconciliation checks and the hash chains over the whole ledger.
Both sides run in the same throwaway database in the same run. Prints bets/s and ratios.

    DJANGO_SETTINGS_MODULE=config.settings.dev .venv/bin/python bench/bet_placement.py \
        [--procs 4] [--place 1000] [--bets 10000]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import random
import time
import uuid
from decimal import Decimal

from _setup import bench_database, drop_database

DB = "bench_bet_placement" + os.environ.get("BENCH_DB_SUFFIX", "")
PLAYERS = 400
FUNDS = 10**12


def _setup() -> dict:
    from django.db import connection
    from django.utils import timezone

    from betting.services import MarketSpec, SelectionSpec, event_create
    from users.models import User
    from wallet.chain import entry_hash
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
        # Chained like the ledger's own entries, so the hash chains verify after the run.
        cash = sorted(c for c, _ in accounts.values())
        heads = [entry_hash(prev_hash="", account_id=c, transaction_id=txn, amount=FUNDS,
                            balance_after=FUNDS, currency="USD") for c in cash]
        cur.execute("UPDATE wallet_account AS a SET balance = %s, chain_head = v.h FROM "
                    "unnest(%s::bigint[], %s::varchar[]) AS v(id, h) WHERE a.id = v.id",
                    [FUNDS, cash, heads])
        cur.execute("INSERT INTO wallet_entry (transaction_id, account_id, currency, amount, "
                    "balance_after, prev_hash, hash, created_at) SELECT %s, v.id, 'USD', %s, %s, '', "
                    "v.h, now() FROM unnest(%s::bigint[], %s::varchar[]) AS v(id, h)",
                    [txn, FUNDS, FUNDS, cash, heads])
        cur.execute("INSERT INTO wallet_entry (transaction_id, account_id, currency, amount, "
                    "created_at, prev_hash, hash) SELECT %s, id, 'USD', %s, now(), '', '' "
                    "FROM wallet_account WHERE owner_id IS NULL AND kind = 'provider_clearing'",
                    [txn, -FUNDS * PLAYERS])
        cur.execute("SET session_replication_role = origin")

    big = {"max_stake": Decimal("1000000.00"), "max_payout": Decimal("100000000.00")}
    markets = {}
    for side in ("service", "raw"):
        # Started and in-play: it takes the bets and can be resulted at once.
        event = event_create(
            name=f"bench {side}", starts_at=timezone.now(), actor=None, now=timezone.now(),
            markets=[MarketSpec(name="Match result", in_play=True, selections=[
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
                   "history_change_reason, history_type, history_user_id, history_channel) "
                   f"SELECT {BET_COLUMNS}, now(), %s, %s, %s, 'system' FROM betting_bet WHERE id = %s")
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

def _chunks(bet_ids, size):
    return [bet_ids[i:i + size] for i in range(0, len(bet_ids), size)]


def _service_settle_worker(market_id, chunks, out, barrier):
    import django

    django.setup()
    from django.db import connection
    from django.utils import timezone

    from betting.services import market_settlement_process

    barrier.wait()
    start = time.time()
    for chunk in chunks:  # what one worker's chunk tasks run
        report = market_settlement_process(market_id=market_id, now=timezone.now(), bet_ids=chunk)
        assert set(report.counts) <= {"settled"}, report.counts
    out.put((start, time.time()))
    connection.close()


def _raw_settle_worker(ctx_market, chunks, out, barrier):
    import django

    django.setup()
    from django.conf import settings
    from django.db import connection

    ctx, market = ctx_market
    barrier.wait()
    start = time.time()
    for chunk in chunks:
        for batch in _chunks(chunk, settings.BETTING_SETTLEMENT_BATCH):
            _raw_settle_batch(ctx, market, batch)
    out.put((start, time.time()))
    connection.close()


def _settle(target, arg, bet_ids, procs) -> float:
    """Run `procs` workers over the chunk tasks' chunks of `bet_ids`, dealt round-robin."""
    from django.conf import settings
    from django.db import connections

    connections.close_all()
    chunks = _chunks(bet_ids, settings.BETTING_SETTLEMENT_CHUNK)
    out = mp.Queue()
    barrier = mp.Barrier(procs)
    workers = [mp.Process(target=target, args=(arg, chunks[i::procs], out, barrier))
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
    services.enqueue_on_commit = lambda *args, **kwargs: None
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
        bet_ids = [str(r[0]) for r in cur.fetchall()]
    return _settle(_raw_settle_worker, (ctx, market), bet_ids, procs)


# The fewest statements we know that write the same rows as the service for a batch of single
# bets, in the order that keeps the players' rows locked shortest: lock and read the bets with
# their legs, read the result, result the legs, reserve the transaction ids, the bets, their
# history, the events; then the usage counters (a win lowers the net loss), lock the
# accounts, the transactions, the chained entries, the balances. Rows travel as one JSON
# parameter per statement (cheaper to send than arrays), as the service sends them.
RAW_LOCK = ("SELECT b.id, b.player_id, b.stake, l.id, l.selection_id, l.accepted_odds "
            "FROM betting_bet b JOIN betting_betleg l ON l.bet_id = b.id "
            "WHERE b.id = ANY(%s::uuid[]) AND b.status = 'open' ORDER BY b.id FOR UPDATE OF b")
RAW_LEGS = ("UPDATE betting_betleg SET result = CASE WHEN selection_id = ANY(%s::bigint[]) THEN 'won' "
            "ELSE 'lost' END, settled_version = %s WHERE id = ANY(%s::bigint[])")
RAW_IDS = ("SELECT nextval(pg_get_serial_sequence('wallet_transaction', 'id')) "
           "FROM generate_series(1, %s) ORDER BY 1")
RAW_ROWS = "json_array_elements(%s::json) AS r(v)"
RAW_BETS = ("UPDATE betting_bet AS b SET status = r.v->>1, payout = (r.v->>2)::bigint, settle_seq = 1, "
            f"settle_transaction_id = (r.v->>3)::bigint, settled_at = now() FROM {RAW_ROWS} "
            "WHERE b.id = (r.v->>0)::uuid")
RAW_HISTORY = (f"INSERT INTO betting_historicalbet ({BET_COLUMNS}, history_date, "
               "history_change_reason, history_type, history_user_id, history_channel) "
               f"SELECT {BET_COLUMNS}, now(), %s, '~', NULL, 'system' FROM betting_bet "
               "WHERE id = ANY(%s::uuid[]) ORDER BY id")
RAW_OUTBOX = ("INSERT INTO events_outboxevent (event_id, topic, aggregate_type, aggregate_id, payload, "
              "attempts) SELECT gen_random_uuid(), 'bet.settled', 'bet', r.v->>'bet_id', r.v::jsonb, 0 "
              f"FROM {RAW_ROWS}")
RAW_USAGE = f"""
INSERT INTO responsible_usage AS u (player_id, currency, day_start, week_start, month_start,
    deposit_day, deposit_week, deposit_month, wager_day, wager_week, wager_month,
    loss_day, loss_week, loss_month)
SELECT (r.v->>0)::bigint, 'USD', %s, %s, %s, 0, 0, 0, 0, 0, 0,
       (r.v->>1)::bigint, (r.v->>1)::bigint, (r.v->>1)::bigint
  FROM {RAW_ROWS} ORDER BY (r.v->>0)::bigint
ON CONFLICT (player_id, currency) DO UPDATE SET
    deposit_day = CASE WHEN u.day_start = EXCLUDED.day_start THEN u.deposit_day ELSE 0 END,
    deposit_week = CASE WHEN u.week_start = EXCLUDED.week_start THEN u.deposit_week ELSE 0 END,
    deposit_month = CASE WHEN u.month_start = EXCLUDED.month_start THEN u.deposit_month ELSE 0 END,
    wager_day = CASE WHEN u.day_start = EXCLUDED.day_start THEN u.wager_day ELSE 0 END,
    wager_week = CASE WHEN u.week_start = EXCLUDED.week_start THEN u.wager_week ELSE 0 END,
    wager_month = CASE WHEN u.month_start = EXCLUDED.month_start THEN u.wager_month ELSE 0 END,
    loss_day = CASE WHEN u.day_start = EXCLUDED.day_start THEN u.loss_day ELSE 0 END
               + EXCLUDED.loss_day,
    loss_week = CASE WHEN u.week_start = EXCLUDED.week_start THEN u.loss_week ELSE 0 END
                + EXCLUDED.loss_week,
    loss_month = CASE WHEN u.month_start = EXCLUDED.month_start THEN u.loss_month ELSE 0 END
                 + EXCLUDED.loss_month,
    day_start = EXCLUDED.day_start, week_start = EXCLUDED.week_start,
    month_start = EXCLUDED.month_start
"""
RAW_ACCOUNTS = ("SELECT id, balance, chain_head FROM wallet_account WHERE id = ANY(%s::bigint[]) "
                "ORDER BY id FOR UPDATE")
RAW_TXNS = ("INSERT INTO wallet_transaction (id, kind, dedupe_key, reference, external_reference, "
            "reason, metadata) SELECT (r.v->>0)::bigint, 'bet_settle', r.v->>1, r.v->>2, '', '', '{}' "
            f"FROM {RAW_ROWS}")
RAW_ENTRIES = ("INSERT INTO wallet_entry (transaction_id, account_id, currency, amount, balance_after, "
               "prev_hash, hash) SELECT (r.v->>0)::bigint, (r.v->>1)::bigint, 'USD', (r.v->>2)::bigint, "
               "(r.v->>3)::bigint, r.v->>4, r.v->>5 "
               "FROM json_array_elements(%s::json) WITH ORDINALITY AS r(v, n) ORDER BY r.n")
RAW_BALANCES = ("UPDATE wallet_account AS a SET balance = (r.v->>1)::bigint, chain_head = r.v->>2 "
                f"FROM {RAW_ROWS} WHERE a.id = (r.v->>0)::bigint")


def _raw_settle_batch(ctx, market, bet_ids) -> None:
    from django.db import connection, transaction
    from django.utils import timezone

    from responsible.counters import period_starts
    from wallet.chain import entry_hash

    def arr(values):
        return "{" + ",".join(str(v) for v in values) + "}"

    def rows(values):
        return json.dumps(values, separators=(",", ":"))

    accounts, house = ctx["accounts"], ctx["house"]
    with transaction.atomic(durable=True), connection.cursor() as cur:
        cur.execute(RAW_LOCK, [arr(bet_ids)])
        bets = cur.fetchall()
        cur.execute("SELECT winning_selection_ids, settlement_version FROM betting_market "
                    "WHERE id = %s", [market["market"]])
        winners, version = cur.fetchone()
        winners = json.loads(winners) if isinstance(winners, str) else winners
        cur.execute(RAW_LEGS, [arr(winners), version, arr(b[3] for b in bets)])
        outcomes = []
        losses: dict[int, int] = {}
        for bet_id, player, stake, _, selection, odds in bets:
            won = selection in winners
            payout = int(stake * odds) if won else 0
            outcomes.append((str(bet_id), player, stake, "won" if won else "lost", payout))
            if payout:
                losses[player] = losses.get(player, 0) - payout
        cur.execute(RAW_IDS, [len(outcomes)])
        txns = [r[0] for r in cur.fetchall()]
        cur.execute(RAW_BETS, [rows([[b[0], b[3], b[4], t] for b, t in zip(outcomes, txns, strict=True)])])
        cur.execute(RAW_HISTORY, [f"market {market['market']} settlement v{version}",
                                  arr(b[0] for b in outcomes)])
        now = timezone.now().isoformat()
        cur.execute(RAW_OUTBOX, [rows([
            {"bet_id": b[0], "player_id": b[1], "currency": "USD", "stake": b[2],
             "payout": b[4], "outcome": b[3], "occurred_at": now} for b in outcomes])])

        starts = period_starts(timezone.now())
        if losses:
            cur.execute(RAW_USAGE, [starts["day"], starts["week"], starts["month"],
                                    rows([[p, losses[p]] for p in sorted(losses)])])
        ids = sorted({a for _, player, *_ in outcomes for a in accounts[player]})
        cur.execute(RAW_ACCOUNTS, [arr(ids)])
        state = {r[0]: [r[1], r[2]] for r in cur.fetchall()}
        cur.execute(RAW_TXNS, [rows([[t, f"bet:{b[0]}:settle:1", f"bet:{b[0]}"]
                                     for b, t in zip(outcomes, txns, strict=True)])])
        entries = []
        for txn, (_, player, stake, _, payout) in zip(txns, outcomes, strict=True):
            cash, reserved = accounts[player]
            changes = [(cash, payout)] if payout else []
            changes += [(reserved, -stake)] + ([(house, stake - payout)] if stake != payout else [])
            for account, delta in sorted(changes):
                if account == house:
                    entries.append([txn, account, delta, None, "", ""])
                    continue
                balance, head = state[account]
                balance += delta
                digest = entry_hash(prev_hash=head, account_id=account, transaction_id=txn,
                                    amount=delta, balance_after=balance, currency="USD")
                state[account] = [balance, digest]
                entries.append([txn, account, delta, balance, head, digest])
        cur.execute(RAW_ENTRIES, [rows(entries)])
        cur.execute(RAW_BALANCES, [rows([[a, v[0], v[1]] for a, v in state.items()])])


def _top_up(ctx, market, count) -> None:
    """Fill a market up to `count` open bets (set-up, not measured): bets and legs written
    set-based, their stakes held by one real ledger transaction per market."""
    from django.db import connection, transaction

    from betting.models import BetLeg, Selection
    from wallet.ledger import Posting, ledger_post, player_accounts

    missing = count - BetLeg.objects.filter(market_id=market["market"]).count()
    if missing <= 0:
        return
    rng = random.Random(7)
    selections = {s.pk: s for s in Selection.objects.filter(pk__in=market["selections"])
                  .select_related("market")}
    ids, players, stakes, sels, held = [], [], [], [], {}
    for _ in range(missing):
        player, stake = rng.choice(ctx["players"]), rng.randint(100, 5_000)
        ids.append(str(uuid.uuid4()))
        players.append(player)
        stakes.append(stake)
        sels.append(rng.choice(market["selections"]))
        held[player] = held.get(player, 0) + stake
    sel = next(iter(selections.values()))
    with transaction.atomic(durable=True), connection.cursor() as cur:
        postings = []
        for player, amount in held.items():
            accts = player_accounts(player_id=player, currency="USD")
            postings += [Posting(accts.cash, -amount), Posting(accts.reserved, amount)]
        ledger_post(kind="bet_stake", postings=postings, reference="bench-top-up")
        cur.execute(
            "INSERT INTO betting_bet (id, player_id, kind, currency, stake, accepted_odds, odds_change, "
            "status, settle_seq) SELECT v.id, v.p, 'single', 'USD', v.stake, s.odds, 'any', 'open', 0 "
            "FROM unnest(%s::uuid[], %s::bigint[], %s::bigint[], %s::bigint[]) AS v(id, p, stake, sel) "
            "JOIN betting_selection s ON s.id = v.sel",
            [ids, players, stakes, sels])
        cur.execute(
            "INSERT INTO betting_betleg (bet_id, selection_id, market_id, event_id, requested_odds, "
            "accepted_odds, odds_version, result, settled_version) SELECT v.id, s.id, s.market_id, %s, "
            "s.odds, s.odds, s.odds_version, 'pending', 0 FROM unnest(%s::uuid[], %s::bigint[]) "
            "AS v(id, sel) JOIN betting_selection s ON s.id = v.sel",
            [sel.market.event_id, ids, sels])


def _check_ledger() -> None:
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("SELECT count(*) FROM (SELECT transaction_id FROM wallet_entry GROUP BY "
                    "transaction_id, currency HAVING sum(amount) <> 0) t")
        assert cur.fetchone()[0] == 0
        cur.execute("SELECT count(*) FROM wallet_account WHERE owner_id IS NOT NULL AND kind = "
                    "'reserved' AND balance <> 0")
        assert cur.fetchone()[0] == 0, "every stake should be resolved after both settlements"


def _reconcile() -> list:
    """The reconciliation checks of `manage.py reconcile` (balances equal ledger sums, no
    negative balance, one posting per settlement, reserved = open stakes) and the entry hash
    chains, on the bench database before it is dropped."""
    from django.utils import timezone

    from backoffice.chain import ledger_chain_verify
    from reconciliation.checks import run_checks

    findings = run_checks(now=timezone.now(), only=[
        "ledger_sums", "negative_balances", "single_posting", "reserved"])
    return [f.kind for f in findings] + [b.problem for b in ledger_chain_verify()]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--procs", type=int, default=4)
    parser.add_argument("--place", type=int, default=1_000, help="bets placed by each side")
    parser.add_argument("--bets", "--settle", dest="settle", type=int, default=10_000,
                        help="open bets in each settled market (e.g. 100000)")
    args = parser.parse_args()
    args.place = min(args.place, args.settle)

    began = time.time()
    bench_database(DB)
    try:
        from django.conf import settings

        ctx = _setup()
        svc_market, raw_market = ctx["markets"]["service"], ctx["markets"]["raw"]
        place_service = _place(_service_place, ctx, svc_market, args.place, args.procs)
        place_raw = _place(_raw_place, ctx, raw_market, args.place, args.procs)
        _top_up(ctx, svc_market, args.settle)
        _top_up(ctx, raw_market, args.settle)
        settle_service = _service_settle(svc_market, args.procs)
        settle_raw = _raw_settle(ctx, raw_market, args.procs)
        _check_ledger()
        findings = _reconcile()

        print(f"bet placement ({args.procs} processes, {args.place:,} single bets each side, "
              f"{PLAYERS} players)")
        print(f"  service (bet_place)      {place_service:8.0f} bets/s")
        print(f"  raw SQL, same writes     {place_raw:8.0f} bets/s")
        print(f"  service / raw SQL        {place_service / place_raw:8.2f}")
        print(f"settlement of a market with {args.settle:,} open bets ({args.procs} processes over "
              f"chunks of {settings.BETTING_SETTLEMENT_CHUNK}, "
              f"{settings.BETTING_SETTLEMENT_BATCH} bets per transaction)")
        print(f"  service (settlement tasks) {settle_service:7.1f} s  "
              f"{args.settle / settle_service:8.0f} bets/s")
        print(f"  bare SQL, same rows        {settle_raw:7.1f} s  {args.settle / settle_raw:8.0f} bets/s")
        print(f"  service time / bare SQL    {settle_service / settle_raw:7.2f}x  (target <= 1.5x)")
        print(f"reconcile + hash chains after the run: {len(findings)} findings "
              f"{sorted(set(findings)) or ''}")
        print(f"bench wall time {time.time() - began:.0f} s")
        assert not findings, findings
    finally:
        from django.db import connections

        connections.close_all()
        drop_database(DB)


if __name__ == "__main__":
    main()
