"""Admin pages of the backoffice: player search and one-page view, dashboard, audit export.

Each view is wrapped by the admin site's `admin_view` (login + TOTP-verified staff) and
then checks the role's backoffice permission.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

from asgiref.sync import sync_to_async
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.core.handlers.asgi import ASGIRequest
from django.http import StreamingHttpResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.utils import timezone

from common.errors import DomainError
from reconciliation.liveness import celery_liveness_monitor
from users.models import User

from .audit import AuditFilters, export_stream
from .charts import line_chart
from .dashboard import dashboard_data
from .forms import AuditExportForm
from .selectors import player_overview, player_search
from .services import audit_export_start

CONTENT_TYPES = {"csv": "text/csv; charset=utf-8", "jsonl": "application/x-ndjson"}


def _require(request, codename: str) -> None:
    if not request.user.has_perm(f"backoffice.{codename}"):
        raise PermissionDenied


def _context(request, **extra) -> dict:
    return {**admin.site.each_context(request), **extra}


def player_search_view(request):
    _require(request, "view_player")
    q = request.GET.get("q", "")
    results = player_search(q=q) if q else []
    return TemplateResponse(request, "admin/backoffice/player_search.html",
                            _context(request, title="Find a player", q=q, results=results))


def player_detail_view(request, player_id: int):
    _require(request, "view_player")
    player = get_object_or_404(User, pk=player_id, is_staff=False)
    data = player_overview(player=player)
    return TemplateResponse(request, "admin/backoffice/player_detail.html",
                            _context(request, title=f"Player {player.username} (#{player.pk})",
                                     **data))


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


