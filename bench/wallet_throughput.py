"""Ledger posting throughput: service layer vs the same statements in raw SQL.

(a) stakes spread over 1,000 players, (b) every stake on one player; each with PROCS
processes for SECONDS seconds. Prints ops/s and the ratios:
  service/raw on the spread case (target >= 0.5), spread/single for the service (target >= 2.5).

    .venv/bin/python bench/wallet_throughput.py [--procs 8] [--seconds 3] [--rounds 3]
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import random
import time

from _setup import bench_database, drop_database

DB = "bench_wallet_throughput"
PLAYERS = 1_000


def _setup_players() -> list[int]:
    from django.db import connection

    from users.models import User
    from wallet.ledger import player_accounts, system_account

    users = User.objects.bulk_create(
        [User(username=f"bench{i}", email=f"bench{i}@x.test") for i in range(PLAYERS)])
    ids = [u.pk for u in users]
    for pid in ids:
        player_accounts(player_id=pid, currency="USD")
    system_account("provider_clearing", "USD")
    # Fund everyone generously in one balanced set-based statement pair (bench set-up only).
    with connection.cursor() as cur:
        cur.execute("SET session_replication_role = replica")
        cur.execute("INSERT INTO wallet_transaction (kind, reference, external_reference, reason, metadata, created_at) "
                    "VALUES ('deposit', 'bench-funding', '', '', '{}', now()) RETURNING id")
        txn = cur.fetchone()[0]
        cur.execute("UPDATE wallet_account SET balance = 1000000000 WHERE owner_id IS NOT NULL AND kind = 'cash'")
        cur.execute("""INSERT INTO wallet_entry (transaction_id, account_id, currency, amount, balance_after, prev_hash, hash, created_at)
                       SELECT %s, id, 'USD', 1000000000, 1000000000, '', '', now() FROM wallet_account
                       WHERE owner_id IS NOT NULL AND kind = 'cash'""", [txn])
        cur.execute("""INSERT INTO wallet_entry (transaction_id, account_id, currency, amount, created_at, prev_hash, hash)
                       SELECT %s, id, 'USD', -1000000000::bigint * %s, now(), '', '' FROM wallet_account
                       WHERE owner_id IS NULL AND kind = 'provider_clearing'""", [txn, PLAYERS])
        cur.execute("SET session_replication_role = origin")
    return ids


def _service_worker(player_ids, seconds, out, barrier):
    import django

    django.setup()
    from django.db import connection, transaction

    from wallet import ledger
    from wallet.ledger import hold_funds
    from wallet.models import Account

    # Steady state: a long-lived worker has every player's account ids cached already.
    for owner, currency, kind, pk in Account.objects.filter(owner_id__in=player_ids).values_list(
            "owner_id", "currency", "kind", "id"):
        ledger._player_ids_cache.setdefault((owner, currency), {})[kind] = pk
    barrier.wait()
    rng = random.Random()
    done = 0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        pid = rng.choice(player_ids)
        with transaction.atomic(durable=True):
            hold_funds(player_id=pid, currency="USD", amount=1, kind="bet_stake",
                       dedupe_key=None, reference="bench")
        done += 1
    connection.close()
    out.put(done)


RAW_STATEMENTS = (
    "SELECT id, balance, chain_head FROM wallet_account WHERE id IN (%s, %s) ORDER BY id FOR UPDATE",
    "INSERT INTO wallet_transaction (kind, reference, external_reference, reason, metadata, created_at) "
    "VALUES ('bet_stake', 'bench', '', '', '{}', now()) RETURNING id",
    "INSERT INTO wallet_entry (transaction_id, account_id, currency, amount, balance_after, prev_hash, hash, created_at) "
    "VALUES (%s, %s, 'USD', -1, %s, %s, %s, now()), (%s, %s, 'USD', 1, %s, %s, %s, now())",
    "UPDATE wallet_account AS a SET balance = v.balance, chain_head = v.head FROM "
    "(VALUES (%s::bigint, %s::bigint, %s::varchar), (%s, %s, %s)) AS v(id, balance, head) WHERE a.id = v.id",
)


def _raw_worker(account_pairs, seconds, out, barrier):
    import django

    django.setup()
    barrier.wait()
    from django.db import connection, transaction

    from wallet.chain import entry_hash

    rng = random.Random()
    done = 0
    lock, ins_txn, ins_entries, upd = RAW_STATEMENTS
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        cash, reserved = rng.choice(account_pairs)
        with transaction.atomic(durable=True), connection.cursor() as cur:
            cur.execute(lock, [cash, reserved])
            rows = {r[0]: r[1:] for r in cur.fetchall()}
            (cash_bal, cash_head), (res_bal, res_head) = rows[cash], rows[reserved]
            new_cash, new_res = cash_bal - 1, res_bal + 1
            cur.execute(ins_txn)
            txn = cur.fetchone()[0]
            # The same hash chain the service keeps, so both sides do the same work.
            h_cash = entry_hash(prev_hash=cash_head, account_id=cash, transaction_id=txn, amount=-1,
                                balance_after=new_cash, currency="USD")
            h_res = entry_hash(prev_hash=res_head, account_id=reserved, transaction_id=txn, amount=1,
                               balance_after=new_res, currency="USD")
            cur.execute(ins_entries, [txn, cash, new_cash, cash_head, h_cash,
                                      txn, reserved, new_res, res_head, h_res])
            cur.execute(upd, [cash, new_cash, h_cash, reserved, new_res, h_res])
        done += 1
    connection.close()
    out.put(done)


def _run(target, arg, procs, seconds) -> float:
    from django.db import connections

    connections.close_all()
    out = mp.Queue()
    # Workers set Django up first and start together, so start-up is not measured.
    barrier = mp.Barrier(procs)
    workers = [mp.Process(target=target, args=(arg, seconds, out, barrier)) for _ in range(procs)]
    for w in workers:
        w.start()
    total = sum(out.get() for _ in workers)
    for w in workers:
        w.join()
    return total / seconds


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--procs", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    bench_database(DB)
    try:
        from wallet.models import Account

        ids = _setup_players()
        pairs = {}
        for a in Account.objects.filter(owner_id__in=ids, kind__in=["cash", "reserved"]):
            pairs.setdefault(a.owner_id, {})[a.kind] = a.pk
        all_pairs = [(p["cash"], p["reserved"]) for p in pairs.values()]
        one = [ids[0]]
        one_pair = [(pairs[ids[0]]["cash"], pairs[ids[0]]["reserved"])]

        cases = {
            "service, 1,000 players": (_service_worker, ids),
            "raw SQL, 1,000 players": (_raw_worker, all_pairs),
            "service, 1 player": (_service_worker, one),
            "raw SQL, 1 player": (_raw_worker, one_pair),
        }
        # Interleaved rounds: on a shared, noisy machine each ratio compares runs made
        # seconds apart rather than minutes apart.
        totals = dict.fromkeys(cases, 0.0)
        for _ in range(args.rounds):
            for name, (target, arg) in cases.items():
                totals[name] += _run(target, arg, args.procs, args.seconds)
        results = {name: total / args.rounds for name, total in totals.items()}
        print(f"wallet posting throughput ({args.procs} processes, {args.rounds} interleaved "
              f"rounds of {args.seconds:g}s per case)")
        for name, ops in results.items():
            print(f"  {name:<24} {ops:9.0f} ops/s")
        spread_ratio = results["service, 1,000 players"] / results["raw SQL, 1,000 players"]
        single_ratio = results["service, 1 player"] / results["raw SQL, 1 player"]
        scale = results["service, 1,000 players"] / results["service, 1 player"]
        print(f"  service / raw SQL (spread)     {spread_ratio:5.2f}   target >= 0.50")
        print(f"  service / raw SQL (one player) {single_ratio:5.2f}")
        print(f"  spread / one player (service)  {scale:5.2f}   target >= 2.50")
    finally:
        from django.db import connections

        connections.close_all()
        drop_database(DB)


if __name__ == "__main__":
    main()
