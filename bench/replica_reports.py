"""A heavy report must not slow money: signed deposit callbacks at a steady rate while a
1M-row audit export and a reconciliation scan run, on the primary and then on the replica.

    make cluster && eval "$(bash scripts/cluster.sh env)"
    DJANGO_SETTINGS_MODULE=config.settings.dev .venv/bin/python bench/replica_reports.py \\
        [--rows 1000000] [--rate 20] [--seconds 20]

Needs the cluster (DATABASE_URL on PgBouncer, REPLICA_DATABASE_URL on the standby); without
REPLICA_DATABASE_URL it says so and exits 0 (plain `make bench` has no replica).

Phases, with the same open-loop callback schedule (a request is sent every 1/rate s
whatever the previous one did, so a slow server shows as latency); the quiet one lasts
`--seconds`, a report phase until one whole export + scan pass has overlapped the
callbacks (at least `--seconds`, at most 120 s):
  quiet      callbacks only: the baseline
  primary    callbacks + export and scan looping on the primary
  replica    callbacks + export and scan looping on the replica (the router's choice)
The callbacks go to one app process (uvicorn) as a provider would send them; the reports
run in a process of their own. Prints p50/p99 per phase and the ratio to the baseline.
The database op_replica_bench is created on the cluster and dropped at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:] = [str(ROOT)] + [p for p in sys.path if p not in (str(ROOT), str(ROOT / "bench"), "")]
os.chdir(ROOT)

BENCH_DB = "op_replica_bench"
PLAYERS = 2_000


def _swap_db(url: str, name: str) -> str:
    head, _, tail = url.rpartition("/")
    query = tail.partition("?")[2]
    return f"{head}/{name}" + (f"?{query}" if query else "")


def _setup_env() -> tuple[str, str]:
    primary = _swap_db(os.environ["DATABASE_URL"], BENCH_DB)
    replica = _swap_db(os.environ["REPLICA_DATABASE_URL"], BENCH_DB)
    os.environ.update(DATABASE_URL=primary, REPLICA_DATABASE_URL=replica,
                      REPLICA_PIN_NAMESPACE=BENCH_DB)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.dev")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    os.environ.setdefault("SANDBOX_PROVIDER_SECRET", "bench-sandbox-secret")
    os.environ.setdefault("DEBUG", "false")
    return primary, replica


def _admin(sql: str) -> None:
    import psycopg

    server = os.environ["DATABASE_URL"].rsplit("/", 1)[0]
    with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
        conn.execute(sql)


def seed(rows: int) -> None:
    """`rows` ledger entries (two-entry deposits over PLAYERS accounts), bulk-loaded with
    triggers off, like bench/reconcile.py."""
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("SET session_replication_role = replica")
        cur.execute(
            "INSERT INTO wallet_account (owner_id, kind, currency, balance, chain_head, created_at) "
            # Owners far above any real user id (foreign keys are triggers, off for the load).
            "SELECT 1000000 + g, 'cash', 'USD', 0, '', now() FROM generate_series(1, %s) g",
            [PLAYERS])
        cur.execute("SELECT min(id) FROM wallet_account")
        first = cur.fetchone()[0]
        cur.execute(
            "INSERT INTO wallet_account (owner_id, kind, currency, balance, chain_head, created_at) "
            "VALUES (NULL, 'provider_clearing', 'USD', 0, '', now()) RETURNING id")
        clearing = cur.fetchone()[0]
        txns = rows // 2
        cur.execute(
            "INSERT INTO wallet_transaction (id, kind, dedupe_key, reference, external_reference, "
            "reason, metadata, created_at) SELECT g, 'deposit', 'bench:' || g, '', '', '', '{}', "
            "now() - interval '1 day' + g * interval '1 millisecond' FROM generate_series(1, %s) g",
            [txns])
        cur.execute(
            "INSERT INTO wallet_entry (transaction_id, account_id, currency, amount, balance_after, "
            "prev_hash, hash, created_at) "
            "SELECT g, %s + (g %% %s), 'USD', 100, NULL::bigint, '', '', "
            "now() - interval '1 day' + g * interval '1 millisecond' FROM generate_series(1, %s) g "
            "UNION ALL SELECT g, %s, 'USD', -100, NULL::bigint, '', '', "
            "now() - interval '1 day' + g * interval '1 millisecond' FROM generate_series(1, %s) g",
            [first, PLAYERS, txns, clearing, txns])
        cur.execute(
            "UPDATE wallet_account a SET balance = s.total FROM (SELECT account_id, "
            "SUM(amount)::bigint AS total FROM wallet_entry GROUP BY account_id) s "
            "WHERE a.id = s.account_id AND a.kind = 'cash'")
        cur.execute("SELECT setval(pg_get_serial_sequence('wallet_transaction', 'id'), %s)", [txns])
        cur.execute("SET session_replication_role = origin")
        cur.execute("ANALYZE")


def wait_replayed(timeout: float = 600) -> None:
    from django.db import connections

    with connections["default"].cursor() as cur:
        cur.execute("SELECT pg_current_wal_lsn()::text")
        target = cur.fetchone()[0]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with connections["replica"].cursor() as cur:
            cur.execute("SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", [target])
            if cur.fetchone()[0]:
                return
        time.sleep(0.5)
    raise SystemExit("the replica did not catch up with the bulk load")


def pending_deposits(n: int) -> list[str]:
    from django.utils import timezone

    from tests.factories import make_player
    from wallet.services import deposit_create

    players = [make_player() for _ in range(20)]
    return [str(deposit_create(player=players[i % 20], amount=500, currency="USD",
                               provider="sandbox", now=timezone.now()).pk) for i in range(n)]


def heavy_loop() -> None:
    """Child process: export + scan, again and again, until killed; one JSON line a pass."""
    from django.db import connections, router
    from django.utils import timezone

    from backoffice.audit import AuditFilters, export_stream
    from backoffice.models import AuditExport
    from reconciliation.checks import run_checks
    from wallet.models import Entry

    while True:
        where = router.db_for_read(Entry, purpose="audit_export")
        t0 = time.perf_counter()
        export = AuditExport.objects.create(requested_by=None, format="csv", filters={},
                                            channel="bench", reason="bench",
                                            started_at=timezone.now())
        size = sum(len(b) for b in export_stream(export=export, filters=AuditFilters()))
        t1 = time.perf_counter()
        run_checks(now=timezone.now())
        t2 = time.perf_counter()
        export.refresh_from_db()
        print(json.dumps({"db": where, "export_rows": export.row_count, "export_bytes": size,
                          "export_s": round(t1 - t0, 2), "scan_s": round(t2 - t1, 2)}),
              flush=True)
        for conn in connections.all():
            conn.close()


def start_heavy(*, on_replica: bool) -> tuple[subprocess.Popen, list[dict]]:
    env = dict(os.environ)
    if not on_replica:
        env.pop("REPLICA_DATABASE_URL")
    proc = subprocess.Popen([sys.executable, __file__, "--heavy"], env=env, cwd=ROOT,
                            stdout=subprocess.PIPE, text=True)
    passes: list[dict] = []

    def read():
        for line in proc.stdout:
            try:
                passes.append(json.loads(line))
            except ValueError:
                pass

    threading.Thread(target=read, daemon=True).start()
    return proc, passes


def callbacks(base: str, deposit_ids: list[str], *, rate: float, seconds: float,
              until=None, cap_s: float = 240) -> list[float]:
    """Send signed deposit.succeeded callbacks open-loop at `rate`/s for `seconds`, and on
    while `until()` is false (at most `cap_s`); latencies in ms."""
    import httpx

    from tests.cluster.harness import sign

    latencies: list[float] = []
    errors: list[int] = []
    client = httpx.Client(timeout=30, limits=httpx.Limits(max_connections=64))

    def one(did: str) -> None:
        body = json.dumps({"event": "deposit.succeeded", "provider_transaction_id": f"psp-{did}",
                           "reference": did, "amount": "5.00", "currency": "USD"}).encode()
        t0 = time.perf_counter()
        resp = client.post(f"{base}/api/v1/payments/webhooks/sandbox/", content=body,
                           headers={"Content-Type": "application/json", "X-Signature": sign(body)})
        latencies.append((time.perf_counter() - t0) * 1000)
        if resp.status_code != 200:
            errors.append(resp.status_code)

    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=32) as pool:
        i = 0
        while deposit_ids:
            elapsed = time.perf_counter() - start
            if elapsed >= cap_s or (elapsed >= seconds and (until is None or until())):
                break
            delay = start + i / rate - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            pool.submit(one, deposit_ids.pop())
            i += 1
    client.close()
    if errors:
        raise SystemExit(f"{len(errors)} callbacks failed: {sorted(set(errors))}")
    return latencies


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--rate", type=float, default=20.0)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--heavy", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.heavy:
        import django

        django.setup()
        heavy_loop()
        return
    if not os.environ.get("REPLICA_DATABASE_URL"):
        print("replica_reports: skipped, no REPLICA_DATABASE_URL: start the cluster first "
              "(make cluster; eval \"$(bash scripts/cluster.sh env)\")")
        return

    import django

    primary_url, _ = _setup_env()
    _admin(f'DROP DATABASE IF EXISTS "{BENCH_DB}" WITH (FORCE)')
    _admin(f'CREATE DATABASE "{BENCH_DB}"')
    django.setup()
    from django.core.management import call_command

    from tests.e2e.procs import running, start_asgi

    try:
        call_command("migrate", verbosity=0)
        t0 = time.perf_counter()
        seed(args.rows)
        # Enough for the quiet phase and two report phases of up to 120 s each.
        deposits = pending_deposits(int(args.rate * (args.seconds + 240)) + 20)
        wait_replayed()
        print(f"seeded {args.rows:,} ledger entries and {len(deposits)} pending deposits in "
              f"{time.perf_counter() - t0:.0f}s; callbacks at {args.rate:g}/s for "
              f"{args.seconds:g}s per phase")
        app, base = start_asgi({**os.environ, "DATABASE_URL": primary_url})
        results = {}
        with running(app):
            callbacks(base, deposits[:20], rate=args.rate, seconds=1)  # warm-up
            del deposits[:20]
            results["quiet"] = (callbacks(base, deposits, rate=args.rate, seconds=args.seconds), [])
            for phase, on_replica in (("primary", False), ("replica", True)):
                heavy, passes = start_heavy(on_replica=on_replica)
                try:
                    time.sleep(3)  # let the export get going before measuring
                    # Until one whole export + scan pass has overlapped the callbacks.
                    lat = callbacks(base, deposits, rate=args.rate, seconds=args.seconds,
                                    until=lambda passes=passes: len(passes) >= 1, cap_s=120)
                finally:
                    heavy.kill()
                    heavy.wait()
                results[phase] = (lat, passes)
        base_p50 = statistics.median(results["quiet"][0])
        base_p99 = pct(results["quiet"][0], 0.99)
        print(f"{'phase':<8} {'callbacks':>9} {'p50 ms':>8} {'p99 ms':>8} {'p50 x':>6} "
              f"{'p99 x':>6}  reports")
        for phase, (lat, passes) in results.items():
            p50, p99 = statistics.median(lat), pct(lat, 0.99)
            if phase == "quiet":
                report = "none"
            else:
                report = ", ".join(
                    f"on {p['db']}: export {p['export_rows']:,} rows {p['export_s']}s + scan "
                    f"{p['scan_s']}s" for p in passes[:2]) or "export did not finish in 120 s"
            print(f"{phase:<8} {len(lat):>9} {p50:>8.1f} {p99:>8.1f} {p50 / base_p50:>6.2f} "
                  f"{p99 / base_p99:>6.2f}  {report}")
    finally:
        from django.db import connections

        for conn in connections.all():
            conn.close()
        _admin(f'DROP DATABASE IF EXISTS "{BENCH_DB}" WITH (FORCE)')


if __name__ == "__main__":
    main()
