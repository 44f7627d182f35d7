import pytest
from django.test import Client
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.plugins.otp_totp.models import TOTPDevice

from backoffice.roles import roles_sync
from tests.factories import make_staff


@pytest.fixture(autouse=True)
def _roles(db):
    # Models of apps migrated after backoffice's data migration get their grants here, as
    # `manage.py sync_roles` / seed_demo do in a deployment.
    roles_sync()


def totp_device(user) -> TOTPDevice:
    return TOTPDevice.objects.create(user=user, name="phone", confirmed=True)


def verified_client(user) -> Client:
    """A browser session of `user` that passed password + TOTP (as the login form does)."""
    device = TOTPDevice.objects.filter(user=user).first() or totp_device(user)
    client = Client()
    client.force_login(user)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()
    return client


@pytest.fixture
def staff_client():
    def _make(*roles):
        user = make_staff(*roles)
        return user, verified_client(user)

    return _make
