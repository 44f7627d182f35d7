"""Compliance decisions, the resubmission flow, reapplying, AML status and who may read."""

import pytest

from events.models import OutboxEvent
from kyc.models import (
    AMLProfile,
    KYCApplication,
    KYCDocument,
    KYCDocumentAccess,
    KYCStatus,
)
from tests.factories import make_player, make_staff
from tests.kyc.conftest import jpeg_bytes, png_bytes, stored_files, submit, upload
from users.roles import ADMINISTRATOR, COMPLIANCE

pytestmark = pytest.mark.django_db

BO = "/api/v1/backoffice"


def _app_id(player_api) -> str:
    res = submit(player_api)
    assert res.status_code == 201, res.json()
    return res.json()["application_id"]


def _kyc_events(app_id):
    return [(e.payload["from"], e.payload["to"])
            for e in OutboxEvent.objects.filter(topic="kyc.status_changed",
                                                aggregate_id=app_id).order_by("id")]


def test_approve_then_submitting_again_is_409_and_creates_nothing(
        player, player_api, compliance, compliance_api, private_media):
    app_id = _app_id(player_api)
    res = compliance_api.post(f"{BO}/kyc/applications/{app_id}/approve/", {"reason": "docs ok"})
    assert res.status_code == 200, res.json()
    body = res.json()
    assert body["status"] == "approved" and body["reviewer"] == compliance.username
    assert [(h["status"], h["by"], h["reason"]) for h in body["history"]] == [
        ("submitted", player.username, "application submitted"),
        ("in_review", compliance.username, "review started"),
        ("approved", compliance.username, "docs ok"),
    ]
    assert _kyc_events(app_id) == [(None, "submitted"), ("submitted", "in_review"),
                                   ("in_review", "approved")]
    files_before = stored_files(private_media)

    again = submit(player_api)
    assert again.status_code == 409 and again.json()["code"] == "kyc_already_verified"
    assert KYCApplication.objects.filter(player=player).count() == 1
    assert KYCDocument.objects.count() == 2 and stored_files(private_media) == files_before
    assert player_api.get("/api/v1/kyc/").json()["status"] == "approved"

    twice = compliance_api.post(f"{BO}/kyc/applications/{app_id}/approve/", {})
    assert twice.status_code == 409 and twice.json()["code"] == "invalid_state"
    assert len(_kyc_events(app_id)) == 3


def test_resubmission_flow_end_to_end(player, player_api, compliance_api, private_media):
    app_id = _app_id(player_api)
    assert compliance_api.post(f"{BO}/kyc/applications/{app_id}/start-review/").status_code == 200

    no_reason = compliance_api.post(f"{BO}/kyc/applications/{app_id}/request-resubmission/",
                                    {"reason": "  "})
    assert no_reason.status_code == 400 and no_reason.json()["code"] == "reason_required"
    assert KYCApplication.objects.get(pk=app_id).status == KYCStatus.IN_REVIEW

    res = compliance_api.post(f"{BO}/kyc/applications/{app_id}/request-resubmission/",
                              {"reason": "passport photo is blurred"})
    assert res.status_code == 200 and res.json()["status"] == "resubmission_requested"
    status = player_api.get("/api/v1/kyc/").json()
    assert status == {"status": "resubmission_requested", "application_id": app_id,
                      "aml_status": "clear", "can_apply": True,
                      "reason": "passport photo is blurred"}

    # The player uploads a new passport: same application, back to submitted.
    res = submit(player_api, {"passport": upload("p2.png", png_bytes(colour="white"))})
    assert res.status_code == 200, res.json()
    assert res.json()["application_id"] == app_id and res.json()["status"] == "submitted"
    assert KYCApplication.objects.filter(player=player).count() == 1
    assert KYCDocument.objects.filter(application_id=app_id).count() == 3
    assert len(stored_files(private_media)) == 3

    # A second upload while it waits for review again is refused.
    dup = submit(player_api, {"passport": upload("p3.png", png_bytes(colour="grey"))})
    assert dup.status_code == 409 and dup.json()["code"] == "kyc_application_exists"
    assert len(stored_files(private_media)) == 3

    ok = compliance_api.post(f"{BO}/kyc/applications/{app_id}/approve/", {"reason": "clear now"})
    assert ok.status_code == 200 and ok.json()["status"] == "approved"
    assert _kyc_events(app_id) == [
        (None, "submitted"), ("submitted", "in_review"), ("in_review", "resubmission_requested"),
        ("resubmission_requested", "submitted"), ("submitted", "in_review"),
        ("in_review", "approved"),
    ]
    history = compliance_api.get(f"{BO}/kyc/applications/{app_id}/").json()["history"]
    assert [h["status"] for h in history] == [
        "submitted", "in_review", "resubmission_requested", "submitted", "in_review", "approved"]
    assert history[2]["reason"] == "passport photo is blurred"


def test_rejected_player_reapplies_only_when_allowed(player, player_api, compliance_api):
    app_id = _app_id(player_api)
    no_reason = compliance_api.post(f"{BO}/kyc/applications/{app_id}/reject/", {})
    assert no_reason.status_code == 400 and no_reason.json()["code"] == "reason_required"
    res = compliance_api.post(f"{BO}/kyc/applications/{app_id}/reject/",
                              {"reason": "document is forged"})
    assert res.status_code == 200 and res.json()["status"] == "rejected"
    assert player_api.get("/api/v1/kyc/").json()["can_apply"] is False

    refused = submit(player_api)
    assert refused.status_code == 409 and refused.json()["code"] == "kyc_reapply_not_allowed"
    assert KYCApplication.objects.filter(player=player).count() == 1

    allow = compliance_api.post(f"{BO}/kyc/applications/{app_id}/allow-reapply/",
                                {"reason": "player called, new passport"})
    assert allow.status_code == 200 and allow.json()["reapply_allowed"] is True
    assert player_api.get("/api/v1/kyc/").json()["can_apply"] is True

    second = submit(player_api)
    assert second.status_code == 201
    new = KYCApplication.objects.get(pk=second.json()["application_id"])
    assert str(new.previous_id) == app_id
    # The allowance is used up: after another rejection the player must ask again.
    compliance_api.post(f"{BO}/kyc/applications/{new.pk}/reject/", {"reason": "still forged"})
    third = submit(player_api)
    assert third.status_code == 409 and third.json()["code"] == "kyc_reapply_not_allowed"
    stale = compliance_api.post(f"{BO}/kyc/applications/{app_id}/allow-reapply/", {"reason": "x"})
    assert stale.status_code == 409
    assert KYCApplication.objects.filter(player=player).count() == 2


def test_queue_is_ordered_by_age_and_compliance_only(compliance_api, support_api, make_api):
    ids = [_app_id(make_api(make_player())) for _ in range(3)]
    res = compliance_api.get(f"{BO}/kyc/applications/")
    assert res.status_code == 200
    assert [row["application_id"] for row in res.json()] == ids
    assert all(row["document_count"] == 2 for row in res.json())
    compliance_api.post(f"{BO}/kyc/applications/{ids[0]}/approve/", {})
    assert [r["application_id"] for r in compliance_api.get(f"{BO}/kyc/applications/").json()] \
        == ids[1:]
    approved = compliance_api.get(f"{BO}/kyc/applications/?status=approved").json()
    assert [r["application_id"] for r in approved] == ids[:1]
    assert support_api.get(f"{BO}/kyc/applications/").status_code == 403


def test_document_read_by_compliance_is_streamed_and_logged(
        player_api, compliance, compliance_api, private_media):
    app_id = _app_id(player_api)
    detail = compliance_api.get(f"{BO}/kyc/applications/{app_id}/").json()
    doc = next(d for d in detail["documents"] if d["kind"] == "passport")
    res = compliance_api.get(doc["url"])
    assert res.status_code == 200
    assert res["Content-Type"] == "image/png"
    assert res["Cache-Control"] == "private, no-store"
    stored = KYCDocument.objects.get(pk=doc["id"])
    assert b"".join(res.streaming_content) == (private_media / stored.storage_path).read_bytes()
    access = KYCDocumentAccess.objects.get()
    assert access.staff == compliance and str(access.document_id) == doc["id"]


def test_players_and_support_cannot_read_applications_or_documents(
        player_api, other_player, make_api, support_api):
    app_id = _app_id(player_api)
    doc_id = KYCDocument.objects.filter(application_id=app_id).first().pk
    other_api = make_api(other_player)
    for client in (player_api, other_api, support_api):
        for url in (f"{BO}/kyc/applications/{app_id}/", f"{BO}/kyc/documents/{doc_id}/",
                    f"{BO}/kyc/applications/"):
            res = client.get(url)
            assert res.status_code == 403, (url, res.status_code)
            assert res.json()["code"] == "permission_denied"
        for action in ("approve", "reject", "request-resubmission", "start-review"):
            res = client.post(f"{BO}/kyc/applications/{app_id}/{action}/", {"reason": "x"})
            assert res.status_code == 403
    assert make_api(other_player).get(f"/api/v1/kyc/applications/{app_id}/").status_code == 404
    assert KYCDocumentAccess.objects.count() == 0
    assert KYCApplication.objects.get(pk=app_id).status == KYCStatus.SUBMITTED


def test_administrator_may_review(player_api, make_api):
    app_id = _app_id(player_api)
    admin_api = make_api(make_staff(ADMINISTRATOR))
    assert admin_api.post(f"{BO}/kyc/applications/{app_id}/approve/", {}).status_code == 200


def test_unknown_application_and_document_are_404(compliance_api):
    missing = "00000000-0000-0000-0000-000000000000"
    assert compliance_api.get(f"{BO}/kyc/applications/{missing}/").status_code == 404
    assert compliance_api.post(f"{BO}/kyc/applications/{missing}/approve/", {}).status_code == 404
    assert compliance_api.get(f"{BO}/kyc/documents/{missing}/").status_code == 404
    assert KYCDocumentAccess.objects.count() == 0


def test_aml_status_change_history_and_events(player, player_api, compliance, compliance_api,
                                              support_api):
    url = f"{BO}/players/{player.pk}/aml-status/"
    assert compliance_api.get(url).json() == {"player_id": player.pk, "status": "clear",
                                              "history": []}
    no_reason = compliance_api.post(url, {"status": "blocked"})
    assert no_reason.status_code == 400 and no_reason.json()["code"] == "reason_required"
    bad = compliance_api.post(url, {"status": "frozen", "reason": "x"})
    assert bad.status_code == 400
    forbidden = support_api.post(url, {"status": "blocked", "reason": "x"})
    assert forbidden.status_code == 403
    assert not AMLProfile.objects.filter(player=player).exists()
    assert OutboxEvent.objects.filter(topic="aml.status_changed").count() == 0

    res = compliance_api.post(url, {"status": "blocked", "reason": "sanctions hit"})
    assert res.status_code == 200
    assert res.json()["status"] == "blocked"
    assert player_api.get("/api/v1/kyc/").json()["aml_status"] == "blocked"
    res = compliance_api.post(url, {"status": "clear"})
    assert [(h["status"], h["by"], h["reason"]) for h in res.json()["history"]] == [
        ("blocked", compliance.username, "sanctions hit"),
        ("clear", compliance.username, "set to clear"),
    ]
    events = [(e.payload["from"], e.payload["to"], e.payload["player_id"])
              for e in OutboxEvent.objects.filter(topic="aml.status_changed").order_by("id")]
    assert events == [("clear", "blocked", player.pk), ("blocked", "clear", player.pk)]

    staff = make_staff(COMPLIANCE)
    assert compliance_api.post(f"{BO}/players/{staff.pk}/aml-status/",
                               {"status": "review", "reason": "x"}).status_code == 404
    assert compliance_api.post(f"{BO}/players/999999/aml-status/",
                               {"status": "review", "reason": "x"}).status_code == 404
    assert compliance_api.get(f"{BO}/players/999999/aml-status/").status_code == 404


def test_history_tables_and_documents_are_append_only(player_api):
    from django.db import IntegrityError, connection, transaction

    _app_id(player_api)
    for statement in ("UPDATE kyc_kycdocument SET size = 1",
                      "DELETE FROM kyc_historicalkycapplication"):
        with pytest.raises(IntegrityError, match="append-only"), transaction.atomic(), \
                connection.cursor() as cur:
            cur.execute(statement)


def test_selfie_and_jpeg_only_upload_accepted_on_resubmission(player_api, compliance_api):
    app_id = _app_id(player_api)
    compliance_api.post(f"{BO}/kyc/applications/{app_id}/request-resubmission/",
                        {"reason": "selfie too dark"})
    res = submit(player_api, {"selfie": upload("s.jpg", jpeg_bytes(colour="white"),
                                               "image/jpeg")})
    assert res.status_code == 200 and res.json()["status"] == "submitted"
