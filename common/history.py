"""Bases for django-simple-history on django-fsm models.

The history model copies `FSMField(protected=True)`; without FSMModelMixin its
refresh_from_db() raises. Use `HistoricalRecords(bases=[FSMHistoryBase])`.
"""

from django.db import models
from django_fsm import FSMModelMixin


class FSMHistoryBase(FSMModelMixin, models.Model):
    class Meta:
        abstract = True
