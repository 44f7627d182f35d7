"""Drive the cluster that scripts/cluster_test.sh started: find the leader, pause replay,
SIGKILL a node (Patroni and every PostgreSQL process), restart it, sign webhooks."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import signal
import subprocess
import time
import uuid
from pathlib import Path

import httpx
import psycopg
from django.conf import settings

from tests.e2e.procs import ROOT, wait_for

logging.getLogger("httpx").setLevel(logging.WARNING)

BASE = int(os.environ.get("CLUSTER_PORT_BASE", "15700"))
DIR = Path(os.environ.get("CLUSTER_DIR", f"/tmp/operator-cluster-{BASE}"))
DB = os.environ.get("CLUSTER_DB", "operator")
PG_PORT = {1: BASE + 2, 2: BASE + 3}
API_PORT = {1: BASE + 4, 2: BASE + 5}
BOUNCER_PORT = BASE + 6


def node_conn(n: int, *, db: str = DB, timeout: int = 3) -> psycopg.Connection:
    return psycopg.connect(host="127.0.0.1", port=PG_PORT[n], user="postgres", dbname=db,
                           autocommit=True, connect_timeout=timeout)


def sql(n: int, query: str, params=None):
    with node_conn(n) as conn:
        cur = conn.execute(query, params)
        return cur.fetchall() if cur.description else []


def patroni(n: int) -> dict | None:
    try:
        return httpx.get(f"http://127.0.0.1:{API_PORT[n]}/patroni", timeout=2).json()
    except (httpx.HTTPError, ValueError):
        return None


def role(n: int) -> str | None:
    state = patroni(n)
    return None if state is None else state.get("role")


def is_primary_role(value: str | None) -> bool:
    return value in ("master", "primary")


def leader() -> int | None:
    for n in (1, 2):
        if is_primary_role(role(n)):
            return n
    return None


def other(n: int) -> int:
    return 2 if n == 1 else 1


def in_recovery(n: int) -> bool | None:
    try:
        return bool(sql(n, "SELECT pg_is_in_recovery()")[0][0])
    except psycopg.Error:
        return None


def sync_streaming(primary: int) -> bool:
    try:
        rows = sql(primary, "SELECT count(*) FROM pg_stat_replication "
                            "WHERE sync_state = 'sync' AND state = 'streaming'")
    except psycopg.Error:
        return False
    return rows[0][0] == 1


def wait_healthy(timeout: float = 120) -> tuple[int, int]:
    """Until there is a leader with a streaming synchronous standby; (leader, replica)."""
    def ok():
        lead = leader()
        return lead if lead and sync_streaming(lead) and role(other(lead)) == "replica" else None

    lead = wait_for(ok, timeout, 0.5)
    return lead, other(lead)


def maintenance(on: bool) -> None:
    """Patroni's maintenance mode ("pause"): it neither fails over nor touches PostgreSQL;
    outside it, Patroni resumes a paused WAL replay on its next loop (PostgreSQL 14+)."""
    patroni_config_patch(leader() or 1, {"pause": on})
    wait_for(lambda: all(bool((patroni(n) or {}).get("pause")) == on for n in (1, 2)), 30)


def pause_replay(n: int) -> None:
    maintenance(True)
    sql(n, "SELECT pg_wal_replay_pause()")
    wait_for(lambda: sql(n, "SELECT pg_get_wal_replay_pause_state()")[0][0] == "paused", 30)


def resume_replay(n: int) -> None:
    sql(n, "SELECT pg_wal_replay_resume()")
    maintenance(False)


def replayed_up_to_primary(replica: int, primary: int) -> bool:
    target = sql(primary, "SELECT pg_current_wal_lsn()")[0][0]
    return bool(sql(replica, "SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", [target])[0][0])


def _pid(path: Path) -> int | None:
    try:
        return int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def _children(pid: int) -> list[int]:
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            out.append(int(stat.parent.name))
    return out


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    state = Path(f"/proc/{pid}/stat")
    try:
        return state.read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def kill_node(n: int) -> None:
    """SIGKILL Patroni, then the postmaster and every backend it had: a node crash."""
    patroni_pid = _pid(DIR / f"node{n}" / "patroni.pid")
    postmaster = _pid(DIR / f"node{n}" / "data" / "postmaster.pid")
    backends = _children(postmaster) if postmaster else []
    for pid in [patroni_pid, postmaster, *backends]:
        if pid:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
    for pid in [patroni_pid, postmaster, *backends]:
        if pid:
            wait_for(lambda p=pid: not _alive(p), 15, 0.05)


def start_node(n: int) -> None:
    subprocess.run(["bash", str(ROOT / "scripts" / "cluster.sh"), "start-node", str(n)],
                   check=True, env=os.environ.copy())


def patroni_log(n: int) -> str:
    try:
        return (DIR / f"node{n}" / "patroni.log").read_text(errors="replace")
    except OSError:
        return ""


def timeline(n: int) -> int:
    """The timeline the node runs on, as its Patroni reports it (a standby's control file
    only catches up at its next restartpoint)."""
    return int((patroni(n) or {}).get("timeline") or 0)


def patroni_config_patch(n: int, patch: dict) -> None:
    resp = httpx.patch(f"http://127.0.0.1:{API_PORT[n]}/config", json=patch, timeout=5)
    resp.raise_for_status()


# --- the app, over HTTP ------------------------------------------------------------------


def app_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}
    env.update(DJANGO_SETTINGS_MODULE="config.settings.test", PYTHONUNBUFFERED="1",
               LOG_LEVEL="WARNING")
    env.update(extra)
    return env


def sign(body: bytes, *, ts: int | None = None) -> str:
    ts = ts or int(time.time())
    mac = hmac.new(settings.SANDBOX_PROVIDER_SECRET.encode(), f"{ts}.".encode() + body,
                   hashlib.sha256).hexdigest()
    return f"t={ts},v1={mac}"


def webhook(client: httpx.Client, base: str, payload: dict) -> httpx.Response:
    body = json.dumps(payload).encode()
    return client.post(f"{base}/api/v1/payments/webhooks/sandbox/", content=body,
                       headers={"Content-Type": "application/json", "X-Signature": sign(body)})


def key() -> str:
    return uuid.uuid4().hex
