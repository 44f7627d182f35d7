"""Admin pages of the backoffice: player search and one-page view, dashboard, audit export.

Each view is wrapped by the admin site's `admin_view` (login + TOTP-verified staff) and
then checks the role's backoffice permission.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

from asgiref.sync import sync_to_async
from django.apps import apps
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.core.handlers.asgi import ASGIRequest
from django.http import HttpResponseNotAllowed, HttpResponseRedirect, StreamingHttpResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.views import defaults

from common.denied import MissingPermission, permission_label, require_perm, roles_holding
from common.errors import DomainError
from reconciliation.liveness import celery_liveness_monitor
from users.models import User

from .audit import AuditFilters, export_stream
from .charts import line_chart
from .dashboard import dashboard_data
from .forms import AuditExportForm, PlayerNoteForm
from .selectors import (
    TIMELINE_LIMIT,
    player_notes,
    player_search_matches,
    player_summary,
    player_timeline,
)
from .services import audit_export_start, player_note_add

CONTENT_TYPES = {"csv": "text/csv; charset=utf-8", "jsonl": "application/x-ndjson"}


ACTION_NAMES = {
    "view_player": "Opening player pages",
    "view_dashboard": "The operations dashboard",
    "export_audit": "Exporting the audit trail",
}


def _require(request, codename: str) -> None:
    require_perm(request.user, f"backoffice.{codename}", ACTION_NAMES.get(codename, ""))


def _context(request, **extra) -> dict:
    return {**admin.site.each_context(request), **extra}


def player_search_view(request):
    _require(request, "view_player")
    q = request.GET.get("q", "")
    matches = player_search_matches(q=q) if q else []
    if len(matches) == 1 and request.GET.get("go") == "1":
        return HttpResponseRedirect(reverse("backoffice:player_detail",
                                            args=[matches[0].player.pk]))
    return TemplateResponse(request, "admin/backoffice/player_search.html",
                            _context(request, title="Find a player", q=q, matches=matches))


def player_detail_view(request, player_id: int):
    _require(request, "view_player")
    player = get_object_or_404(User, pk=player_id, is_staff=False)
    before = parse_datetime(request.GET.get("before", "") or "")
    timeline = player_timeline(player=player, before=before)
    return TemplateResponse(request, "admin/backoffice/player_detail.html", _context(
        request, title=f"{player.get_full_name() or player.username} (player #{player.pk})",
        player=player, summary=player_summary(player=player, viewer=request.user),
        timeline=timeline,
        older=timeline[-1].at.isoformat() if len(timeline) >= TIMELINE_LIMIT else "",
        notes=player_notes(player=player), note_form=PlayerNoteForm(),
        can_add_note=request.user.has_perm("backoffice.add_playernote")))


def player_note_add_view(request, player_id: int):
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    require_perm(request.user, "backoffice.add_playernote", "Adding a note to a player")
    form = PlayerNoteForm(request.POST)
    back = reverse("backoffice:player_detail", args=[player_id]) + "#notes"
    if form.is_valid():
        try:
            player_note_add(player_id=player_id, author=request.user,
                            body=form.cleaned_data["body"], now=timezone.now())
        except DomainError as exc:
            messages.error(request, f"Note not saved: {exc.detail} [{exc.code}]")
        else:
            messages.success(request, "Note added.")
    else:
        messages.error(request, "Note not saved: " + "; ".join(
            e for errors in form.errors.values() for e in errors))
    return HttpResponseRedirect(back)


def dashboard_view(request):
    _require(request, "view_dashboard")
    now = timezone.now()
    # The web tier judges Celery itself (a frozen worker cannot report itself, and beat may
    # be embedded in that worker): raise or clear the Celery alerts before showing them.
    celery_liveness_monitor(now=now)
    data = dashboard_data(now=now)
    charts = [
        {"title": c["title"],
         "svg": line_chart(c["series"], start=c["start"], end=c["end"], bucket=c["bucket"],
                           unit=c["unit"])}
        for c in data.pop("charts")
    ]
    return TemplateResponse(request, "admin/backoffice/dashboard.html",
                            _context(request, title="Operations dashboard", charts=charts,
                                     now=now, **data))


async def _aiter(blocks: Iterator[bytes], batch: int = 16) -> AsyncIterator[bytes]:
    """Serve a sync generator under ASGI without buffering it whole (Django would call
    list() on it): pull a few blocks at a time on the thread that owns its DB connection."""

    def pull() -> list[bytes]:
        out = []
        for block in blocks:
            out.append(block)
            if len(out) >= batch:
                break
        return out

    while True:
        chunk = await sync_to_async(pull, thread_sensitive=True)()
        if not chunk:
            return
        for block in chunk:
            yield block


def audit_export_view(request):
    _require(request, "export_audit")
    form = AuditExportForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        filters = AuditFilters(player_id=data["player"].pk if data["player"] else None,
                               since=data["since"], until=data["until"])
        try:
            export = audit_export_start(actor=request.user, fmt=data["format"],
                                        filters=filters.as_dict(), channel="admin",
                                        reason=data["reason"], now=timezone.now())
        except DomainError as exc:
            raise PermissionDenied(exc.detail) from exc
        blocks = export_stream(export=export, filters=filters)
        body = _aiter(blocks) if isinstance(request, ASGIRequest) else blocks
        response = StreamingHttpResponse(body, content_type=CONTENT_TYPES[export.format])
        stamp = timezone.now().strftime("%Y%m%dT%H%M%SZ")
        response["Content-Disposition"] = (
            f'attachment; filename="audit-{export.pk}-{stamp}.{export.format}"'
        )
        response["X-Audit-Export-Id"] = str(export.pk)
        return response
    return TemplateResponse(request, "admin/backoffice/audit_export.html",
                            _context(request, title="Export the audit trail", form=form))




def _needed_permission(request, exception) -> str | None:
    """The permission a refused admin request lacked: named by the exception, or the model
    page's view permission."""
    permission = getattr(exception, "permission", None)
    if permission:
        return permission
    parts = request.path.strip("/").split("/")
    if len(parts) >= 3 and parts[0] == "admin":
        try:
            model = apps.get_model(parts[1], parts[2])
        except (LookupError, ValueError):
            return None
        return f"{model._meta.app_label}.view_{model._meta.model_name}"
    return None


def permission_denied_view(request, exception=None):
    """handler403: in the admin, a page that names the permission and the roles holding it;
    elsewhere Django's plain 403 (the API answers its own JSON 403 before this)."""
    if not request.path.startswith("/admin/") or not getattr(request, "user", None) \
            or not request.user.is_authenticated or not request.user.is_staff:
        return defaults.permission_denied(request, exception)
    permission = _needed_permission(request, exception)
    message = str(exception or "") if not isinstance(exception, MissingPermission) else ""
    context = {
        **admin.site.each_context(request),
        "title": "Not allowed for your role",
        "action": getattr(exception, "action", "") or "This page",
        "permission": permission,
        "permission_name": permission_label(permission) if permission else "",
        "roles": roles_holding(permission) if permission else [],
        "your_roles": sorted(request.user.groups.values_list("name", flat=True)),
        "message": message,
    }
    response = TemplateResponse(request, "admin/backoffice/403.html", context, status=403)
    return response.render()
