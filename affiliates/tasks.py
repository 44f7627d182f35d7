from celery import shared_task
from django.utils import timezone

from .services import affiliates_close_month, previous_month


@shared_task(acks_late=True, soft_time_limit=500, time_limit=600)
def affiliates_close_previous_month_task() -> int:
    now = timezone.now()
    return len(affiliates_close_month(month=previous_month(now), now=now))
