"""Fault suite (`make chaos`, docs/faults.md): money operations through the real API while,
one at a time, PostgreSQL restarts immediately, the ASGI server is SIGKILLed, the whole Celery
worker is SIGKILLed during a 1,000-bet settlement, Redis stops for 20 s, and PostgreSQL is
frozen (SIGSTOP) for 5 s.

Everything runs privately: a PostgreSQL cluster made with initdb/pg_ctl on a free port (as
the `postgres` user), a redis-server on a free port, uvicorn, a Celery worker and beat. Ten
clients each send money operations with an Idempotency-Key and retry the same key on any
transport error, 5xx or 409 idempotency_key_in_progress, as a correct client does, and write
every answer to a journal. After each fault the system gets a bounded time to settle, then:

- every acknowledged operation (2xx) is in the ledger exactly once;
- every key, sent again, answers the committed result (status and body), none 409;
- nothing is left transient (open bets on resulted markets, approved/processing withdrawals,
  pending deposits);
- `reconcile` finds nothing.

It prints one table row per fault and exits non-zero if any figure is wrong.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
BIN = ROOT / ".venv" / "bin"
PG_BIN = next(Path("/usr/lib/postgresql").glob("*/bin"))
CLIENTS = int(os.environ.get("CHAOS_CLIENTS", "10"))
LOAD_S = float(os.environ.get("CHAOS_LOAD_S", "12"))
SETTLE_S = float(os.environ.get("CHAOS_SETTLE_S", "120"))
SETTLEMENT_BETS = int(os.environ.get("CHAOS_SETTLEMENT_BETS", "1000"))
SECRET = "chaos-sandbox-secret"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(predicate, timeout: float, interval: float = 0.2, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            value = predicate()
        except Exception:  # noqa: BLE001 - a service still coming up
            value = None
        if value:
            return value
        time.sleep(interval)
    raise TimeoutError(f"{what} not met within {timeout}s")


def as_postgres(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["su", "postgres", "-s", "/bin/sh", "-c", " ".join(args)],
                          check=True, capture_output=True, text=True)


class Postgres:
    def __init__(self):
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="chaos-pg-"))
        shutil.chown(self.dir, "postgres", "postgres")
        self.data = self.dir / "data"

    def init(self) -> None:
        as_postgres(str(PG_BIN / "initdb"), "-D", str(self.data), "-U", "postgres",
                    "--auth=trust", "-E", "UTF8", ">/dev/null")
        self.start()
        subprocess.run([str(PG_BIN / "createdb"), "-h", "127.0.0.1", "-p", str(self.port),
                        "-U", "postgres", "chaos"], check=True)

    def start(self) -> None:
        as_postgres(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-w", "-l",
                    str(self.dir / "log"), "-o",
                    f"'-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 "
                    "-c fsync=off -c max_connections=200'", "start")

    def restart_immediate(self) -> None:
        as_postgres(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w",
                    "-l", str(self.dir / "log"), "-o",
                    f"'-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 "
                    "-c fsync=off -c max_connections=200'", "restart")

    def pids(self) -> list[int]:
        master = int((self.data / "postmaster.pid").read_text().split()[0])
        children = subprocess.run(["pgrep", "-P", str(master)], capture_output=True, text=True)
        return [master, *[int(p) for p in children.stdout.split()]]

    def stop(self) -> None:
        try:
            as_postgres(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "stop")
        except subprocess.CalledProcessError:
            pass
        shutil.rmtree(self.dir, ignore_errors=True)

    @property
    def url(self) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/chaos"


class Redis:
    def __init__(self):
        self.port = free_port()
        self.dir = tempfile.mkdtemp(prefix="chaos-redis-")
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--maxmemory-policy", "noeviction", "--dir", self.dir],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for(lambda: subprocess.run(["redis-cli", "-p", str(self.port), "ping"],
                                        capture_output=True, text=True).stdout.strip() == "PONG",
                 10, what="redis up")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"


def spawn(args: list[str], env: dict, log: Path) -> subprocess.Popen:
    return subprocess.Popen(args, cwd=ROOT, env=env, stdout=log.open("a"),
                            stderr=subprocess.STDOUT, start_new_session=True)


def killpg(proc: subprocess.Popen | None, sig=signal.SIGKILL) -> None:
    if proc is None or proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, sig)
    except ProcessLookupError:
        return
    try:
        proc.wait(20)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(5)


@dataclass
class Platform:
    env: dict
    logs: Path
    asgi: subprocess.Popen | None = None
    worker: subprocess.Popen | None = None
    beat: subprocess.Popen | None = None
    base: str = ""

    def start_asgi(self) -> None:
        port = free_port()
        self.asgi = spawn([str(BIN / "uvicorn"), "config.asgi:application", "--host",
                           "127.0.0.1", "--port", str(port), "--log-level", "warning"],
                          self.env, self.logs / "asgi.log")
        self.base = f"http://127.0.0.1:{port}"
        wait_for(lambda: httpx.get(f"{self.base}/healthz", timeout=2).status_code == 200, 60,
                 what="ASGI up")

    def start_worker(self) -> None:
        self.worker = spawn([str(BIN / "celery"), "-A", "config", "worker", "-l", "warning",
                             "--concurrency", "2", "-n", f"chaos.{uuid.uuid4().hex[:6]}@%h",
                             "--without-gossip", "--without-mingle"], self.env,
                            self.logs / "worker.log")

    def start_beat(self) -> None:
        self.beat = spawn([str(BIN / "celery"), "-A", "config", "beat", "-l", "warning", "-s",
                           str(self.logs / "beat-schedule"), "--scheduler",
                           "celery.beat:PersistentScheduler"], self.env, self.logs / "beat.log")

    def stop(self) -> None:
        for proc in (self.asgi, self.worker, self.beat):
            killpg(proc, signal.SIGTERM)


# --- clients -----------------------------------------------------------------------------


@dataclass
class Entry:
    key: str
    player: int
    op: str
    body: dict
    path: str
    status: int | None = None
    answer: dict | None = None
    attempts: int = 0


@dataclass
class Journal:
    entries: list[Entry] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, entry: Entry) -> None:
        with self.lock:
            self.entries.append(entry)


def send_until_answered(platform: Platform, token: str, entry: Entry, deadline: float) -> None:
    """Send one request, retrying the same key until a definitive answer (or the deadline)."""
    while time.monotonic() < deadline:
        entry.attempts += 1
        try:
            res = httpx.post(f"{platform.base}{entry.path}", json=entry.body, timeout=10,
                             headers={"Authorization": f"Bearer {token}",
                                      "Idempotency-Key": entry.key})
        except httpx.HTTPError:
            time.sleep(0.3)
            continue
        body = res.json() if res.headers.get("content-type", "").startswith("application/json") else {}
        if res.status_code >= 500 or (res.status_code == 409
                                      and body.get("code") == "idempotency_key_in_progress"):
            time.sleep(0.3)
            continue
        entry.status, entry.answer = res.status_code, body
        return


def client_loop(platform: Platform, journal: Journal, player: dict, selections: list[dict],
                stop: threading.Event, deadline_s: float) -> None:
    rng = random.Random(player["id"])
    while not stop.is_set():
        op = rng.choice(["bet", "bet", "bet", "withdrawal", "deposit"])
        if op == "bet":
            sel = rng.choice(selections)
            body = {"selection_id": sel["id"], "stake": "1.00", "currency": "USD",
                    "odds": sel["odds"], "odds_change": "any"}
            path = "/api/v1/betting/bets/"
        elif op == "withdrawal":
            body = {"amount": "0.50", "currency": "USD", "destination": "iban:CHAOS"}
            path = "/api/v1/payments/withdrawals/"
        else:
            body = {"amount": "2.00", "currency": "USD", "provider": "sandbox"}
            path = "/api/v1/payments/deposits/"
        entry = Entry(key=uuid.uuid4().hex, player=player["id"], op=op, body=body, path=path)
        journal.add(entry)
        send_until_answered(platform, player["token"], entry, time.monotonic() + deadline_s)
        time.sleep(rng.uniform(0.02, 0.1))


# --- in-process access to the private database (setup, driving the back office, checks) --


def django_setup(env: dict) -> None:
    os.environ.update({k: v for k, v in env.items() if k in (
        "DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL", "DJANGO_SETTINGS_MODULE",
        "SANDBOX_PROVIDER_SECRET", "KYC_WITHDRAWAL_THRESHOLD",
        "WITHDRAWAL_SECOND_APPROVAL_THRESHOLD", "BETTING_SETTLEMENT_REDRIVE_AFTER_S")})
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("psycopg.pool").setLevel(logging.ERROR)


def db_retry(fn, timeout: float = 60):
    """Run fn, retrying while the database is down or restarting."""
    from django.db import InterfaceError, OperationalError, close_old_connections, connection

    deadline = time.monotonic() + timeout
    while True:
        try:
            return fn()
        except (OperationalError, InterfaceError):
            if time.monotonic() > deadline:
                raise
            connection.close()
            close_old_connections()
            time.sleep(0.5)


def seed(platform: Platform, players: int) -> tuple[list[dict], list[dict], dict]:
    from datetime import timedelta
    from decimal import Decimal

    from django.db import transaction
    from django.utils import timezone

    from betting import services as betting
    from users.models import User
    from wallet.ledger import Posting, ledger_post, player_accounts, system_account
    from wallet.models import AccountKind

    out = []
    for n in range(players):
        name = f"chaos{n}"
        assert httpx.post(f"{platform.base}/api/v1/auth/register/", timeout=10, json={
            "username": name, "password": "correct-horse-battery-9", "email": f"{name}@x.test"}
        ).status_code == 201
        token = httpx.post(f"{platform.base}/api/v1/auth/token/", timeout=10, json={
            "username": name, "password": "correct-horse-battery-9"}).json()["token"]
        user = User.objects.get(username=name)
        with transaction.atomic():
            accts = player_accounts(player_id=user.pk, currency="USD")
            ledger_post(kind="deposit", reference=f"chaos-funding:{n}", postings=[
                Posting(system_account(AccountKind.PROVIDER_CLEARING, "USD"), -10_000_000),
                Posting(accts.cash, 10_000_000)])
        out.append({"id": user.pk, "token": token})
    now = timezone.now()
    event = betting.event_create(
        name="Chaos FC v Faults United", starts_at=now + timedelta(hours=1), actor=None, now=now,
        markets=[betting.MarketSpec(name=f"Market {i}", selections=[
            betting.SelectionSpec("Home", Decimal("2.500")), betting.SelectionSpec("Away", Decimal("1.600"))])
            for i in range(3)])
    selections = [{"id": s.pk, "odds": str(s.odds)} for m in event.markets.all()
                  for s in m.selections.all()]
    return out, selections, {"event_id": event.pk}


def settlement_market(players: list[dict], bets: int):
    """A started market with `bets` open bets placed through the service (fast), for the
    whole-worker kill during settlement."""
    from datetime import timedelta
    from decimal import Decimal

    from django.utils import timezone

    from betting import services as betting
    from users.models import User

    now = timezone.now()
    event = betting.event_create(
        # Started and in-play: it takes the bets and can be resulted at once.
        name=f"Settlement {uuid.uuid4().hex[:6]}", starts_at=now - timedelta(minutes=1), actor=None,
        now=now, markets=[betting.MarketSpec(name="Winner", in_play=True, selections=[
            betting.SelectionSpec("Home", Decimal("2.000")), betting.SelectionSpec("Away", Decimal("1.800"))])])
    market = event.markets.get()
    home, away = list(market.selections.order_by("id"))
    users = [User.objects.get(pk=p["id"]) for p in players]
    for i in range(bets):
        sel = home if i % 2 else away
        betting.bet_place(player=users[i % len(users)], legs=[betting.LegRequest(sel.pk, sel.odds)],
                          stake=100, currency="USD", odds_change="none", now=timezone.now())
    return market, home


def drive_back_office() -> None:
    """What staff and the provider do: approve requested withdrawals, confirm deposits and
    paid withdrawals through signed webhooks (each retried until answered)."""
    from django.utils import timezone

    from users.models import User
    from wallet.models import Deposit, Withdrawal
    from wallet.services import withdrawal_approve

    staff = User.objects.filter(username="chaos-staff").first() or User.objects.create_user(
        username="chaos-staff", password="x-chaos-staff-9", is_staff=True)
    for wid in Withdrawal.objects.filter(status="requested").values_list("pk", flat=True):
        try:
            withdrawal_approve(withdrawal_id=wid, actor=staff, now=timezone.now())
        except Exception as exc:  # noqa: BLE001 - reported by the checks if it matters
            print("approve failed", wid, exc, file=sys.stderr)
    return [("deposit.succeeded", str(d.pk), d.amount) for d in Deposit.objects.filter(status="pending")] + \
        [("withdrawal.paid", str(w.pk), w.amount) for w in Withdrawal.objects.filter(status="processing")]


def webhook(platform: Platform, event: str, reference: str, amount: int) -> int:
    from wallet.providers import sign

    raw = json.dumps({"event": event, "provider_transaction_id": f"psp-{reference}",
                      "reference": reference, "amount": f"{amount // 100}.{amount % 100:02d}",
                      "currency": "USD"}).encode()
    header = sign(secret=SECRET.encode(), timestamp=int(time.time()), body=raw)
    for _ in range(60):
        try:
            res = httpx.post(f"{platform.base}/api/v1/payments/webhooks/sandbox/", content=raw,
                             headers={"X-Signature": header, "Content-Type": "application/json"},
                             timeout=10)
            if res.status_code < 500 and not res.json().get("retryable"):
                return res.status_code
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    return 0


# --- checks --------------------------------------------------------------------------------


def check(platform: Platform, journal: Journal, tokens: dict[int, str],
          history: list[Entry]) -> dict:
    from django.db import connection
    from django.utils import timezone

    from betting.models import Bet
    from reconciliation.checks import run_checks
    from wallet.models import Deposit, Transaction, Withdrawal

    connection.close()
    acked = [e for e in journal.entries if e.status is not None and 200 <= e.status < 300]
    unanswered = [e for e in journal.entries if e.status is None]
    missing_or_double = 0
    for e in acked:
        oid = e.answer.get("id")
        if e.op == "bet":
            n = Transaction.objects.filter(reference=f"bet:{oid}", kind="bet_stake").count()
            ok = Bet.objects.filter(pk=oid).count() == 1 and n == 1
        elif e.op == "withdrawal":
            n = Transaction.objects.filter(reference=f"withdrawal:{oid}",
                                           kind="withdrawal_reserve").count()
            ok = Withdrawal.objects.filter(pk=oid).count() == 1 and n == 1
        else:
            ok = Deposit.objects.filter(pk=oid).count() == 1
        missing_or_double += not ok
    # One object per key: count objects per player against acknowledged keys.
    per_op = {"bet": Bet, "withdrawal": Withdrawal, "deposit": Deposit}
    extra = 0
    everything = history + journal.entries
    for op, model in per_op.items():
        acked_ids = {e.answer["id"] for e in everything
                     if e.op == op and e.status is not None and 200 <= e.status < 300}
        qs = model.objects.filter(player_id__in=list(tokens))
        if op == "bet":  # the settlement markets' bets were placed in-process, not by clients
            qs = qs.exclude(legs__market__event__name__startswith="Settlement")
        stored = set(qs.values_list("pk", flat=True))
        stored = {str(s) for s in stored}
        # Objects nobody acknowledged are fine only for requests that never got an answer.
        extra += max(0, len(stored - {str(i) for i in acked_ids})
                     - sum(1 for e in everything if e.op == op and e.status is None))
    replay_mismatch = replay_409 = 0
    for e in journal.entries:
        if e.status is None:
            continue
        res = httpx.post(f"{platform.base}{e.path}", json=e.body, timeout=20,
                         headers={"Authorization": f"Bearer {tokens[e.player]}",
                                  "Idempotency-Key": e.key})
        body = res.json()
        if res.status_code == 409 and body.get("code") == "idempotency_key_in_progress":
            replay_409 += 1
        elif (res.status_code, body) != (e.status, e.answer):
            replay_mismatch += 1
    transient = (
        Withdrawal.objects.filter(status__in=["approved", "processing"]).count()
        + Deposit.objects.filter(status="pending").count()
        + Bet.objects.filter(status="open", legs__market__status__in=["settled", "void"]).count()
    )
    findings = run_checks(now=timezone.now())
    return {"ops": len(journal.entries), "acked": len(acked), "unanswered": len(unanswered),
            "retried": sum(1 for e in journal.entries if e.attempts > 1),
            "missing_or_double": missing_or_double, "extra": extra,
            "replay_mismatch": replay_mismatch, "replay_409": replay_409,
            "transient": transient, "findings": len(findings),
            "finding_kinds": sorted({str(f.kind) for f in findings})}


def settle(platform: Platform, extra=lambda: True) -> float:
    """Drive staff/provider work until nothing is transient (bounded); seconds it took."""
    from django.db import connection

    from betting.models import Bet
    from wallet.models import Deposit, Withdrawal

    start = time.monotonic()
    while time.monotonic() - start < SETTLE_S:
        connection.close()
        for event, ref, amount in db_retry(drive_back_office):
            webhook(platform, event, ref, amount)
        done = db_retry(lambda: (
            Withdrawal.objects.filter(status__in=["requested", "approved", "processing"]).count() == 0
            and Deposit.objects.filter(status="pending").count() == 0
            and Bet.objects.filter(status="open", legs__market__status__in=["settled", "void"]).count() == 0))
        if done and extra():
            break
        time.sleep(1)
    return time.monotonic() - start


# --- the run -------------------------------------------------------------------------------


def main() -> int:
    pg, redis = Postgres(), Redis()
    logs = Path(tempfile.mkdtemp(prefix="chaos-logs-"))
    pg.init()
    redis.start()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings.test", DATABASE_URL=pg.url, REDIS_URL=redis.url,
        CELERY_BROKER_URL=redis.url, SANDBOX_PROVIDER_SECRET=SECRET, PYTHONUNBUFFERED="1",
        KYC_WITHDRAWAL_THRESHOLD="1000000", WITHDRAWAL_SECOND_APPROVAL_THRESHOLD="",
        BETTING_SETTLEMENT_REDRIVE_AFTER_S="10", BETTING_SETTLEMENT_REDRIVE_INTERVAL_S="5",
        WITHDRAWAL_SEND_REDRIVE_INTERVAL_S="5", OUTBOX_RELAY_INTERVAL_S="1", LOG_LEVEL="WARNING",
    )
    subprocess.run([str(BIN / "python"), "manage.py", "migrate", "--noinput", "-v", "0"],
                   cwd=ROOT, env=env, check=True)
    django_setup(env)
    platform = Platform(env=env, logs=logs)
    platform.start_asgi()
    platform.start_worker()
    platform.start_beat()
    rows = []
    t0 = time.monotonic()
    try:
        players, selections, _ = seed(platform, CLIENTS)
        tokens = {p["id"]: p["token"] for p in players}

        def pg_restart():
            pg.restart_immediate()

        def asgi_kill():
            killpg(platform.asgi)
            time.sleep(1)
            platform.start_asgi()

        def redis_stop():
            redis.stop()
            time.sleep(20)
            redis.start()

        def pg_freeze():
            pids = pg.pids()
            for pid in pids:
                os.kill(pid, signal.SIGSTOP)
            time.sleep(5)
            for pid in pids:
                os.kill(pid, signal.SIGCONT)

        settle_state: dict = {}
        history: list[Entry] = []

        def worker_kill():
            from django.utils import timezone

            from betting import services as betting
            from betting.models import Bet

            market, home = settle_state["market"], settle_state["home"]
            betting.market_settle(market_id=market.pk, winning_selection_ids=[home.pk],
                                  actor=None, now=timezone.now())
            wait_for(lambda: Bet.objects.filter(legs__market=market).exclude(status="open").count() > 50,
                     60, 0.05, what="settlement under way")
            killpg(platform.worker)  # the whole worker: main process and pool
            settle_state["killed_at"] = time.monotonic()
            settle_state["open_at_kill"] = Bet.objects.filter(legs__market=market, status="open").count()
            time.sleep(2)
            platform.start_worker()

        faults = [("pg_immediate_restart", pg_restart), ("asgi_sigkill", asgi_kill),
                  ("worker_sigkill_settlement", worker_kill), ("redis_stop_20s", redis_stop),
                  ("pg_sigstop_5s", pg_freeze)]
        for name, fault in faults:
            from django.db import connection

            connection.close()
            journal = Journal()
            extra_done = lambda: True  # noqa: E731
            if name == "worker_sigkill_settlement":
                market, home = settlement_market(players, SETTLEMENT_BETS)
                settle_state.update(market=market, home=home)
                from betting.models import Bet

                extra_done = lambda: Bet.objects.filter(  # noqa: E731
                    legs__market=settle_state["market"], status="open").count() == 0
            stop = threading.Event()
            threads = [threading.Thread(target=client_loop, daemon=True,
                                        args=(platform, journal, p, selections, stop, 90))
                       for p in players]
            for t in threads:
                t.start()
            time.sleep(LOAD_S / 2)
            fault()
            time.sleep(LOAD_S / 2)
            stop.set()
            for t in threads:
                t.join(120)
            settled_in = settle(platform, extra_done)
            figures = db_retry(functools.partial(check, platform, journal, tokens, history))
            history.extend(journal.entries)
            figures["fault"] = name
            figures["settle_s"] = round(settled_in, 1)
            if name == "worker_sigkill_settlement":
                figures["recovered_s"] = round(time.monotonic() - settle_state["killed_at"], 1)
                figures["open_at_kill"] = settle_state["open_at_kill"]
            rows.append(figures)
            print(json.dumps(figures), flush=True)
    finally:
        platform.stop()
        redis.stop()
        pg.stop()
    cols = ["fault", "ops", "acked", "retried", "unanswered", "missing_or_double", "extra",
            "replay_mismatch", "replay_409", "transient", "findings", "settle_s"]
    print()
    print(" | ".join(f"{c:>18}" if i == 0 else f"{c:>9}" for i, c in enumerate(cols)))
    for r in rows:
        print(" | ".join(f"{str(r[c]):>18}" if i == 0 else f"{str(r[c]):>9}"
                         for i, c in enumerate(cols)))
    for r in rows:
        if "recovered_s" in r:
            print(f"whole-worker SIGKILL during a {SETTLEMENT_BETS}-bet settlement: "
                  f"{r['open_at_kill']} bets open at the kill, all settled {r['recovered_s']} s later")
    print(f"total {time.monotonic() - t0:.0f} s; logs in {logs}")
    bad = [r for r in rows if r["missing_or_double"] or r["extra"] or r["replay_mismatch"]
           or r["replay_409"] or r["transient"] or r["findings"] or r["unanswered"]]
    for r in bad:
        print("FAILED:", r["fault"], r.get("finding_kinds"))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
