"""Player submission: one application per player, documents checked by content."""

import io

import pytest
from PIL import Image

from events.models import OutboxEvent
from kyc.models import KYCApplication, KYCDocument, KYCStatus
from tests.kyc.conftest import (
    good_documents,
    jpeg_bytes,
    pdf_bytes,
    png_bytes,
    stored_files,
    submit,
    upload,
)

pytestmark = pytest.mark.django_db


def test_status_before_any_application(player_api):
    res = player_api.get("/api/v1/kyc/")
    assert res.status_code == 200
    assert res.json() == {"status": "not_submitted", "application_id": None,
                          "aml_status": "clear", "can_apply": True, "reason": ""}


def test_submit_creates_one_application_and_stores_documents_privately(
        player, player_api, private_media):
    files = good_documents()
    files["proof_of_address"] = upload("bill.pdf", pdf_bytes(), "application/pdf")
    res = submit(player_api, files)
    assert res.status_code == 201, res.json()
    body = res.json()
    assert body["status"] == "submitted"
    app = KYCApplication.objects.get(player=player)
    assert body["application_id"] == str(app.pk)
    kinds = {d["kind"]: d["content_type"] for d in body["documents"]}
    assert kinds == {"passport": "image/png", "selfie": "image/jpeg",
                     "proof_of_address": "application/pdf"}
    assert all("url" not in d for d in body["documents"])  # no URL to a file, ever

    docs = list(KYCDocument.objects.filter(application=app))
    assert len(docs) == 3 and len(stored_files(private_media)) == 3
    for doc in docs:
        path = private_media / doc.storage_path
        assert path.is_file() and path.stat().st_size == doc.size
        assert oct(path.stat().st_mode & 0o777) == "0o600"
    pdf = next(d for d in docs if d.kind == "proof_of_address")
    assert (private_media / pdf.storage_path).read_bytes() == pdf_bytes()

    status = player_api.get("/api/v1/kyc/").json()
    assert status["status"] == "submitted" and status["application_id"] == str(app.pk)
    event = OutboxEvent.objects.get(topic="kyc.status_changed")
    assert event.payload["from"] is None and event.payload["to"] == "submitted"
    assert event.payload["player_id"] == player.pk
    assert app.history.count() == 1 and app.history.first().history_user == player


def test_image_metadata_is_stripped(player, player_api, private_media):
    original = jpeg_bytes(exif=True)
    assert Image.open(io.BytesIO(original)).getexif()  # the fixture really carries EXIF
    files = {
        "passport": upload("p.png", png_bytes(text={"Author": "someone", "GPS": "51.5,-0.1"})),
        "selfie": upload("s.jpg", original, "image/jpeg"),
    }
    assert submit(player_api, files).status_code == 201
    selfie = KYCDocument.objects.get(application__player=player, kind="selfie")
    stored = (private_media / selfie.storage_path).read_bytes()
    assert b"SpyCam" not in stored and b"secret comment" not in stored
    img = Image.open(io.BytesIO(stored))
    assert img.format == "JPEG" and not img.getexif() and "comment" not in img.info
    passport = KYCDocument.objects.get(application__player=player, kind="passport")
    stored_png = (private_media / passport.storage_path).read_bytes()
    assert b"someone" not in stored_png and b"GPS" not in stored_png
    assert Image.open(io.BytesIO(stored_png)).size == (40, 30)


def _assert_nothing_stored(player, private_media):
    assert KYCApplication.objects.filter(player=player).count() == 0
    assert KYCDocument.objects.count() == 0
    assert stored_files(private_media) == []
    assert OutboxEvent.objects.filter(topic="kyc.status_changed").count() == 0


@pytest.mark.parametrize("field,name,content,ctype", [
    # HTML pretending to be a JPEG by name and Content-Type.
    ("passport", "passport.jpg", b"<html><script>alert(1)</script></html>", "image/jpeg"),
    # JPEG magic bytes followed by garbage: does not decode.
    ("passport", "passport.jpg", b"\xff\xd8\xff\xe0" + b"\x00garbage" * 50, "image/jpeg"),
    # PNG signature with a truncated body.
    ("passport", "passport.png", png_bytes()[:40], "image/png"),
    # A PDF header without a PDF body.
    ("passport", "passport.pdf", b"%PDF-1.7\n<script>x</script>", "application/pdf"),
    # An executable named like an image.
    ("passport", "passport.png", b"MZ\x90\x00" + b"\x00" * 200, "image/png"),
    # A valid PDF is not a selfie.
    ("selfie", "selfie.jpg", pdf_bytes(), "image/jpeg"),
])
def test_upload_lying_about_its_type_is_refused(player, player_api, private_media, field, name,
                                                content, ctype):
    files = good_documents()
    files[field] = upload(name, content, ctype)
    res = submit(player_api, files)
    assert res.status_code == 400
    assert res.json()["code"] == "invalid_file_type"
    assert field in res.json()["errors"]
    _assert_nothing_stored(player, private_media)


def test_type_comes_from_content_not_extension(player, player_api, private_media):
    files = {"passport": upload("scan.exe", png_bytes(), "application/octet-stream"),
             "selfie": upload("me.pdf", jpeg_bytes(), "application/pdf")}
    res = submit(player_api, files)
    assert res.status_code == 201
    types = {d["kind"]: d["content_type"] for d in res.json()["documents"]}
    assert types == {"passport": "image/png", "selfie": "image/jpeg"}
    assert {p.suffix for p in stored_files(private_media)} == {".png", ".jpg"}


def test_oversize_file_is_refused(settings, player, player_api, private_media):
    big = png_bytes(size=(300, 300), colour="red")
    settings.KYC_DOCUMENT_MAX_BYTES = len(big) - 1
    files = good_documents()
    files["passport"] = upload("p.png", big)
    res = submit(player_api, files)
    assert res.status_code == 400 and res.json()["code"] == "file_too_large"
    _assert_nothing_stored(player, private_media)


def test_too_many_pixels_is_refused(settings, player, player_api, private_media):
    settings.KYC_IMAGE_MAX_PIXELS = 100
    res = submit(player_api)
    assert res.status_code == 400 and res.json()["code"] == "file_too_large"
    _assert_nothing_stored(player, private_media)


def test_empty_file_is_refused(player, player_api, private_media):
    files = good_documents()
    files["selfie"] = upload("selfie.jpg", b"", "image/jpeg")
    res = submit(player_api, files)
    assert res.status_code == 400 and res.json()["code"] == "empty_file"
    _assert_nothing_stored(player, private_media)


@pytest.mark.parametrize("files,code", [
    ({}, "documents_missing"),
    ({"selfie": ("s.jpg", "jpeg")}, "documents_missing"),
    ({"passport": ("p.png", "png")}, "documents_missing"),
    ({"passport": ("p.png", "png"), "selfie": ("s.jpg", "jpeg"), "tax_return": ("t.png", "png")},
     "invalid_request"),
])
def test_incomplete_or_unknown_documents_refused(player, player_api, private_media, files, code):
    makers = {"png": png_bytes, "jpeg": jpeg_bytes}
    payload = {k: upload(name, makers[kind]()) for k, (name, kind) in files.items()}
    res = submit(player_api, payload)
    assert res.status_code == 400 and res.json()["code"] == code, res.json()
    _assert_nothing_stored(player, private_media)


def test_idempotent_replay_returns_the_same_application(player, player_api):
    first = submit(player_api, key="same-key")
    second = submit(player_api, key="same-key")
    assert first.status_code == second.status_code == 201
    assert second["Idempotent-Replayed"] == "true"
    assert second.json() == first.json()
    assert KYCApplication.objects.filter(player=player).count() == 1


def test_same_key_with_different_files_is_refused(player, player_api):
    assert submit(player_api, key="k1").status_code == 201
    files = good_documents()
    files["passport"] = upload("passport.png", png_bytes(colour="green"))
    res = submit(player_api, files, key="k1")
    assert res.status_code == 422 and res.json()["code"] == "idempotency_key_reused"
    assert KYCApplication.objects.filter(player=player).count() == 1


def test_idempotency_key_required(player, player_api):
    res = player_api.post("/api/v1/kyc/applications/", good_documents(), format="multipart")
    assert res.status_code == 400 and res.json()["code"] == "idempotency_key_required"
    assert KYCApplication.objects.count() == 0


def test_second_submit_while_open_is_refused(player, player_api, private_media):
    assert submit(player_api).status_code == 201
    files_before = stored_files(private_media)
    res = submit(player_api)
    assert res.status_code == 409 and res.json()["code"] == "kyc_application_exists"
    assert KYCApplication.objects.filter(player=player).count() == 1
    assert KYCDocument.objects.count() == 2 and stored_files(private_media) == files_before


def test_player_reads_own_application_not_others(player_api, other_player, make_api):
    own = submit(player_api).json()["application_id"]
    assert player_api.get(f"/api/v1/kyc/applications/{own}/").status_code == 200
    other_api = make_api(other_player)
    res = other_api.get(f"/api/v1/kyc/applications/{own}/")
    assert res.status_code == 404 and res.json()["code"] == "not_found"
    assert other_api.get("/api/v1/kyc/").json()["application_id"] is None


def test_unauthenticated_submit_refused(api):
    res = submit(api)
    assert res.status_code == 401
    assert KYCApplication.objects.count() == 0


def test_database_allows_one_live_application_per_player(player):
    from django.db import IntegrityError, transaction
    from django.utils import timezone

    KYCApplication.objects.create(player=player, submitted_at=timezone.now())
    with pytest.raises(IntegrityError), transaction.atomic():
        KYCApplication.objects.create(player=player, submitted_at=timezone.now())
    assert KYCApplication.objects.filter(player=player, status=KYCStatus.SUBMITTED).count() == 1
