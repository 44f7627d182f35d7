"""Bases for django-simple-history on django-fsm models.

The history model copies `FSMField(protected=True)`; without FSMModelMixin its
refresh_from_db() raises. Use `HistoricalRecords(bases=[FSMHistoryBase])`.
"""

from django.db import models
from django_fsm import FSMModelMixin


class FSMHistoryBase(FSMModelMixin, models.Model):
    class Meta:
        abstract = True


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
