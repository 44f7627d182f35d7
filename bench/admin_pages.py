"""Admin pages under a realistic ledger: changelists and the player page, on a throwaway database.

    DJANGO_SETTINGS_MODULE=config.settings.dev .venv/bin/python bench/admin_pages.py

Two sizes in the same run: the baseline (1,000 ledger entries, 100 players) and the target
(100,000 entries, 10,000 players; one "heavy" player holds a tenth of the entries). For each
page it prints the median time of 5 loads (an administrator with an OTP-verified session,
through Django's test client: no network) and the number of SQL queries, and the ratio of the
target to the baseline. A page that stays fast has a ratio near 1 and the same query count.

Rows are bulk-loaded with INSERT ... SELECT generate_series (triggers off for the load only,
as bench/reconcile.py does). The database op_admin_bench is dropped at the end.
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _setup import bench_database, drop_database  # noqa: E402

DB = "op_admin_bench"
SIZES = [(100, 1_000), (10_000, 100_000)]  # (players, ledger entries)


def load(players: int, entries: int, state: dict) -> None:
    """Grow the database to `players` players and `entries` ledger entries."""
    from django.db import connection

    have_players = state.get("players", 0)
    have_txns = state.get("txns", 0)
    txns = entries // 2
    with connection.cursor() as cur:
        cur.execute("SET session_replication_role = replica")
        cur.execute(
            "INSERT INTO users_user (password, is_superuser, username, first_name, last_name, "
            "email, is_staff, is_active, date_joined) SELECT '!', false, 'p' || g, 'First' || g, "
            "'Last' || g, 'p' || g || '@example.test', false, true, now() "
            "FROM generate_series(%s, %s) g", [have_players + 1, players])
        cur.execute(
            "INSERT INTO wallet_account (owner_id, kind, currency, balance, chain_head, created_at) "
            "SELECT u.id, 'cash', 'USD', 0, '', now() FROM users_user u "
            "WHERE u.username LIKE 'p%%' AND NOT EXISTS (SELECT 1 FROM wallet_account a "
            "WHERE a.owner_id = u.id)")
        if "clearing" not in state:
            cur.execute(
                "INSERT INTO wallet_account (owner_id, kind, currency, balance, chain_head, "
                "created_at) VALUES (NULL, 'provider_clearing', 'USD', 0, '', now()) RETURNING id")
            state["clearing"] = cur.fetchone()[0]
        cur.execute("SELECT min(a.id), max(a.id) FROM wallet_account a JOIN users_user u "
                    "ON u.id = a.owner_id WHERE u.username LIKE 'p%%'")
        first, last = cur.fetchone()
        state["heavy_account"] = first
        span = last - first + 1
        start = have_txns + 1
        cur.execute(
            "INSERT INTO wallet_transaction (kind, dedupe_key, reference, external_reference, "
            "reason, metadata, created_at) SELECT 'deposit', 'bench:' || g, 'bench', '', '', '{}', "
            "now() - (g || ' seconds')::interval FROM generate_series(%s, %s) g", [start, txns])
        cur.execute("SELECT min(id) FROM wallet_transaction WHERE dedupe_key = %s",
                    [f"bench:{start}"])
        first_txn = cur.fetchone()[0]
        # One entry in ten on the heavy player's account, the rest spread over everyone.
        cur.execute(
            "INSERT INTO wallet_entry (transaction_id, account_id, currency, amount, balance_after, "
            "prev_hash, hash, created_at) "
            "SELECT t, CASE WHEN t %% 10 = 0 THEN %s ELSE %s + (t %% %s) END, 'USD', "
            "100 + t %% 1000, 0, '', '', now() "
            "FROM generate_series(%s, %s) t "
            "UNION ALL SELECT t, %s, 'USD', -(100 + t %% 1000), 0, '', '', now() "
            "FROM generate_series(%s, %s) t",
            [first, first, span, first_txn, first_txn + txns - start, state["clearing"],
             first_txn, first_txn + txns - start])
        cur.execute(
            "UPDATE wallet_account a SET balance = s.total FROM (SELECT account_id, "
            "SUM(amount)::bigint AS total FROM wallet_entry GROUP BY account_id) s "
            "WHERE a.id = s.account_id AND a.owner_id IS NOT NULL")
        cur.execute("SET session_replication_role = origin")
        for table in ("users_user", "wallet_account", "wallet_transaction", "wallet_entry"):
            cur.execute(f"ANALYZE {table}")
    state["players"], state["txns"] = players, txns


def admin_client():
    from django.test import Client
    from django_otp import DEVICE_ID_SESSION_KEY
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from backoffice.roles import roles_sync
    from users.models import User

    roles_sync()
    user = User.objects.filter(username="bench-admin").first() or User.objects.create_superuser(
        "bench-admin", "bench-admin@example.test", "x-bench-admin-pass-1")
    device = TOTPDevice.objects.get_or_create(user=user, name="bench", confirmed=True)[0]
    client = Client(HTTP_HOST="127.0.0.1")
    client.force_login(user)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()
    return client


def measure(client, url: str) -> tuple[float, int, int]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    times = []
    for _ in range(5):
        with CaptureQueriesContext(connection) as queries:
            t0 = time.perf_counter()
            response = client.get(url)
            times.append(time.perf_counter() - t0)
    return statistics.median(times), len(queries), response.status_code


def pages(state: dict) -> list[tuple[str, str]]:
    from wallet.models import Account

    heavy = Account.objects.get(pk=state["heavy_account"]).owner_id
    return [
        ("ledger entries", "/admin/wallet/entry/"),
        ("ledger entries, one player", f"/admin/wallet/entry/?q=p{1}"),
        ("ledger transactions", "/admin/wallet/transaction/"),
        ("accounts", "/admin/wallet/account/"),
        ("players (users)", "/admin/users/user/"),
        ("player search by email", "/admin/players/?q=p1%40example.test"),
        ("player page (heavy player)", f"/admin/players/{heavy}/"),
    ]


def main() -> None:
    bench_database(DB)
    state: dict = {}
    results: dict[str, list] = {}
    try:
        client = None
        for players, entries in SIZES:
            load(players, entries, state)
            client = client or admin_client()
            for name, url in pages(state):
                results.setdefault(name, []).append((players, entries, *measure(client, url)))
        print(f"{'page':32} {'1k entries':>12} {'queries':>8} {'100k entries':>13} "
              f"{'queries':>8} {'ratio':>6}")
        for name, rows in results.items():
            (_, _, t_small, q_small, s_small), (_, _, t_big, q_big, s_big) = rows
            flag = "" if s_small == s_big == 200 else f"  HTTP {s_small}/{s_big}"
            print(f"{name:32} {t_small * 1000:9.1f} ms {q_small:8d} {t_big * 1000:10.1f} ms "
                  f"{q_big:8d} {t_big / t_small:6.2f}{flag}")
    finally:
        from django.db import connections

        connections.close_all()
        drop_database(DB)


if __name__ == "__main__":
    main()
