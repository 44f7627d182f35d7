"""The operations dashboard: readable axes, work queues with their age, Celery liveness
judged by the web tier, open alerts."""

import re
import time
from datetime import UTC, datetime, timedelta

import pytest
import redis
from django.conf import settings
from django.utils import timezone

from backoffice.charts import Series, format_number, line_chart, nice_ticks, time_ticks
from backoffice.dashboard import format_age
from events.relay import task_park
from kyc.api.views import KYCApplicationSubmitApi
from kyc.documents import document_decode
from kyc.services import kyc_application_submit
from reconciliation import liveness
from reconciliation.models import Alert
from sessions.services import game_session_start
from tests.factories import make_player
from tests.kyc.conftest import good_documents
from wallet.services import withdrawal_request

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def stamps():
    client = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    keys = (liveness.WORKERS_KEY, liveness.PROBE_KEY, liveness.BEAT_KEY)
    client.delete(*keys)
    yield client
    client.delete(*keys)


def test_y_ticks_are_round_and_read_as_numbers():
    assert nice_ticks(705) == [0, 200, 400, 600, 800]
    assert [format_number(v, 200) for v in nice_ticks(705)] == ["0", "200", "400", "600", "800"]
    assert nice_ticks(0.0705) == [0, 0.02, 0.04, 0.06, 0.08]
    assert [format_number(v, 0.02) for v in nice_ticks(0.0705)] == ["0", "0.02", "0.04", "0.06",
                                                                     "0.08"]
    assert format_number(12_500, 2_500) == "12,500"
    assert nice_ticks(0) == [0, 1]


def test_x_ticks_never_repeat_a_label():
    now = datetime(2026, 12, 2, 14, 37, tzinfo=UTC)
    hourly = time_ticks(now - timedelta(hours=24), now, "hour")
    assert [label for _, label in hourly] == ["Dec 01 16:00", "20:00", "Dec 02 00:00",
                                                "04:00", "08:00", "12:00"]
    start = datetime(2026, 11, 19, tzinfo=UTC)
    daily = [label for _, label in time_ticks(start, now, "day")]
    assert len(daily) == len(set(daily)) >= 5
    assert daily[0] == "Nov 19"


def test_chart_labels_on_one_point_series_and_big_values():
    now = datetime(2026, 12, 2, 0, 0, tzinfo=UTC)
    start = now - timedelta(days=13)
    svg = str(line_chart([Series("deposits", [(now, 705.0)]), Series("withdrawals", [])],
                         start=start, end=now, bucket="day", unit="USD"))
    x_labels = re.findall(r'class="x-tick"[^>]*>([^<]+)<', svg)
    y_labels = re.findall(r'class="y-tick"[^>]*>([^<]+)<', svg)
    assert len(x_labels) == len(set(x_labels))
    assert y_labels == ["0", "200", "400", "600", "800"]
    assert "deposits" in svg and "withdrawals" in svg and ">USD<" in svg
    empty = str(line_chart([Series("", [])], start=start, end=now, bucket="day"))
    assert "no data in this period" in empty


def test_format_age():
    assert [format_age(s) for s in (None, 5, 125, 3 * 3600 + 300, 2 * 86400 + 4 * 3600)] == [
        "-", "5 s", "2 min", "3 h 05 min", "2 d 4 h"]


def _submit_kyc(player):
    serializer = KYCApplicationSubmitApi.InputSerializer(data=good_documents())
    assert serializer.is_valid(), serializer.errors
    kyc_application_submit(player=player, documents=[document_decode(d) for d in serializer.validated_data.values()],
                           now=timezone.now() - timedelta(hours=3, minutes=5))


def _tile(html: str, key: str) -> str:
    m = re.search(rf'data-tile="{key}">(.*?)</div>\s*</div>', html, re.S)
    assert m, key
    return re.sub(r"<[^>]+>", " ", m.group(1))


def test_dashboard_shows_work_queues_with_their_age(staff_client, settings):
    settings.KYC_WITHDRAWAL_THRESHOLD = "1000"
    alice, bob = make_player(funds={"USD": 10_000}), make_player(funds={"USD": 1_000})
    _submit_kyc(bob)
    withdrawal_request(player=alice, amount=2_500, currency="USD", destination="acct-1",
                       now=timezone.now())
    game_session_start(player=alice, game="hilo", currency="USD", now=timezone.now())
    task_park(task_id="t-1", task_name="events.tasks.event_consume_task", args=[],
              kwargs={}, deliveries=6, error="boom", now=timezone.now())
    _, client = staff_client("compliance_officer")

    html = client.get("/admin/dashboard/").content.decode()

    assert " 1 " in _tile(html, "kyc_backlog") and "oldest waiting 3 h 05 min" in _tile(
        html, "kyc_backlog")
    assert " 1 " in _tile(html, "withdrawals") and "(requested)" in _tile(html, "withdrawals")
    assert " 1 " in _tile(html, "live_sessions")
    assert " 1 " in _tile(html, "parked_tasks")
    assert 'data-tile="parked_tasks"' in html and "tile alarm" in html


def test_dashboard_raises_and_clears_the_worker_alert_itself(staff_client, stamps):
    _, client = staff_client("payments")
    stamps.hset(liveness.WORKERS_KEY, "w1@host", time.time() - 95)

    html = client.get("/admin/dashboard/").content.decode()

    alert = Alert.objects.get(cleared_at__isnull=True)
    assert alert.name == "celery_worker_stalled:w1@host"
    assert 'data-alert="celery_worker_stalled:w1@host"' in html
    assert "has sent no heartbeat for 95s" in html
    assert re.search(r'data-worker="w1@host">.*stalled or dead', html, re.S)

    stamps.hset(liveness.WORKERS_KEY, "w1@host", time.time())
    html = client.get("/admin/dashboard/").content.decode()
    assert "No open alerts." in html
    alert.refresh_from_db()
    assert alert.cleared_at is not None
    assert re.search(r'data-worker="w1@host">.*running', html, re.S)
