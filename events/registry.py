"""Which consumers exist and which topics each one listens to.

Apps above `events` register their consumers when they load (in `AppConfig.ready`), so the
relay never imports them: `events` sits below every domain app in the import graph.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Consumer:
    name: str
    topics: frozenset[str]
    apply: Callable  # (OutboxEvent) -> None, called inside the consume transaction


CONSUMERS: dict[str, Consumer] = {}


def consumer_register(consumer: Consumer) -> None:
    """Make a consumer known to the relay (idempotent: registering again replaces it)."""
    CONSUMERS[consumer.name] = consumer


def consumers_for(topic: str) -> list[str]:
    return [c.name for c in CONSUMERS.values() if topic in c.topics]
