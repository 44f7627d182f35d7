"""The admin sidebar, built per request from what the staff member may use.

A link is listed only when the page behind it would let this person in: a backoffice page
when they hold its permission, a model list when its ModelAdmin grants module and view
permission (the same checks the page itself makes). Nothing is rendered and hidden: a role
never receives a link it would be refused on.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.contrib import admin
from django.urls import NoReverseMatch, reverse


@dataclass(frozen=True)
class Page:
    title: str
    url_name: str
    permission: str  # "app_label.codename"
    icon: str


@dataclass(frozen=True)
class ModelList:
    title: str
    labels: tuple[str, ...]  # "app_label.modelname", first registered wins (apps move)
    icon: str
    query: str = ""


# (group title, items) in the order staff read them: people first, then money, compliance,
# trading, live games, operations, administration.
SIDEBAR = [
    ("Players", [
        Page("Find a player", "backoffice:player_search", "backoffice.view_player", "person_search"),
        ModelList("Player notes", ("backoffice.playernote",), "sticky_note_2"),
    ]),
    ("Money", [
        ModelList("Withdrawals", ("wallet.withdrawal",), "payments"),
        ModelList("Deposits", ("wallet.deposit",), "savings"),
        ModelList("Manual adjustments", ("backoffice.manualadjustment",), "balance"),
        ModelList("Ledger entries", ("wallet.entry",), "receipt_long"),
        ModelList("Ledger transactions", ("wallet.transaction",), "swap_horiz"),
        ModelList("Accounts", ("wallet.account",), "account_balance_wallet"),
        ModelList("Provider callbacks", ("wallet.providercallback",), "webhook"),
    ]),
    ("Compliance", [
        ModelList("KYC queue", ("kyc.kycapplication",), "badge"),
        ModelList("AML status", ("kyc.amlprofile",), "gpp_maybe"),
        Page("Export the audit trail", "backoffice:audit_export", "backoffice.export_audit",
             "download"),
        ModelList("Audit exports", ("backoffice.auditexport",), "inventory_2"),
    ]),
    ("Sportsbook", [
        ModelList("Events", ("betting.event",), "event"),
        ModelList("Markets", ("betting.market",), "query_stats"),
        ModelList("Selections", ("betting.selection",), "format_list_bulleted"),
        ModelList("Bets", ("betting.bet",), "confirmation_number"),
        ModelList("Settlements", ("betting.marketsettlement",), "gavel"),
    ]),
    ("Live games", [
        ModelList("Game sessions", ("game_sessions.gamesession",), "sports_esports"),
        ModelList("Game rounds", ("game_sessions.gameround",), "casino"),
    ]),
    ("Casino providers", [
        ModelList("Casino rounds", ("casino.casinoround",), "playing_cards"),
        ModelList("Provider transactions", ("casino.providertransaction",), "sync_alt"),
        ModelList("Game launches", ("casino.gamelaunch",), "rocket_launch"),
    ]),
    ("Operations", [
        Page("Dashboard", "backoffice:dashboard", "backoffice.view_dashboard", "monitoring"),
        ModelList("Alerts", ("reconciliation.alert",), "notifications_active"),
        ModelList("Discrepancies", ("reconciliation.discrepancy",), "rule"),
        ModelList("Provider reports", ("reconciliation.providerreport",), "description"),
        ModelList("Parked tasks", ("events.parkedtask",), "pending_actions"),
        ModelList("Player summaries", ("reconciliation.playersummary",), "summarize"),
        ModelList("Daily KPIs", ("reconciliation.operatordailykpi",), "insights"),
        ModelList("Outbox", ("events.outboxevent",), "outbox"),
        ModelList("Idempotency keys", ("common.idempotencyrecord",),
                  "key"),
    ]),
    ("Administration", [
        ModelList("Staff and players", ("users.user",), "group"),
        ModelList("Roles", ("auth.group",), "shield_person"),
        ModelList("TOTP devices", ("otp_totp.totpdevice",), "phonelink_lock"),
        ModelList("Login attempts", ("axes.accessattempt",), "login"),
        ModelList("Periodic tasks", ("django_celery_beat.periodictask",), "schedule"),
    ]),
]


def _model_admin(site, labels):
    registry = {m._meta.label_lower: (m, ma) for m, ma in site._registry.items()}
    for label in labels:
        if label in registry:
            return registry[label]
    return None, None


def can_open(request, item, site=None) -> bool:
    """Whether the page behind a sidebar item lets this request in."""
    site = site or admin.site
    if isinstance(item, Page):
        return request.user.has_perm(item.permission)
    model, model_admin = _model_admin(site, item.labels)
    if model_admin is None:
        return False
    return bool(model_admin.has_module_permission(request)
                and model_admin.has_view_or_change_permission(request))


def _url(item, site) -> str | None:
    try:
        if isinstance(item, Page):
            return reverse(item.url_name)
        model, _ = _model_admin(site, item.labels)
        opts = model._meta
        return reverse(f"{site.name}:{opts.app_label}_{opts.model_name}_changelist") + (
            f"?{item.query}" if item.query else "")
    except NoReverseMatch:
        return None


def sidebar(request) -> list[dict]:
    """Unfold's SIDEBAR["navigation"]: only the groups and links this person can use."""
    site = admin.site
    groups = []
    for title, items in SIDEBAR:
        links = []
        for item in items:
            if not can_open(request, item, site):
                continue
            url = _url(item, site)
            if url is not None:
                links.append({"title": item.title, "icon": item.icon, "link": url})
        if links:
            groups.append({"title": title, "separator": bool(groups), "items": links})
    return groups


def environment(request) -> list[str] | None:
    """The badge in the header: staff must never mistake a development copy for production."""
    if settings.DEBUG:
        return ["Development", "warning"]
    return None
