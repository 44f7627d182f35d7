"""Discrepancy workflow (API and admin), read models with their lag, lag monitors, metrics."""

from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from events.models import OutboxEvent
from events.services import emit
from reconciliation.checks import Finding
from reconciliation.models import Alert, Discrepancy, DiscrepancyStatus
from reconciliation.monitoring import lag_monitor, readiness_degradations
from reconciliation.services import discrepancies_record
from tests.factories import make_player

from .helpers import deposit, relay_and_consume

pytestmark = pytest.mark.django_db

RESOLVE = "/api/v1/backoffice/reconciliation/discrepancies/{}/resolve/"


def _finding():
    discrepancies_record(findings=[Finding("balance_mismatch", "balance_mismatch:account:1",
                                           "account 1 (cash)", "USD", None, 100, 150)],
                         now=timezone.now())
    return Discrepancy.objects.get()


def test_payments_resolves_with_a_reason_kept_in_history(make_api, staff_factory):
    d = _finding()
    payments = staff_factory("payments")
    api = make_api(payments)

    investigating = api.post(f"/api/v1/backoffice/reconciliation/discrepancies/{d.pk}/investigate/",
                             {"reason": "looking"}, format="json")
    resolved = api.post(RESOLVE.format(d.pk), {"reason": "test fixture, reversed"}, format="json")

    assert investigating.status_code == 200 and investigating.json()["status"] == "investigating"
    assert resolved.status_code == 200, resolved.json()
    body = resolved.json()
    assert (body["status"], body["resolution_reason"], body["expected"], body["actual"]) == (
        "resolved", "test fixture, reversed", "1.00", "1.50")
    d = Discrepancy.objects.get()
    assert d.resolved_by == payments
    reasons = list(d.history.order_by("history_id").values_list("status", "history_change_reason"))
    assert reasons == [("open", "found by reconciliation"), ("investigating", "looking"),
                       ("resolved", "test fixture, reversed")]
    # Once resolved, the same finding found again opens a new discrepancy.
    _finding_again = discrepancies_record(
        findings=[Finding("balance_mismatch", "balance_mismatch:account:1", "account 1 (cash)")],
        now=timezone.now())
    assert len(_finding_again.new) == 1


@pytest.mark.parametrize("role, body, status, code", [
    ("payments", {}, 400, "reason_required"),
    ("payments", {"reason": "   "}, 400, "reason_required"),
    ("support_agent", {"reason": "x"}, 403, "permission_denied"),
    ("compliance_officer", {"reason": "x"}, 403, "permission_denied"),
])
def test_refused_resolutions_change_nothing(make_api, staff_factory, role, body, status, code):
    d = _finding()

    response = make_api(staff_factory(role)).post(RESOLVE.format(d.pk), body, format="json")

    assert response.status_code == status and response.json()["code"] == code
    d = Discrepancy.objects.get(pk=d.pk)
    assert (d.status, d.resolution_reason, d.history.count()) == ("open", "", 1)


def test_resolving_twice_or_an_unknown_id(make_api, staff_factory):
    d = _finding()
    api = make_api(staff_factory("payments"))
    assert api.post(RESOLVE.format(d.pk), {"reason": "ok"}, format="json").status_code == 200

    again = api.post(RESOLVE.format(d.pk), {"reason": "again"}, format="json")
    missing = api.post(RESOLVE.format(999999), {"reason": "x"}, format="json")

    assert (again.status_code, again.json()["code"]) == (409, "invalid_state")
    assert (missing.status_code, missing.json()["code"]) == (404, "discrepancy_not_found")
    assert Discrepancy.objects.get().resolution_reason == "ok"


def test_admin_resolve_action(client, staff_factory, settings):
    settings.BACKOFFICE_REQUIRE_OTP = False
    d = _finding()
    url = "/admin/reconciliation/discrepancy/"
    client.force_login(staff_factory("compliance_officer"))  # may look, may not resolve
    refused = client.post(url, {"action": "resolve_with_reason", "_selected_action": [d.pk],
                                "apply": "1", "reason": "not mine to decide"})
    assert refused.status_code == 403
    assert Discrepancy.objects.get(pk=d.pk).status == DiscrepancyStatus.OPEN
    client.force_login(staff_factory("payments"))

    form = client.post(url, {"action": "resolve_with_reason", "_selected_action": [d.pk]})
    done = client.post(url, {"action": "resolve_with_reason", "_selected_action": [d.pk],
                             "apply": "1", "reason": "provider confirmed"})

    assert form.status_code == 200 and b"Resolve" in form.content
    assert done.status_code == 302
    d = Discrepancy.objects.get(pk=d.pk)
    assert (d.status, d.resolution_reason) == (DiscrepancyStatus.RESOLVED, "provider confirmed")


@pytest.mark.django_db(transaction=True)
def test_read_model_endpoints_say_when_they_lag(make_api, staff_factory, settings):
    settings.LAG_CONSUMER_S = 30
    alice = make_player()
    deposit(alice, 1_000)
    relay_and_consume()
    api = make_api(staff_factory("payments"))

    fresh = api.get("/api/v1/backoffice/reconciliation/kpis/").json()
    summary = api.get(f"/api/v1/backoffice/reconciliation/players/{alice.pk}/summary/").json()
    assert fresh["lag"]["lagging"] is False and fresh["results"][0]["deposits"] == "10.00"
    assert summary["lag"]["lagging"] is False and summary["results"][0]["net"] == "10.00"

    deposit(alice, 500)  # not relayed yet, and a minute old
    OutboxEvent.objects.filter(sent_at__isnull=True).update(
        created_at=timezone.now() - timedelta(seconds=60))

    stale = api.get("/api/v1/backoffice/reconciliation/kpis/").json()
    assert stale["lag"]["lagging"] is True and stale["lag"]["pending_events"] == 1
    assert stale["results"][0]["deposits"] == "10.00"
    summary = api.get(f"/api/v1/backoffice/reconciliation/players/{alice.pk}/summary/").json()
    assert summary["lag"]["lagging"] is True


@pytest.mark.django_db(transaction=True)
def test_lag_thresholds_raise_alerts_degrade_readiness_and_clear(settings):
    settings.LAG_OUTBOX_OLDEST_UNSENT_S = 30
    settings.LAG_CONSUMER_S = 30
    with transaction.atomic():
        emit(topic="deposit.succeeded", aggregate_type="deposit", aggregate_id="1",
                    payload={"player_id": 1, "currency": "USD", "amount": 1})
    OutboxEvent.objects.update(created_at=timezone.now() - timedelta(seconds=120))

    breaches = lag_monitor(now=timezone.now())
    lag_monitor(now=timezone.now())

    names = {b.name for b in breaches}
    assert names == {"outbox_lag", "consumer_lag:player_summary", "consumer_lag:operator_kpi"}
    assert set(Alert.objects.filter(cleared_at__isnull=True).values_list("name", flat=True)) == names
    assert Alert.objects.count() == 3  # raised once, refreshed on the second run
    assert {d["name"] for d in readiness_degradations()} == names
    from common.health import _degradations

    assert {d["name"] for d in _degradations()} == names

    relay_and_consume()
    assert lag_monitor(now=timezone.now()) == []
    assert not Alert.objects.filter(cleared_at__isnull=True).exists()
    assert readiness_degradations() == []


def test_metrics_expose_lag_gauges_and_the_shared_counters(client):
    with transaction.atomic():
        emit(topic="test.noop", aggregate_type="t", aggregate_id="1", payload={})

    text = client.get("/metrics").content.decode()

    for name in ("operator_outbox_oldest_unsent_seconds", "operator_outbox_unsent_events 1.0",
                 'operator_consumer_lag_seconds{consumer="player_summary"}',
                 "operator_duplicate_requests_total", "operator_duplicate_callbacks_total",
                 "operator_money_operations_total", "operator_consumer_events_duplicate_total"):
        assert name in text, name


@pytest.mark.django_db(transaction=True)
def test_dashboard_kpis_selector():
    from reconciliation.selectors import dashboard_kpis

    alice = make_player()
    deposit(alice, 2_000)
    relay_and_consume()
    _finding()

    kpis = dict(dashboard_kpis())

    assert kpis["Deposits today (USD)"] == "20.00" and kpis["Open discrepancies"] == 1


def test_admin_pages_render(client, staff_factory, settings):
    settings.BACKOFFICE_REQUIRE_OTP = False
    d = _finding()
    client.force_login(staff_factory("payments"))

    for url in ["/admin/reconciliation/discrepancy/", f"/admin/reconciliation/discrepancy/{d.pk}/change/",
                f"/admin/reconciliation/discrepancy/{d.pk}/history/", "/admin/reconciliation/alert/",
                "/admin/events/parkedtask/", "/admin/reconciliation/playersummary/",
                "/admin/reconciliation/operatordailykpi/", "/admin/reconciliation/providerreport/",
                "/admin/reconciliation/providerreport/upload/"]:
        assert client.get(url).status_code == 200, url
