"""The admin review queue: compliance officers only, transitions ask for a reason."""

import pytest
from django.test import Client

from kyc.models import KYCApplication, KYCStatus
from tests.backoffice.conftest import verified_client
from tests.factories import make_player, make_staff
from tests.kyc.conftest import submit
from users.roles import COMPLIANCE, SUPPORT

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _roles(db):
    # The role grants come from a data migration, which a transactional test's flush (with
    # --reuse-db, a previous run's) removes; sync them as deployments do (manage.py sync_roles).
    from backoffice.roles import roles_sync

    roles_sync()


@pytest.fixture
def application(make_api):
    res = submit(make_api(make_player()))
    return KYCApplication.objects.get(pk=res.json()["application_id"])


def _browser(user) -> Client:
    # A session that passed password + TOTP, as the admin login makes: the document view
    # (an API view the admin embeds) accepts no other session.
    return verified_client(user)


def test_compliance_sees_queue_documents_and_buttons(application):
    officer = _browser(make_staff(COMPLIANCE))
    queue = officer.get("/admin/kyc/kycapplication/")
    assert queue.status_code == 200 and str(application.pk) in queue.content.decode()
    page = officer.get(f"/admin/kyc/kycapplication/{application.pk}/change/")
    html = page.content.decode()
    assert page.status_code == 200
    doc = application.documents.first()
    assert f"/api/v1/backoffice/kyc/documents/{doc.pk}/" in html  # inline preview
    assert "/decide/approve/" in html and "/decide/reject/" in html
    # The inline image is served by the logged view through the admin session.
    image = officer.get(f"/api/v1/backoffice/kyc/documents/{doc.pk}/")
    assert image.status_code == 200 and image["Content-Type"] == doc.content_type


def test_reject_button_asks_for_a_reason(application):
    user = make_staff(COMPLIANCE)
    officer = _browser(user)
    url = f"/admin/kyc/kycapplication/{application.pk}/decide/reject/"
    assert officer.get(url).status_code == 200
    blank = officer.post(url, {"reason": ""})
    assert blank.status_code == 200  # the form again, with its error
    application = KYCApplication.objects.get(pk=application.pk)
    assert application.status == KYCStatus.SUBMITTED
    done = officer.post(url, {"reason": "expired passport"})
    assert done.status_code == 302
    application = KYCApplication.objects.get(pk=application.pk)
    assert application.status == KYCStatus.REJECTED
    assert application.reviewer == user and application.decision_reason == "expired passport"
    last = application.history.order_by("-history_date", "-history_id").first()
    assert last.history_user == user and last.history_change_reason == "expired passport"


def test_aml_status_form_in_admin(application):
    officer = _browser(make_staff(COMPLIANCE))
    url = f"/admin/kyc/amlprofile/set/{application.player_id}/"
    assert officer.get(url).status_code == 200
    assert officer.post(url, {"status": "blocked", "reason": ""}).status_code == 200
    assert officer.post(url, {"status": "blocked", "reason": "pep match"}).status_code == 302
    from kyc.selectors import aml_status_get

    assert aml_status_get(player_id=application.player_id) == "blocked"


def test_support_agent_cannot_open_the_queue_or_decide(application):
    support = _browser(make_staff(SUPPORT))
    assert support.get("/admin/kyc/kycapplication/").status_code == 403
    assert support.get(f"/admin/kyc/kycapplication/{application.pk}/change/").status_code in (
        302, 403)
    res = support.post(f"/admin/kyc/kycapplication/{application.pk}/decide/approve/",
                       {"reason": "x"})
    assert res.status_code == 403
    doc = application.documents.first()
    assert support.get(f"/api/v1/backoffice/kyc/documents/{doc.pk}/").status_code == 403
    application = KYCApplication.objects.get(pk=application.pk)
    assert application.status == KYCStatus.SUBMITTED


def test_queue_opens_on_waiting_applications_oldest_first_with_their_age(make_api):
    from datetime import timedelta

    from django.utils import timezone

    apps = [KYCApplication.objects.get(pk=submit(make_api(make_player())).json()["application_id"])
            for _ in range(3)]
    now = timezone.now()
    # Oldest: 2 days 5 hours ago; then 3 hours ago; the third is decided (approved).
    KYCApplication.objects.filter(pk=apps[0].pk).update(submitted_at=now - timedelta(days=2, hours=5))
    KYCApplication.objects.filter(pk=apps[1].pk).update(submitted_at=now - timedelta(hours=3))
    KYCApplication.objects.filter(pk=apps[2].pk).update(status=KYCStatus.APPROVED)
    officer = _browser(make_staff(COMPLIANCE))
    html = officer.get("/admin/kyc/kycapplication/").content.decode()
    assert str(apps[0].pk) in html and str(apps[1].pk) in html
    assert str(apps[2].pk) not in html  # decided: not in the default view
    assert html.index(str(apps[0].pk)) < html.index(str(apps[1].pk))  # oldest first
    assert "2d 5h" in html and "0d 3h" in html
    everything = officer.get("/admin/kyc/kycapplication/?queue=all").content.decode()
    assert str(apps[2].pk) in everything
    approved = officer.get("/admin/kyc/kycapplication/?queue=approved").content.decode()
    assert str(apps[2].pk) in approved and str(apps[0].pk) not in approved


def test_identity_fields_are_stored_and_shown_beside_the_documents(make_api, compliance_api):
    from tests.kyc.conftest import good_documents

    player_api = make_api(make_player())
    files = {**good_documents(), "full_name": "Alice Example", "date_of_birth": "1990-04-01",
             "address": "1 High Street, Leeds", "country": "GB"}
    res = submit(player_api, files)
    assert res.status_code == 201, res.content
    app = KYCApplication.objects.get(pk=res.json()["application_id"])
    assert (app.full_name, str(app.date_of_birth), app.address, app.country) == (
        "Alice Example", "1990-04-01", "1 High Street, Leeds", "GB")
    detail = compliance_api.get(f"/api/v1/backoffice/kyc/applications/{app.pk}/").json()
    assert detail["full_name"] == "Alice Example" and detail["date_of_birth"] == "1990-04-01"
    assert detail["country"] == "GB" and detail["address"] == "1 High Street, Leeds"
    html = _browser(make_staff(COMPLIANCE)).get(
        f"/admin/kyc/kycapplication/{app.pk}/change/").content.decode()
    assert "Alice Example" in html and "1 High Street, Leeds" in html and 'class="bo-zoom"' in html
    # A bad country or date is refused and writes nothing.
    bad = submit(make_api(make_player()), {**good_documents(), "country": "gb"})
    assert bad.status_code == 400 and KYCApplication.objects.count() == 1
