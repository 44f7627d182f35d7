"""Demo events, markets and prices (idempotent: keyed by event name)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from django.utils import timezone

from users.models import User

from .models import Event
from .services import MarketSpec, SelectionSpec, event_create

DEMO_EVENTS = [
    ("Demo: Rovers v United", [("Match result", [("Rovers", "2.100"), ("Draw", "3.200"),
                                                 ("United", "3.600")]),
                               ("Over/under 2.5 goals", [("Over", "1.850"), ("Under", "1.950")])]),
    ("Demo: City v Athletic", [("Match result", [("City", "1.650"), ("Draw", "3.800"),
                                                 ("Athletic", "5.000")])]),
    ("Demo: Smith v Jones (tennis)", [("Match winner", [("Smith", "1.450"),
                                                        ("Jones", "2.750")])]),
]


def seed(*, stdout) -> list[str]:
    now = timezone.now()
    trader = User.objects.filter(username="trader").first()
    lines = []
    for hours, (name, markets) in enumerate(DEMO_EVENTS, start=1):
        event = Event.objects.filter(name=name).first()
        if event is None:
            event = event_create(
                name=name, starts_at=now + timedelta(hours=hours), actor=trader,
                reason="demo data", now=now,
                markets=[MarketSpec(name=m, selections=[SelectionSpec(s, Decimal(o)) for s, o in sels])
                         for m, sels in markets],
            )
        lines.append(f"event   {event.name} (id {event.pk})")
    return lines
