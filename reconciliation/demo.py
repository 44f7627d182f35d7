"""Demo data: bring the read models up to date and run the checks once (idempotent)."""

from django.utils import timezone

from events.relay import event_consume, outbox_relay

from .services import reconcile_run


def seed(*, stdout) -> list[str]:
    deliveries: list[tuple[str, str]] = []
    # Collected, then applied after the relay's transaction: no broker needed for the demo.
    relayed = outbox_relay(publish=lambda *, consumer, event_id: deliveries.append(
        (consumer, event_id)))
    for consumer, event_id in deliveries:
        event_consume(consumer=consumer, event_id=event_id)
    result = reconcile_run(now=timezone.now())
    return [f"read models: {relayed.relayed} events relayed; reconciliation: "
            f"{result.findings} findings ({result.new} new), see /admin/reconciliation/"]
