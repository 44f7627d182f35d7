"""Bases for django-simple-history models, and the channel every history row records.

Every historical model records who (`history_user`), why (`history_change_reason`) and
through which channel (`history_channel`: "admin" for the Django admin, "api" for the REST
API, "web" for other pages, "websocket" for the game sockets, "system" outside a request:
Celery tasks, commands). Declare `HistoricalRecords(bases=[HistoryBase])`, or `[FSMHistoryBase]` on a
django-fsm model: the history model copies `FSMField(protected=True)`, and without
FSMModelMixin its refresh_from_db() raises.
"""

from contextvars import ContextVar

from django.db import models
from django_fsm import FSMModelMixin
from simple_history.models import HistoricalRecords

CHANNEL_ADMIN = "admin"
CHANNEL_API = "api"
CHANNEL_WEB = "web"
CHANNEL_WEBSOCKET = "websocket"
CHANNEL_SYSTEM = "system"

_channel: ContextVar[str | None] = ContextVar("history_channel", default=None)


class HistoryBase(models.Model):
    history_channel = models.CharField(max_length=16, blank=True, default="",
                                       help_text="admin, api, web or system")

    class Meta:
        abstract = True


class FSMHistoryBase(FSMModelMixin, HistoryBase):
    class Meta:
        abstract = True


def history_channel_set(name: str) -> None:
    """Name the channel of everything recorded from here on in this context (a game socket's
    consumer task sets "websocket"; its database calls run in a copy of the context)."""
    _channel.set(name)


def history_channel() -> str:
    """The channel of the change being recorded: set explicitly, else read from the request
    django-simple-history's middleware holds for this thread, else "system"."""
    explicit = _channel.get()
    if explicit:
        return explicit
    request = getattr(HistoricalRecords.context, "request", None)
    if request is None:
        return CHANNEL_SYSTEM
    path = request.path_info or ""
    if path.startswith("/admin/"):
        return CHANNEL_ADMIN
    if path.startswith("/api/"):
        return CHANNEL_API
    return CHANNEL_WEB


def record_channel(sender, history_instance, **kwargs) -> None:
    """django-simple-history's pre_create_historical_record receiver (common.apps): stamps
    every history row with its channel. Audit plumbing, not domain logic."""
    if hasattr(history_instance, "history_channel"):
        history_instance.history_channel = history_channel()


def save_with_history(obj: models.Model, *, user=None, reason: str = "", **save_kwargs) -> None:
    """Save a history-tracked model, recording who made the change and why.

    `save_kwargs` go to `save()` (`force_insert`, `update_fields`). The one place that sets
    django-simple-history's `_history_user` / `_change_reason`.
    """
    if user is not None and getattr(user, "pk", None):
        obj._history_user = user  # type: ignore[attr-defined]
    if reason:
        obj._change_reason = reason  # type: ignore[attr-defined]
    obj.save(**save_kwargs)
