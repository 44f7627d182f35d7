"""What the responsible-gambling gate costs a stake: the spread case (1,000 players) of
bench/wallet_throughput.py, each stake run through `gates_check` (compliance row lock, the
KYC gate) and `hold_funds` in one transaction, measured in the same run:

  (a) baseline: the compliance gates without the responsible-gambling gate
  (b) + the responsible-gambling gate, players without limits
  (c) + the responsible-gambling gate, players with nine limits each (deposit, wager and
      loss per day, week and month; never reached)

Prints ops/s and the ratios (b)/(a) and (c)/(a); target >= 0.85 (the check costs < 15 %).

    .venv/bin/python bench/responsible_limits.py [--procs 8] [--seconds 3] [--rounds 3]
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import random
import time

from _setup import bench_database, drop_database

DB = "bench_responsible_limits"
PLAYERS = 1_000
RG_GATE = "responsible.gates.compliance_gate"


def _setup_players(prefix: str) -> list[int]:
    from django.db import connection

    from kyc.models import AMLProfile
    from users.models import User
    from wallet.ledger import player_accounts, system_account

    users = User.objects.bulk_create(
        [User(username=f"{prefix}{i}", email=f"{prefix}{i}@x.test") for i in range(PLAYERS)])
    ids = [u.pk for u in users]
    for pid in ids:
        player_accounts(player_id=pid, currency="USD")
    AMLProfile.objects.bulk_create([AMLProfile(player_id=pid) for pid in ids])
    system_account("provider_clearing", "USD")
    with connection.cursor() as cur:  # fund everyone, balanced (bench set-up only)
        cur.execute("SET session_replication_role = replica")
        cur.execute("INSERT INTO wallet_transaction (kind, reference, external_reference, reason, "
                    "metadata, created_at) VALUES ('deposit', 'bench-funding', '', '', '{}', now()) "
                    "RETURNING id")
        txn = cur.fetchone()[0]
        cur.execute("UPDATE wallet_account SET balance = 1000000000 WHERE owner_id = ANY(%s) "
                    "AND kind = 'cash'", [ids])
        cur.execute("""INSERT INTO wallet_entry (transaction_id, account_id, currency, amount,
                       balance_after, prev_hash, hash, created_at)
                       SELECT %s, id, 'USD', 1000000000, 1000000000, '', '', now() FROM wallet_account
                       WHERE owner_id = ANY(%s) AND kind = 'cash'""", [txn, ids])
        cur.execute("""INSERT INTO wallet_entry (transaction_id, account_id, currency, amount,
                       created_at, prev_hash, hash)
                       SELECT %s, id, 'USD', -1000000000::bigint * %s, now(), '', '' FROM wallet_account
                       WHERE owner_id IS NULL AND kind = 'provider_clearing'""", [txn, PLAYERS])
        cur.execute("SET session_replication_role = origin")
    return ids


def _set_limits(ids: list[int]) -> None:
    from responsible.models import Limit

    Limit.objects.bulk_create([
        Limit(player_id=pid, kind=kind, period=period, currency="USD", source="player",
              amount=10**12)
        for pid in ids for kind in ("deposit", "wager", "loss")
        for period in ("day", "week", "month")
    ])


def _worker(arg, seconds, out, barrier):
    import django

    django.setup()
    from django.conf import settings
    from django.db import connection, transaction
    from django.utils import timezone

    from common.gates import Operation, gates_check
    from wallet import ledger
    from wallet.ledger import hold_funds
    from wallet.models import Account

    player_ids, with_rg = arg
    settings.COMPLIANCE_GATES = [g for g in settings.COMPLIANCE_GATES if with_rg or g != RG_GATE]
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
            gates_check(operation=Operation.BET_PLACE, player_id=pid, amount=1, currency="USD",
                        now=timezone.now())
            hold_funds(player_id=pid, currency="USD", amount=1, kind="bet_stake",
                       dedupe_key=None, reference="bench")
        done += 1
    connection.close()
    out.put(done)


def _run(arg, procs, seconds) -> float:
    from django.db import connections

    connections.close_all()
    out = mp.Queue()
    barrier = mp.Barrier(procs)
    workers = [mp.Process(target=_worker, args=(arg, seconds, out, barrier)) for _ in range(procs)]
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
        plain = _setup_players("plain")
        limited = _setup_players("limited")
        _set_limits(limited)
        cases = {
            "(a) compliance gates, no RG gate": (plain, False),
            "(b) + RG gate, no limits": (plain, True),
            "(c) + RG gate, 9 limits each": (limited, True),
        }
        # Warm-up: every player's counter row exists, as in steady state.
        _run((plain, True), args.procs, 1.0)
        _run((limited, True), args.procs, 1.0)
        # Interleaved rounds: each ratio compares runs made seconds apart.
        totals = dict.fromkeys(cases, 0.0)
        for _ in range(args.rounds):
            for name, arg in cases.items():
                totals[name] += _run(arg, args.procs, args.seconds)
        results = {name: total / args.rounds for name, total in totals.items()}
        print(f"stake throughput, {PLAYERS:,} players ({args.procs} processes, {args.rounds} "
              f"interleaved rounds of {args.seconds:g}s per case)")
        for name, ops in results.items():
            print(f"  {name:<36} {ops:9.0f} ops/s")
        base = results["(a) compliance gates, no RG gate"]
        print(f"  (b) / (a) without limits  {results['(b) + RG gate, no limits'] / base:5.2f}"
              "   target >= 0.85")
        print(f"  (c) / (a) with limits     {results['(c) + RG gate, 9 limits each'] / base:5.2f}"
              "   target >= 0.85")
    finally:
        from django.db import connections

        connections.close_all()
        drop_database(DB)


if __name__ == "__main__":
    main()
