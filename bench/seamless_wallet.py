"""Seamless-wallet latency: a game provider's bet/win pairs over HTTP at fixed concurrency.

The web tier as `make run` starts it serves the provider API against a throwaway database:
gunicorn with --workers sync workers (default 2, WEB_CONCURRENCY) and pooled connections
(docs/deploy.md); `--server asgi` measures uvicorn (the ASGI server) instead. C client threads (default 4: "4 concurrent provider connections", each a keep-alive
HTTP connection) each loop: a signed bet, then its signed win (closing the round), for
different players, for --seconds. Beside it, in the same run and at the same concurrency,
the same threads call GET /healthz: the baseline of the stack (HTTP, ASGI, Django middleware)
without the wallet, so the ratio shows what the wallet itself costs.

Prints p50/p95/p99/max of bets, wins and /healthz, throughput (calls/s), the ratio against
/healthz, the machine's load average before and after, and whether bet p99 < 60 ms (the
aggregators' target: p95 < 40 ms, p99 < 60 ms). Then checks correctness: every acknowledged
bet and win is one ledger transaction, balances match, the reconciliation checks find nothing.

    DJANGO_SETTINGS_MODULE=config.settings.dev .venv/bin/python bench/seamless_wallet.py \
        [--concurrency 4] [--seconds 20] [--players 64] [--provider sandbox|hub88] \
        [--server gunicorn|asgi] [--workers 2]
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

# _setup first: it puts the project root ahead of bench/ (bench/http.py would shadow http).
from _setup import ROOT, bench_database, drop_database

# isort: split
import httpx
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

DB = "bench_seamless_wallet"
SECRET = "bench-sandbox-secret"
BIN = Path(sys.executable).parent
STAKE, WIN = 100, 150  # minor units: 1.00 staked, 1.50 won


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = max(0, min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1))))
    return ordered[k]


def summary(name: str, values: list[float], seconds: float) -> str:
    ms = [v * 1000 for v in values]
    return (f"{name:<8} n={len(ms):>6}  p50={percentile(ms, 50):6.2f} ms  "
            f"p95={percentile(ms, 95):6.2f} ms  p99={percentile(ms, 99):6.2f} ms  "
            f"max={max(ms) if ms else float('nan'):7.2f} ms  {len(ms) / seconds:7.1f}/s")


class Signer:
    def __init__(self, provider: str, hmac_sign):
        self.provider = provider
        self.hmac_sign = hmac_sign
        if provider == "hub88":
            self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            self.public_pem = self._key.public_key().public_bytes(
                serialization.Encoding.PEM,
                serialization.PublicFormat.SubjectPublicKeyInfo).decode()

    def headers(self, raw: bytes) -> dict:
        if self.provider == "hub88":
            sig = self._key.sign(raw, padding.PKCS1v15(), hashes.SHA256())
            return {"X-Hub88-Signature": base64.b64encode(sig).decode()}
        return {"X-Signature": self.hmac_sign(secret=SECRET.encode(), timestamp=int(time.time()),
                                              body=raw)}


def calls(provider: str, player_id: int, token: str, n: int):
    """The (path, body) of one bet/win pair in the provider's wire format."""
    bet_id, win_id, rnd = f"b-{uuid.uuid4()}", f"w-{uuid.uuid4()}", f"r-{uuid.uuid4()}"
    if provider == "hub88":
        base = {"user": f"player-{player_id}", "token": token, "game_code": "bench_slot",
                "round": rnd, "currency": "USD", "is_free": False}
        return [("transaction/bet", {**base, "request_uuid": f"q{n}b", "transaction_uuid": bet_id,
                                     "amount": STAKE * 1000, "round_closed": False}),
                ("transaction/win", {**base, "request_uuid": f"q{n}w", "transaction_uuid": win_id,
                                     "reference_transaction_uuid": bet_id,
                                     "amount": WIN * 1000, "round_closed": True})]
    base = {"token": token, "game": "bench_slot", "round_id": rnd, "currency": "USD"}
    return [("bet", {**base, "transaction_id": bet_id, "amount": "1.00"}),
            ("win", {**base, "transaction_id": win_id, "reference_transaction_id": bet_id,
                     "amount": "1.50", "round_closed": True})]


def ok(provider: str, resp: httpx.Response) -> bool:
    if resp.status_code != 200:
        return False
    body = resp.json()
    return body.get("status") == ("RS_OK" if provider == "hub88" else "ok")


def drive(base: str, provider: str, signer: Signer, players: list[tuple[int, str]],
          concurrency: int, seconds: float, healthz: bool):
    lat: dict[str, list[float]] = {"bet": [], "win": [], "healthz": []}
    failures: list[str] = []
    acked = {"bet": 0, "win": 0}
    lock = threading.Lock()
    barrier = threading.Barrier(concurrency)

    def worker(i: int) -> None:
        mine = players[i::concurrency]
        client = httpx.Client(timeout=30)
        local = {"bet": [], "win": [], "healthz": []}
        n = 0
        barrier.wait()
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if healthz:
                t0 = time.perf_counter()
                r = client.get(f"{base}/healthz")
                local["healthz"].append(time.perf_counter() - t0)
                if r.status_code != 200:
                    failures.append(f"healthz {r.status_code}")
                continue
            pid, token = mine[n % len(mine)]
            n += 1
            for path, body in calls(provider, pid, token, n):
                raw = json.dumps(body).encode()
                headers = {"Content-Type": "application/json", **signer.headers(raw)}
                t0 = time.perf_counter()
                r = client.post(f"{base}/api/v1/casino/{provider}/{path}", content=raw,
                                headers=headers)
                kind = path.rsplit("/", 1)[-1]
                local[kind].append(time.perf_counter() - t0)
                if ok(provider, r):
                    with lock:
                        acked[kind] += 1
                else:
                    failures.append(f"{path} {r.status_code} {r.text[:200]}")
        client.close()
        with lock:
            for k, v in local.items():
                lat[k].extend(v)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return lat, acked, failures


def wait_healthy(base: str, proc: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"ASGI server exited with {proc.returncode}")
        try:
            if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise SystemExit("ASGI server did not become healthy")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--concurrency", type=int, default=4)
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--players", type=int, default=64)
    ap.add_argument("--provider", choices=["sandbox", "hub88"], default="sandbox")
    ap.add_argument("--port", type=int, default=18517)
    ap.add_argument("--server", choices=["gunicorn", "asgi"], default="gunicorn")
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()

    url = bench_database(DB)
    proc = None
    try:
        # Django is set up by bench_database: the project's modules import only now.
        from django.utils import timezone

        from casino.services import game_launch
        from casino.signatures import hmac_sign
        from reconciliation.checks import run_checks
        from tests.factories import fund_player
        from users.models import User
        from wallet.models import Transaction

        signer = Signer(args.provider, hmac_sign)
        funds = 1_000_000
        players = []
        for i in range(args.players):
            user = User.objects.create_user(username=f"bench{i}", email=f"bench{i}@example.test",
                                            password="bench-password-123")
            fund_player(user, funds, "USD")
            launched = game_launch(player=user, provider=args.provider, game="bench_slot",
                                   currency="USD", now=timezone.now())
            players.append((user.pk, launched.token))

        env = dict(os.environ, DATABASE_URL=url, DJANGO_SETTINGS_MODULE="config.settings.dev",
                   DEBUG="false", LOG_LEVEL="WARNING", CASINO_SANDBOX_SECRET=SECRET,
                   CASINO_LAUNCH_TOKEN_TTL_S="3600")
        if args.provider == "hub88":
            env["CASINO_HUB88_PUBLIC_KEY"] = signer.public_pem
        base = f"http://127.0.0.1:{args.port}"
        if args.server == "gunicorn":
            cmd = [str(BIN / "gunicorn"), "config.wsgi:application", "--bind",
                   f"127.0.0.1:{args.port}", "--workers", str(args.workers), "--worker-class",
                   "sync", "--timeout", "60", "--log-level", "warning"]
        else:
            cmd = [str(BIN / "uvicorn"), "config.asgi:application", "--host", "127.0.0.1",
                   "--port", str(args.port), "--workers", str(args.workers), "--log-level",
                   "warning", "--no-access-log"]
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        wait_healthy(base, proc)
        # Warm-up: first requests import and connect.
        drive(base, args.provider, signer, players, args.concurrency, 2.0, healthz=False)
        drive(base, args.provider, signer, players, args.concurrency, 1.0, healthz=True)

        load_before = os.getloadavg()
        h_lat, _, h_fail = drive(base, args.provider, signer, players, args.concurrency,
                                 args.seconds / 2, healthz=True)
        lat, acked, failures = drive(base, args.provider, signer, players, args.concurrency,
                                     args.seconds, healthz=False)
        load_after = os.getloadavg()

        print(f"seamless wallet, provider {args.provider}, {args.concurrency} concurrent "
              f"connections, {args.server} with {args.workers} worker processes, "
              f"{os.cpu_count()} CPUs")
        print(f"load average before {load_before[0]:.2f}, after {load_after[0]:.2f} "
              f"(1 min; the machine is shared)")
        print(summary("healthz", h_lat["healthz"], args.seconds / 2))
        print(summary("bet", lat["bet"], args.seconds))
        print(summary("win", lat["win"], args.seconds))
        pairs_s = min(len(lat["bet"]), len(lat["win"])) / args.seconds
        print(f"bet/win pairs: {pairs_s:.1f}/s")
        h99, b95, b99 = (percentile([v * 1000 for v in x], q) for x, q in
                         ((h_lat["healthz"], 99), (lat["bet"], 95), (lat["bet"], 99)))
        print(f"ratio bet p99 / healthz p99: {b99 / h99:.2f}x")
        print(f"target bet p95 < 40 ms: {'met' if b95 < 40 else 'MISSED'} ({b95:.2f} ms); "
              f"bet p99 < 60 ms: {'met' if b99 < 60 else 'MISSED'} ({b99:.2f} ms)")

        # Correctness: every acknowledged call is exactly one ledger transaction.
        failures += h_fail
        bets = Transaction.objects.filter(kind="casino_bet").count()
        wins = Transaction.objects.filter(kind="casino_win").count()
        warm_bets = bets - acked["bet"]  # the warm-up's
        findings = run_checks(now=timezone.now(),
                              only=["ledger_sums", "negative_balances", "single_posting"])
        print(f"ledger: {bets} bets, {wins} wins (incl. warm-up {warm_bets}); "
              f"failures {len(failures)}; reconciliation findings {len(findings)}")
        if failures or findings or bets != wins:
            print("CORRECTNESS FAILURE:", failures[:5], findings[:5])
            sys.exit(1)
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(15)
        from django.db import connections

        connections.close_all()
        drop_database(DB)


if __name__ == "__main__":
    main()
