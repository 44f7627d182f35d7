"""Which reads may use the replica: the one place the rule is written (docs/deploy.md has
the same table for operators; DESIGN.md "Reads and replicas").

| reads                                                           | database            |
|-----------------------------------------------------------------|---------------------|
| money decisions: balances, withdrawal and deposit status, bet   | primary, always     |
| acceptance, KYC/AML gates, idempotency keys; every write; every |                     |
| read inside a transaction on the primary                        |                     |
| identity: users, tokens, sessions, staff devices                | primary, always     |
| read models (models with ``replica_ok = True``)                 | replica             |
| history lists (player's ledger history, bet list)               | replica             |
| backoffice/admin lists and reports, the dashboard               | replica             |
| audit exports, reconciliation scans                             | replica             |

"replica" always means: if one is configured, reachable, no more than REPLICA_MAX_LAG_S
behind (measured from WAL positions, `common.replica`), and the current player has no
write it has not replayed; otherwise the primary. The lag monitor raises a `replica_lag`
alert while the replica is past LAG_REPLICA_S.

Views opt in by URL name (LAGGING_VIEWS, GET/HEAD only), set by ReplicaReadsMiddleware;
other code marks a block with `common.replica.lagging_reads(purpose)`, or, when it picks a
database itself (exports, scans), asks `django.db.router.db_for_read(Model,
purpose=...)`, which lands here.
"""

from __future__ import annotations

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.conf import settings
from django.db import connections

from common.replica import read_purpose, replica_usable

PURPOSES = frozenset({
    "read_model", "history", "backoffice_list", "report", "dashboard", "audit_export",
    "reconciliation_scan",
})

# GET views whose reads may lag, by URL name. Admin changelists ("admin:*_changelist")
# are backoffice lists too; admin change forms and every POST stay on the primary.
LAGGING_VIEWS = {
    "wallet-transactions": "history",
    "betting-bets": "history",
    "kyc-queue": "backoffice_list",
    "bo-discrepancy-list": "backoffice_list",
    "bo-kpi-list": "report",
    "bo-player-summary": "read_model",
    "bo-player-search": "backoffice_list",
    "backoffice:player_search": "backoffice_list",
    "backoffice:dashboard": "dashboard",
}

# Who is asking is never read from a replica: a revoked token, a deactivated or demoted
# account, a new TOTP device must count at once.
PRIMARY_ONLY_APPS = frozenset({
    "auth", "authtoken", "users", "sessions", "django_otp", "otp_totp", "otp_static", "axes",
    "contenttypes", "admin",
})


def read_alias(purpose: str) -> str:
    """The database for a read that may lag by `purpose`: "replica" or "default"."""
    if purpose not in PURPOSES:
        raise ValueError(f"unknown lagging-read purpose {purpose!r}")
    if "replica" not in settings.DATABASES:
        return "default"
    return "replica" if replica_usable() else "default"


def view_purpose(request) -> str | None:
    if request.method not in ("GET", "HEAD"):
        return None
    match = getattr(request, "resolver_match", None)
    if match is None:
        return None
    name = match.view_name
    if name in LAGGING_VIEWS:
        return LAGGING_VIEWS[name]
    if name.startswith("admin:") and name.endswith("_changelist"):
        return "backoffice_list"
    return None


class PrimaryReplicaRouter:
    def db_for_read(self, model, **hints):
        purpose = hints.get("purpose") or read_purpose.get()
        if purpose is not None and purpose not in PURPOSES:
            raise ValueError(f"unknown lagging-read purpose {purpose!r}")
        if "replica" not in settings.DATABASES:
            return "default"
        # Decisions read locked rows inside their own transaction on the primary.
        if connections["default"].in_atomic_block:
            return "default"
        if model._meta.app_label in PRIMARY_ONLY_APPS:
            return "default"
        if purpose is None and getattr(model, "replica_ok", False):
            purpose = "read_model"
        if purpose is None:
            return "default"
        return read_alias(purpose)

    def db_for_write(self, model, **hints):
        return "default"

    def allow_relation(self, obj1, obj2, **hints):
        return True

    def allow_migrate(self, db, app_label, model_name=None, **hints):
        return db == "default"


class ReplicaReadsMiddleware:
    """Mark the reads of the views in LAGGING_VIEWS as allowed to lag."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response):
        self.get_response = get_response
        if iscoroutinefunction(get_response):
            markcoroutinefunction(self)

    def __call__(self, request):
        if iscoroutinefunction(self.get_response):
            return self._acall(request)
        try:
            return self.get_response(request)
        finally:
            self._reset(request)

    async def _acall(self, request):
        try:
            return await self.get_response(request)
        finally:
            self._reset(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        purpose = view_purpose(request)
        if purpose is not None:
            request._read_purpose_token = read_purpose.set(purpose)
        return None

    @staticmethod
    def _reset(request):
        token = getattr(request, "_read_purpose_token", None)
        if token is not None:
            try:
                read_purpose.reset(token)
            except ValueError:
                read_purpose.set(None)  # set in another context (sync view thread): clear ours
            request._read_purpose_token = None
