"""What each staff role may do, as Django permissions on the role groups.

`roles_sync()` (re)applies the map idempotently: the data migration calls it, and so do
`manage.py sync_roles` and seed_demo, because apps whose models are migrated after this
app's migration only get their permissions granted on a later run. Each group ends up
with exactly the permissions listed here (anything else is removed: least privilege).
"""

from __future__ import annotations

from django.apps import apps as global_apps
from django.contrib.auth.management import create_permissions
from django.contrib.contenttypes.management import create_contenttypes

from users.roles import ADMINISTRATOR, COMPLIANCE, PAYMENTS, SUPPORT, TRADER

VIEW = ("view",)
ALL = ("view", "add", "change", "delete")

# Ledger, entries, idempotency records and the outbox are read-only for everyone (the
# admin refuses add/change/delete whatever permissions say); roles get "view" at most.
_PLAYER_READ = [
    ("users", "user", VIEW),
    ("wallet", "account", VIEW),
    ("wallet", "transaction", VIEW),
    ("wallet", "entry", VIEW),
    ("wallet", "deposit", VIEW),
    ("wallet", "withdrawal", VIEW),
    ("wallet", "refund", VIEW),
    ("wallet", "feecharge", VIEW),
    ("wallet", "feeschedule", VIEW),
    ("affiliates", "attribution", VIEW),
    ("affiliates", "affiliate", VIEW),
    ("backoffice", "manualadjustment", VIEW),
    ("backoffice", "playernote", ("view", "add")),
]

# (app_label, model name or "*", actions) and backoffice action permission codenames.
PERMISSION_MAP: dict[str, dict[str, list]] = {
    SUPPORT: {
        "models": _PLAYER_READ + [
            ("betting", "bet", VIEW),
            ("game_sessions", "*", VIEW),
            ("casino", "*", VIEW),
            ("responsible", "*", VIEW),
            ("bonuses", "*", VIEW),
            ("backoffice", "manualadjustment", ("view", "add")),
            # Revoking a player's API tokens (their devices), with a reason.
            ("users", "authtoken", ("view", "change")),
        ],
        "actions": ["view_player", "force_close_session", "propose_adjustment"],
    },
    COMPLIANCE: {
        "models": _PLAYER_READ + [
            ("kyc", "*", ("view", "change")),
            # view, add (the admin's impose forms) and responsible.impose_limit.
            ("responsible", "*", ("view", "add", "impose")),
            ("betting", "bet", VIEW),
            ("game_sessions", "*", VIEW),
            ("casino", "*", VIEW),
            ("bonuses", "*", VIEW),
            ("reconciliation", "*", VIEW),
            ("wallet", "providercallback", VIEW),
            ("events", "outboxevent", VIEW),
            ("events", "parkedtask", VIEW),
            ("backoffice", "auditexport", VIEW),
        ],
        "actions": ["view_player", "decide_kyc", "set_aml_status", "export_audit",
                    "view_dashboard"],
    },
    PAYMENTS: {
        "models": _PLAYER_READ + [
            ("wallet", "withdrawal", ("view", "change")),
            ("wallet", "refund", ("view", "change")),
            ("wallet", "feeschedule", ("view", "add", "change")),
            ("affiliates", "*", ("view", "add", "change")),
            ("wallet", "providercallback", VIEW),
            ("reconciliation", "*", ("view", "change")),
            ("events", "parkedtask", ("view", "change")),
            # Campaigns, manual grants and forfeits (bonuses app).
            ("bonuses", "*", ("view", "add", "change", "grant", "forfeit")),
        ],
        "actions": ["view_player", "decide_withdrawal", "approve_adjustment",
                    "resolve_discrepancy", "view_dashboard"],
    },
    TRADER: {
        "models": [
            ("betting", "*", ("view", "add", "change")),
        ],
        "actions": ["trade_markets", "view_dashboard"],
    },
    # Administrators get every permission (see roles_sync), read-only models stay read-only.
    ADMINISTRATOR: {"models": [], "actions": []},
}

ACTION_APP = "backoffice"


def _wanted_permissions(Permission, role: str):
    spec = PERMISSION_MAP[role]
    if role == ADMINISTRATOR:
        return set(Permission.objects.values_list("pk", flat=True))
    wanted: set[int] = set()
    for app_label, model, actions in spec["models"]:
        qs = Permission.objects.filter(content_type__app_label=app_label)
        if model != "*":
            qs = qs.filter(content_type__model=model)
        for pk, codename, ct_model in qs.values_list("pk", "codename", "content_type__model"):
            if codename in {f"{action}_{ct_model}" for action in actions}:
                wanted.add(pk)
    wanted |= set(
        Permission.objects.filter(
            content_type__app_label=ACTION_APP, codename__in=spec["actions"]
        ).values_list("pk", flat=True)
    )
    return wanted


def ensure_permissions(apps=global_apps) -> None:
    """Create the Permission rows of every installed model now (post_migrate would create
    them only after the whole migrate run, too late for a data migration)."""
    for app_config in apps.get_app_configs():
        # Historical app configs have no models_module; create_* skip such apps.
        had = getattr(app_config, "models_module", None)
        app_config.models_module = had or True
        try:
            create_contenttypes(app_config, verbosity=0, apps=apps)
            create_permissions(app_config, verbosity=0, apps=apps)
        finally:
            app_config.models_module = had


def roles_sync(*, apps=global_apps) -> dict[str, int]:
    """Give each role group exactly the permissions of PERMISSION_MAP; return counts."""
    ensure_permissions(apps)
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    counts = {}
    for role in PERMISSION_MAP:
        group, _ = Group.objects.get_or_create(name=role)
        wanted = _wanted_permissions(Permission, role)
        group.permissions.set(wanted)
        counts[role] = len(wanted)
    return counts
