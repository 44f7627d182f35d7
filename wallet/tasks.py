from celery import shared_task
from django.utils import timezone

from .refunds import refund_send, refund_send_pending
from .services import withdrawal_send, withdrawal_send_pending


@shared_task(acks_late=True, soft_time_limit=50, time_limit=60)
def withdrawal_send_task(withdrawal_id: str) -> None:
    withdrawal_send(withdrawal_id=withdrawal_id, now=timezone.now())


@shared_task(acks_late=True, soft_time_limit=100, time_limit=120)
def withdrawal_send_pending_task() -> int:
    return withdrawal_send_pending(now=timezone.now())


@shared_task(acks_late=True, soft_time_limit=50, time_limit=60)
def refund_send_task(refund_id: str) -> None:
    refund_send(refund_id=refund_id, now=timezone.now())


@shared_task(acks_late=True, soft_time_limit=100, time_limit=120)
def refund_send_pending_task() -> int:
    return refund_send_pending(now=timezone.now())
