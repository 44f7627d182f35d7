"""The HTTP path under load: the platform started as `make run` starts it, driven by `wrk`.

Starts `scripts/run.sh` (the web server(s), Celery worker and beat, exactly what `make run`
serves) on a throwaway database with production settings, creates PLAYERS funded players
(tokens through `POST /api/v1/auth/token/`), an event with a two-way market and enough
pending deposits for the webhook runs, then drives each request with `wrk` (installed with
apt-get by package name when absent) and a Lua script at 4 and 16 connections:

    GET  /healthz
    GET  /api/v1/wallets/
    POST /api/v1/betting/bets/            fresh Idempotency-Key per request
    POST /api/v1/payments/withdrawals/    fresh Idempotency-Key per request
    POST /api/v1/payments/webhooks/sandbox/   signed deposit.succeeded, a fresh deposit each

and prints req/s, p50/p95/p99 (ms), non-2xx and database commits per request
(pg_stat_database.xact_commit of the bench database, background jobs included). Then, in the
same run with the server idle, `bet_place` alone in as many processes as the server has
workers, the ratios the targets are stated in, and `reconcile` of the ledger after the storm.

    .venv/bin/python bench/http.py [--seconds 10] [--workers 2] [--connections 4,16]
"""

from __future__ import annotations

# First: _setup takes bench/ off the front of sys.path, where this file would shadow the
# standard library's `http` package.
from _setup import ROOT, bench_database, drop_database

# isort: split
import argparse
import json
import multiprocessing as mp
import os
import random
import re
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import urllib.request
import uuid
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

DB = "bench_http" + os.environ.get("BENCH_DB_SUFFIX", "")
PLAYERS = 50
FUNDS = 10**12
PASSWORD = "bench-password-123"
WEBHOOK_SECRET = "bench-webhook-secret"


# --- load generator -----------------------------------------------------------------------

def ensure_wrk() -> str:
    path = shutil.which("wrk")
    if path:
        return path
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env, capture_output=True)
    subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=True, env=env,
                   capture_output=True)
    path = shutil.which("wrk")
    if not path:
        raise SystemExit("wrk could not be installed (apt-get install wrk)")
    return path


# Every script counts non-2xx answers per thread and prints one RESULT line (latencies in µs).
LUA_COMMON = r"""
local threads = {}
function setup(thread)
  table.insert(threads, thread)
  thread:set("tid", #threads)
  thread:set("prefix", PREFIX)
end
non2xx = 0
function response(status, headers, body)
  if status < 200 or status > 299 then
    non2xx = non2xx + 1
    if non2xx <= 3 then io.stderr:write("non-2xx " .. status .. ": " .. string.sub(body, 1, 200) .. "\n") end
  end
end
function done(summary, latency, requests)
  local bad = 0
  for _, t in ipairs(threads) do bad = bad + t:get("non2xx") end
  local e = summary.errors
  io.write(string.format(
    'RESULT {"requests":%d,"duration_us":%d,"p50":%d,"p95":%d,"p99":%d,"non2xx":%d,"socket_errors":%d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(95),
    latency:percentile(99), bad, e.connect + e.read + e.write + e.timeout))
end
"""

LUA_AUTH = r"""
n = 0
function request()
  n = n + 1
  local token = TOKENS[(n * 7 + tid * 13) % #TOKENS + 1]
  local headers = {["Authorization"] = "Bearer " .. token, ["Content-Type"] = "application/json",
                   ["Idempotency-Key"] = prefix .. "-" .. tid .. "-" .. n}
  return wrk.format(METHOD, PATH, headers, BODY)
end
"""

LUA_WEBHOOK = r"""
bodies, sigs, n = {}, {}, 0
function init(args)
  local i = 0
  for line in io.lines(FILE) do
    if i % NTHREADS == tid - 1 then
      local sig, body = line:match("^([^\t]*)\t(.*)$")
      table.insert(sigs, sig)
      table.insert(bodies, body)
    end
    i = i + 1
  end
end
function request()
  n = n + 1
  -- Past the end a callback repeats: still 200 (the original outcome), counted as a replay.
  local k = (n - 1) % #bodies + 1
  return wrk.format("POST", PATH, {["Content-Type"] = "application/json", ["X-Signature"] = sigs[k]},
                    bodies[k])
end
"""


def _lua_str(value: str) -> str:
    return json.dumps(value)  # a JSON string literal is a valid Lua string literal here


def write_script(directory: Path, name: str, *, body: str, consts: dict) -> Path:
    lines = []
    for key, value in consts.items():
        if isinstance(value, list):
            lines.append(f"{key} = {{{', '.join(_lua_str(v) for v in value)}}}")
        elif isinstance(value, int):
            lines.append(f"{key} = {value}")
        elif value is None:
            lines.append(f"{key} = nil")
        else:
            lines.append(f"{key} = {_lua_str(value)}")
    path = directory / f"{name}.lua"
    path.write_text("\n".join(lines) + "\n" + LUA_COMMON + body)
    return path


def run_wrk(wrk: str, *, url: str, script: Path, connections: int, seconds: int) -> dict:
    threads = min(2, connections)
    proc = subprocess.run(
        [wrk, f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--timeout", "10s",
         "-s", str(script), url], capture_output=True, text=True, timeout=seconds + 60)
    match = re.search(r"^RESULT (\{.*\})$", proc.stdout, re.M)
    if not match:
        raise RuntimeError(f"wrk gave no result: {proc.stdout}\n{proc.stderr}")
    result = json.loads(match.group(1))
    result["rps"] = result["requests"] / (result["duration_us"] / 1e6)
    if proc.stderr.strip():
        result["stderr"] = proc.stderr.strip().splitlines()[:3]
    return result


# --- the platform ---------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def server_env(url: str, port: int, workers: int, settings_module: str) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    env.update(
        DJANGO_SETTINGS_MODULE=settings_module, DATABASE_URL=url, DEBUG="false",
        SECRET_KEY=secrets.token_urlsafe(64), SECURE_SSL_REDIRECT="false", LOG_LEVEL="WARNING",
        SANDBOX_PROVIDER_SECRET=WEBHOOK_SECRET, KYC_WITHDRAWAL_THRESHOLD="1000000000",
        LOGIN_THROTTLE_RATE="100000/min", WEB_CONCURRENCY=str(workers), PORT=str(port),
        PYTHONUNBUFFERED="1",
    )
    return env


def start_platform(env: dict, port: int, log: Path) -> subprocess.Popen:
    out = log.open("w")
    proc = subprocess.Popen(["bash", "scripts/run.sh", "127.0.0.1", str(port)], cwd=ROOT, env=env,
                            stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the platform exited: {log.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as r:
                if r.status == 200:
                    return proc
        except OSError:
            pass
        time.sleep(0.3)
    stop_platform(proc)
    raise RuntimeError(f"the platform did not answer /healthz: {log.read_text()[-2000:]}")


def stop_platform(proc: subprocess.Popen) -> None:
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(20)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)
    except ProcessLookupError:
        pass


def http_json(method: str, url: str, body: dict | None = None, headers: dict | None = None) -> dict:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method,
                                 headers={"Content-Type": "application/json", **(headers or {})})
    with urllib.request.urlopen(req, timeout=60) as r:
        return json.loads(r.read())


# --- data -----------------------------------------------------------------------------------

def setup_data() -> dict:
    from django.contrib.auth.hashers import make_password
    from django.db import connection
    from django.utils import timezone

    from betting.services import MarketSpec, SelectionSpec, event_create
    from users.models import User
    from wallet.ledger import player_accounts, system_account

    hashed = make_password(PASSWORD)  # one hash for everyone: set-up, not measured
    users = User.objects.bulk_create([User(username=f"load{i}", email=f"load{i}@x.test",
                                           password=hashed) for i in range(PLAYERS)])
    ids = [u.pk for u in users]
    for pid in ids:
        player_accounts(player_id=pid, currency="USD")
    system_account("provider_clearing", "USD")
    system_account("house", "USD")
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

    now = timezone.now()
    event = event_create(
        name="bench http", starts_at=now + timedelta(days=1), actor=None, now=now,
        markets=[MarketSpec(name="Match result", selections=[
            SelectionSpec("Home", Decimal("2.150")), SelectionSpec("Away", Decimal("1.730"))],
            max_stake=Decimal("1000000.00"), max_payout=Decimal("100000000.00"))],
    )
    market = event.markets.get()
    selection = market.selections.order_by("id").first()
    return {"players": ids, "usernames": [u.username for u in users], "selection": selection.pk,
            "odds": str(selection.odds)}


def pending_deposits(players: list[int], count: int) -> list[str]:
    from wallet.models import Deposit

    rows = Deposit.objects.bulk_create(
        [Deposit(player_id=random.choice(players), amount=100, currency="USD", provider="sandbox")
         for _ in range(count)], batch_size=2_000)
    return [str(d.pk) for d in rows]


def webhook_file(directory: Path, name: str, deposit_ids: list[str]) -> Path:
    from wallet.providers import sign

    now = int(time.time())
    path = directory / f"{name}.tsv"
    with path.open("w") as f:
        for dep in deposit_ids:
            body = json.dumps({"event": "deposit.succeeded", "provider_transaction_id": f"bench-{dep}",
                               "reference": dep, "amount": "1.00", "currency": "USD"},
                              separators=(",", ":"))
            f.write(sign(secret=WEBHOOK_SECRET.encode(), timestamp=now, body=body.encode()) + "\t"
                    + body + "\n")
    return path


def tokens_over_http(base: str, usernames: list[str]) -> list[str]:
    out: list[str | None] = [None] * len(usernames)

    def login(i: int) -> None:
        out[i] = http_json("POST", f"{base}/api/v1/auth/token/",
                           {"username": usernames[i], "password": PASSWORD})["token"]

    pending = list(range(len(usernames)))
    while pending:
        batch = [threading.Thread(target=login, args=(i,)) for i in pending[:4]]
        for t in batch:
            t.start()
        for t in batch:
            t.join()
        pending = pending[4:]
    if None in out:
        raise RuntimeError("some logins failed")
    return out  # type: ignore[return-value]


def xact_commit() -> int:
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("SELECT pg_stat_clear_snapshot()")
        cur.execute("SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()")
        return cur.fetchone()[0]


# --- bet_place alone ------------------------------------------------------------------------

def _bet_place_worker(players, selection, seconds, out, barrier):
    import django

    django.setup()
    from django.db import connection
    from django.utils import timezone

    from betting.services import LegRequest, bet_place
    from users.models import User

    by_id = {u.pk: u for u in User.objects.filter(pk__in=players)}
    rng = random.Random()
    barrier.wait()
    done, start = 0, time.monotonic()
    while time.monotonic() - start < seconds:
        bet_place(player=by_id[rng.choice(players)], legs=[LegRequest(selection, Decimal("1.001"))],
                  stake=100, currency="USD", odds_change="any", now=timezone.now())
        done += 1
    out.put((done, time.monotonic() - start))
    connection.close()


def bet_place_alone(players: list[int], selection: int, procs: int, seconds: int) -> float:
    from django.db import connections

    connections.close_all()
    out, barrier = mp.Queue(), mp.Barrier(procs)
    workers = [mp.Process(target=_bet_place_worker, args=(players, selection, seconds, out, barrier))
               for _ in range(procs)]
    for w in workers:
        w.start()
    results = [out.get() for _ in workers]
    for w in workers:
        w.join()
    return sum(n for n, _ in results) / max(t for _, t in results)


# --- checks after the storm -----------------------------------------------------------------

def reconcile() -> tuple[str, bool]:
    from io import StringIO

    from django.core.management import call_command
    from django.db import connection

    buf = StringIO()
    call_command("reconcile", no_progress=True, stdout=buf)
    text = buf.getvalue().strip()
    with connection.cursor() as cur:
        cur.execute("SELECT count(*) FROM (SELECT transaction_id FROM wallet_entry GROUP BY "
                    "transaction_id, currency HAVING sum(amount) <> 0) t")
        unbalanced = cur.fetchone()[0]
        cur.execute("SELECT count(*) FROM wallet_account a WHERE a.owner_id IS NOT NULL AND a.balance <> "
                    "(SELECT coalesce(sum(e.amount), 0) FROM wallet_entry e WHERE e.account_id = a.id)")
        drifted = cur.fetchone()[0]
    ok = text.startswith("0 findings") and unbalanced == 0 and drifted == 0
    return (f"{text}\n  unbalanced transactions: {unbalanced}; player balances != sum of entries: "
            f"{drifted}"), ok


# --- main -----------------------------------------------------------------------------------

ROWS = [
    ("GET /healthz", "healthz"),
    ("GET /api/v1/wallets/", "wallets"),
    ("POST /api/v1/betting/bets/", "bets"),
    ("POST /api/v1/payments/withdrawals/", "withdrawals"),
    ("POST webhook deposit.succeeded", "webhook"),
]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=10, help="per request and connection count")
    parser.add_argument("--workers", type=int, default=2,
                        help="web server processes (WEB_CONCURRENCY given to scripts/run.sh)")
    parser.add_argument("--connections", default="4,16")
    parser.add_argument("--settings", default="config.settings.production")
    parser.add_argument("--web-server", default="",
                        help="WEB_SERVER for scripts/run.sh (split, asgi); default: what make run uses")
    parser.add_argument("--only", default="", help="comma-separated subset of "
                        "healthz,wallets,bets,withdrawals,webhook (the target lines need the first three)")
    parser.add_argument("--keep-db", action="store_true")
    parser.add_argument("--port", type=int, default=0,
                        help="HTTP port (the WebSocket server takes the next one); default: free ports")
    args = parser.parse_args()
    levels = [int(c) for c in args.connections.split(",")]
    rows = [(label, name) for label, name in ROWS if not args.only or name in args.only.split(",")]

    wrk = ensure_wrk()
    url = bench_database(DB)
    work = Path(tempfile.mkdtemp(prefix="bench-http-"))
    port = args.port or free_port()
    base = f"http://127.0.0.1:{port}"
    proc = None
    try:
        ctx = setup_data()
        deposits = {c: pending_deposits(ctx["players"], max(2_000, 400 * args.seconds * (c // 4 + 1)))
                    for c in levels}
        from django.db import connections

        connections.close_all()
        env = server_env(url, port, args.workers, args.settings)
        env["WS_PORT"] = str(port + 1 if args.port else free_port())
        if args.web_server:
            env["WEB_SERVER"] = args.web_server
        proc = start_platform(env, port, work / "platform.log")
        tokens = tokens_over_http(base, ctx["usernames"])
        bet_body = json.dumps({"selection_id": ctx["selection"], "odds": ctx["odds"], "stake": "1.00",
                               "currency": "USD", "odds_change": "any"})
        wd_body = json.dumps({"amount": "1.00", "currency": "USD", "destination": "bench-wallet"})
        paths = {"healthz": "/healthz", "wallets": "/api/v1/wallets/", "bets": "/api/v1/betting/bets/",
                 "withdrawals": "/api/v1/payments/withdrawals/",
                 "webhook": "/api/v1/payments/webhooks/sandbox/"}

        def script(name: str, c: int) -> Path:
            # A fresh key prefix per run: no Idempotency-Key is ever sent twice.
            consts: dict = {"PREFIX": uuid.uuid4().hex[:12]}
            if name == "healthz":
                return write_script(work, name, body="", consts=consts)
            if name == "webhook":
                # Signed just now: the signature must be younger than 300 s when it lands.
                consts.update(PATH=paths[name], NTHREADS=min(2, c),
                              FILE=str(webhook_file(work, f"webhook{c}", deposits[c])))
                return write_script(work, name, body=LUA_WEBHOOK, consts=consts)
            method, body = {"wallets": ("GET", None), "bets": ("POST", bet_body),
                            "withdrawals": ("POST", wd_body)}[name]
            consts.update(TOKENS=tokens, METHOD=method, PATH=paths[name], BODY=body)
            return write_script(work, name, body=LUA_AUTH, consts=consts)

        # Warm every worker's code paths and connections; not measured.
        for name in [n for _, n in rows if n in ("healthz", "wallets", "bets")]:
            run_wrk(wrk, url=base + paths[name], script=script(name, 4), connections=4, seconds=2)

        results: dict[tuple[str, int], dict] = {}
        for name in [n for _, n in rows]:
            for c in levels:
                lua = script(name, c)
                before = xact_commit()
                r = run_wrk(wrk, url=base + paths[name], script=lua, connections=c,
                            seconds=args.seconds)
                time.sleep(1.2)  # backends flush their statistics at most once a second
                r["commits"] = (xact_commit() - before) / max(r["requests"], 1)
                if name == "webhook":
                    r["fresh"] = min(r["requests"], len(deposits[c]))
                results[(name, c)] = r
        # Let the worker drain what the storm queued (outbox relay), then stop everything.
        time.sleep(3)
        stop_platform(proc)
        load = os.getloadavg()

        alone = bet_place_alone(ctx["players"], ctx["selection"], args.workers, args.seconds)
        report, reconciled = reconcile()

        print(f"HTTP under wrk ({args.seconds} s per cell, 2 wrk threads, {PLAYERS} players, "
              f"{args.workers} web workers, WEB_SERVER={env.get('WEB_SERVER', 'default')}, "
              f"settings {args.settings}; "
              f"load average after the storm {load[0]:.1f} {load[1]:.1f})")
        print(f"  {'request':<36} {'conn':>4} {'req/s':>8} {'p50 ms':>7} {'p95 ms':>7} "
              f"{'p99 ms':>7} {'non-2xx':>7} {'commits/req':>11}")
        for label, name in rows:
            for c in levels:
                r = results[(name, c)]
                bad = r["non2xx"] + r["socket_errors"]
                print(f"  {label:<36} {c:>4} {r['rps']:8.0f} {r['p50'] / 1000:7.1f} "
                      f"{r['p95'] / 1000:7.1f} {r['p99'] / 1000:7.1f} {bad:>7} {r['commits']:11.2f}")
                for line in r.get("stderr", []):
                    print(f"      {line}")
        c4 = levels[0]
        total_bad = sum(r["non2xx"] + r["socket_errors"] for r in results.values())
        print(f"bet_place alone, {args.workers} processes, same database: {alone:8.0f} bets/s")
        print("targets")
        if ("bets", c4) in results:
            bets = results[("bets", c4)]
            print(f"  POST bets @{c4} p99 (< 60 ms)                    {bets['p99'] / 1000:8.1f} ms  "
                  f"{'ok' if bets['p99'] < 60_000 else 'MISSED'}")
            ratio = bets["rps"] / alone
            print(f"  POST bets @{c4} / bet_place alone (>= 0.5)       {ratio:8.2f}     "
                  f"{'ok' if ratio >= 0.5 else 'MISSED'}")
        if ("wallets", c4) in results and ("healthz", c4) in results:
            ratio = results[("wallets", c4)]["rps"] / results[("healthz", c4)]["rps"]
            print(f"  GET wallets / GET healthz @{c4} (>= 0.5)          {ratio:8.2f}     "
                  f"{'ok' if ratio >= 0.5 else 'MISSED'}")
        print(f"  non-2xx over the whole storm (0)               {total_bad:8d}     "
              f"{'ok' if total_bad == 0 else 'MISSED'}")
        print(f"reconcile after the storm: {'ok' if reconciled else 'FINDINGS'}")
        for line in report.splitlines():
            print(f"  {line}")
    finally:
        if proc is not None:
            stop_platform(proc)
        from django.db import connections

        connections.close_all()
        if not args.keep_db:
            drop_database(DB)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
