"""Prometheus counters shared by the apps."""

from prometheus_client import Counter

DUPLICATE_REQUESTS = Counter(
    "operator_duplicate_requests_total", "Requests answered by idempotent replay", ["scope"]
)
DUPLICATE_CALLBACKS = Counter(
    "operator_duplicate_callbacks_total", "Provider callbacks already seen", ["provider"]
)
MONEY_OPERATIONS = Counter(
    "operator_money_operations_total", "Ledger transactions posted", ["kind"]
)


def count_duplicate_request(*, scope: str) -> None:
    DUPLICATE_REQUESTS.labels(scope=scope).inc()


def count_duplicate_callback(*, provider: str) -> None:
    DUPLICATE_CALLBACKS.labels(provider=provider).inc()


def count_money_operation(*, kind: str) -> None:
    MONEY_OPERATIONS.labels(kind=kind).inc()
