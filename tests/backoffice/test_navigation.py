"""The sidebar per role: every link a role is shown opens for it, and every page of the
sidebar catalogue it is not shown refuses it (no link to a page that answers 403)."""

import re

import pytest

from backoffice.navigation import SIDEBAR, ModelList, Page
from users.roles import ADMINISTRATOR, COMPLIANCE, PAYMENTS, SUPPORT, TRADER

from .conftest import verified_client

pytestmark = pytest.mark.django_db

ROLES = [SUPPORT, COMPLIANCE, PAYMENTS, TRADER, ADMINISTRATOR]


def _catalogue_urls() -> set[str]:
    from django.contrib import admin
    from django.urls import reverse

    urls = set()
    registry = {m._meta.label_lower: m for m in admin.site._registry}
    for _, items in SIDEBAR:
        for item in items:
            if isinstance(item, Page):
                urls.add(reverse(item.url_name))
            elif isinstance(item, ModelList):
                model = next((registry[label] for label in item.labels if label in registry),
                             None)
                if model is not None:
                    opts = model._meta
                    urls.add(reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist"))
    return urls


def _sidebar_links(html: str) -> set[str]:
    nav = html[html.index('id="nav-sidebar-apps"'):]
    nav = nav[:nav.index("</nav>")] if "</nav>" in nav else nav
    account = {"/admin/password_change/", "/admin/logout/"}  # the user menu under the links
    return set(re.findall(r'<a href="(/admin/[^"?]*)[^"]*"', nav)) - account


@pytest.mark.parametrize("role", ROLES)
def test_sidebar_shows_exactly_the_pages_the_role_can_open(role):
    from tests.factories import make_staff

    client = verified_client(make_staff(role))
    index = client.get("/admin/")
    assert index.status_code == 200
    shown = _sidebar_links(index.content.decode())
    assert shown, f"{role} sees an empty sidebar"
    catalogue = _catalogue_urls()
    assert shown <= catalogue
    for url in sorted(catalogue):
        status = client.get(url).status_code
        if url in shown:
            assert status == 200, f"{role} is shown {url} but gets {status}"
        else:
            assert status in (302, 403), f"{role} is not shown {url} but may open it ({status})"


def test_roles_see_their_own_work_first():
    from tests.factories import make_staff

    def links(role):
        return _sidebar_links(verified_client(make_staff(role)).get("/admin/").content.decode())

    support, compliance, trader = links(SUPPORT), links(COMPLIANCE), links(TRADER)
    assert "/admin/players/" in support and "/admin/dashboard/" not in support
    assert "/admin/kyc/kycapplication/" in compliance and "/admin/audit-export/" in compliance
    assert "/admin/kyc/kycapplication/" not in support
    assert "/admin/betting/market/" in trader and "/admin/players/" not in trader
