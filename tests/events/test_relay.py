"""The relay publishes in commit order and never skips; consumers apply each event once."""

import threading
from datetime import UTC, datetime

import pytest
from django.core.management import call_command
from django.db import connection, transaction

from events.models import OutboxEvent, ParkedTask, ProcessedEvent
from events.relay import event_consume, events_replay, outbox_relay
from events.services import emit
from reconciliation.readmodels import OPERATOR_KPI, PLAYER_SUMMARY
from tests.factories import balances, make_player
from tests.reconciliation.helpers import (
    Collector,
    deposit,
    read_model_state,
    relay_and_consume,
    settled_bet,
    summary_values,
)

pytestmark = pytest.mark.django_db(transaction=True)


def _emit(topic="test.noop", **payload):
    with transaction.atomic():
        return emit(topic=topic, aggregate_type="test", aggregate_id="1", payload=payload)


def test_relay_publishes_each_event_to_its_consumers_and_marks_it_sent():
    player = make_player()
    deposit(player, 5_000)
    collector = Collector()

    result = outbox_relay(publish=collector)

    assert result.relayed == 2  # deposit.created (no consumer) + deposit.succeeded
    succeeded = OutboxEvent.objects.get(topic="deposit.succeeded")
    assert sorted(collector.sent) == sorted([(PLAYER_SUMMARY, str(succeeded.event_id)),
                                             (OPERATOR_KPI, str(succeeded.event_id))])
    assert not OutboxEvent.objects.filter(sent_at__isnull=True).exists()
    assert OutboxEvent.objects.get(topic="deposit.succeeded").attempts == 1
    assert collector.deliver_all() == [True, True]
    assert summary_values(player)["deposits"] == 5_000
    # Nothing left: a second run publishes nothing.
    assert outbox_relay(publish=collector).relayed == 0


def test_relay_never_overtakes_a_transaction_still_running():
    """A lower txid that commits later is neither skipped nor published out of order."""
    started, release = threading.Event(), threading.Event()
    holder: dict = {}

    def slow_writer():
        with transaction.atomic():
            holder["event"] = emit(topic="test.noop", aggregate_type="t",
                                          aggregate_id="slow", payload={})
            started.set()
            release.wait(10)
        connection.close()

    t = threading.Thread(target=slow_writer)
    t.start()
    assert started.wait(10)
    fast = _emit()  # higher txid, commits first
    collector = Collector()
    try:
        assert outbox_relay(publish=collector).relayed == 0
        assert OutboxEvent.objects.get(pk=fast.pk).sent_at is None
    finally:
        release.set()
        t.join()

    assert outbox_relay(publish=collector).relayed == 2
    order = list(OutboxEvent.objects.order_by("sent_at", "id").values_list("pk", flat=True))
    slow = holder["event"]
    assert slow.txid < fast.txid
    assert order == [slow.pk, fast.pk]


def test_broker_failure_leaves_the_batch_unsent_and_the_next_run_delivers_it():
    player = make_player()
    deposit(player, 1_000)

    def broken(**kwargs):
        raise ConnectionError("broker down")

    result = outbox_relay(publish=broken)

    assert result.relayed == 0 and "broker down" in result.error
    assert OutboxEvent.objects.filter(sent_at__isnull=True).count() == 2
    assert set(OutboxEvent.objects.values_list("attempts", flat=True)) == {1}
    relay_and_consume()
    assert summary_values(player)["deposits"] == 1_000


def test_a_repeated_delivery_changes_nothing():
    player = make_player()
    deposit(player, 2_500)
    collector = Collector()
    outbox_relay(publish=collector)
    deliveries = list(collector.sent)
    collector.deliver_all()
    before = read_model_state()

    again = [event_consume(consumer=c, event_id=e) for c, e in deliveries]

    assert again == [False, False]
    assert read_model_state() == before
    assert ProcessedEvent.objects.count() == 2


def test_parallel_deliveries_of_one_event_apply_it_once():
    player = make_player()
    deposit(player, 700)
    collector = Collector()
    outbox_relay(publish=collector)
    event_id = next(e for c, e in collector.sent if c == PLAYER_SUMMARY)
    barrier = threading.Barrier(4)
    results: list[bool] = []

    def worker():
        barrier.wait()
        try:
            results.append(event_consume(consumer=PLAYER_SUMMARY, event_id=event_id))
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert sorted(results) == [False, False, False, True]
    assert summary_values(player)["deposits"] == 700
    assert ProcessedEvent.objects.filter(consumer=PLAYER_SUMMARY).count() == 1


def test_read_models_match_the_ledger():
    alice, bob = make_player(), make_player()
    deposit(alice, 10_000)
    deposit(bob, 3_000)
    deposit(alice, 1_500, currency="EUR")
    settled_bet(alice, 1_000, 2_500)
    settled_bet(alice, 500, 0)
    settled_bet(bob, 300, 300, outcome="void")
    relay_and_consume()

    for player, currency in [(alice, "USD"), (bob, "USD"), (alice, "EUR")]:
        b = balances(player, currency)
        assert summary_values(player, currency)["net"] == b["cash"] + b["reserved"] + b["bonus"]
    assert summary_values(alice) == {"deposits": 10_000, "withdrawals": 0, "stakes": 1_500,
                                     "wins": 2_500, "adjustments": 0, "net": 11_000}
    # Void settlements count neither stake nor payout.
    assert summary_values(bob)["stakes"] == 0
    from reconciliation.models import OperatorDailyKpi

    usd = OperatorDailyKpi.objects.get(currency="USD")
    assert (usd.deposits, usd.stakes, usd.payouts, usd.ggr, usd.active_players) == (
        13_000, 1_500, 2_500, -1_000, 2)
    assert OperatorDailyKpi.objects.get(currency="EUR").active_players == 1


def test_replaying_the_whole_outbox_leaves_the_read_models_unchanged():
    alice = make_player()
    deposit(alice, 4_000)
    settled_bet(alice, 1_000, 1_800)
    relay_and_consume()
    before = read_model_state()
    epoch = datetime(2000, 1, 1, tzinfo=UTC)

    result = events_replay(since=epoch, inline=True)
    call_command("replay_events", "--since", "2000-01-01", "--inline", "--no-progress")
    collector = Collector()
    events_replay(since=epoch, publish=collector)
    collector.deliver_all()

    assert result.events == 4 and result.applied == 0 and result.duplicates == 5
    assert read_model_state() == before


def test_the_redelivery_cap_parks_the_task_and_raises_an_alert(settings):
    from events.tasks import event_consume_task
    from reconciliation.models import Alert

    settings.CELERY_TASK_MAX_REDELIVERIES = 3
    missing = "00000000-0000-0000-0000-000000000000"  # never applies: EventNotFound each time

    outcome = event_consume_task.apply(args=[PLAYER_SUMMARY, missing], task_id="capped-1")

    assert outcome.get() == "parked"
    parked = ParkedTask.objects.get(task_id="capped-1")
    assert parked.deliveries == 4 and parked.args == [PLAYER_SUMMARY, missing]
    assert Alert.objects.filter(name="task_parked:capped-1", cleared_at__isnull=True).count() == 1
    assert not ProcessedEvent.objects.exists()


def test_sent_but_never_applied_events_are_published_again_except_parked(settings):
    from datetime import timedelta

    from django.utils import timezone

    from events.relay import outbox_redeliver_unconsumed

    settings.OUTBOX_REDELIVER_AFTER_S = 60
    player = make_player()
    deposit(player, 900)
    deposit(player, 100)
    outbox_relay(publish=Collector())  # "lost" by the broker: nobody applied them
    OutboxEvent.objects.update(sent_at=timezone.now() - timedelta(minutes=5))
    first, second = OutboxEvent.objects.filter(topic="deposit.succeeded").order_by("id")
    ParkedTask.objects.create(task_id="p1", task_name="events.tasks.event_consume_task",
                              args=[PLAYER_SUMMARY, str(second.event_id)], deliveries=6)
    collector = Collector()

    published = outbox_redeliver_unconsumed(now=timezone.now(), publish=collector)

    assert published == 3  # first to both consumers, second to operator_kpi only
    assert (PLAYER_SUMMARY, str(second.event_id)) not in collector.sent
    collector.deliver_all()
    assert summary_values(player)["deposits"] == 900
    # Just republished: not again until OUTBOX_REDELIVER_AFTER_S has passed.
    assert outbox_redeliver_unconsumed(now=timezone.now(), publish=Collector()) == 0


def test_a_batch_message_applies_each_event_once():
    from events.tasks import event_consume_batch_task

    player = make_player()
    deposit(player, 300)
    deposit(player, 400)
    collector = Collector()
    outbox_relay(publish=collector)
    ids = [e for c, e in collector.sent if c == PLAYER_SUMMARY]

    first = event_consume_batch_task.apply(args=[PLAYER_SUMMARY, ids], task_id="b1").get()
    again = event_consume_batch_task.apply(args=[PLAYER_SUMMARY, ids], task_id="b2").get()

    assert first == {"applied": 2, "duplicate": 0, "handed_off": 0}
    assert again == {"applied": 0, "duplicate": 2, "handed_off": 0}
    assert summary_values(player)["deposits"] == 700
