"""The ledger, its entries, idempotency records and the outbox are read-only for everyone."""

import pytest
from django.test import Client
from django.urls import reverse

from common.models import IdempotencyRecord
from events.models import OutboxEvent
from tests.factories import make_player
from wallet.models import Entry, Transaction

from .conftest import verified_client

pytestmark = pytest.mark.django_db

READ_ONLY = [Transaction, Entry, IdempotencyRecord, OutboxEvent]


@pytest.fixture
def superuser_client() -> Client:
    from users.models import User

    admin = User.objects.create_superuser("root", "root@example.test", "correct-horse-battery")
    return verified_client(admin)


@pytest.mark.parametrize("model", READ_ONLY, ids=lambda m: m.__name__)
def test_not_even_a_superuser_can_add_change_or_delete(model, superuser_client):
    player = make_player(funds={"USD": 100})
    if model is IdempotencyRecord:
        obj = IdempotencyRecord.objects.create(user=player, key="k1", fingerprint="f")
    elif model is OutboxEvent:
        from django.db import transaction

        from events.services import emit
        with transaction.atomic():
            obj = emit(topic="t", aggregate_type="a", aggregate_id=1, payload={})
    else:
        obj = model.objects.filter(**({"account__owner": player} if model is Entry else
                                      {"entries__account__owner": player})).first()
    opts = model._meta
    info = f"admin:{opts.app_label}_{opts.model_name}"
    c = superuser_client
    assert c.get(reverse(f"{info}_changelist")).status_code == 200
    change = c.get(reverse(f"{info}_change", args=[obj.pk]))
    assert change.status_code == 200
    assert b'name="_save"' not in change.content  # rendered view-only
    assert c.get(reverse(f"{info}_add")).status_code == 403
    assert c.get(reverse(f"{info}_delete", args=[obj.pk])).status_code == 403
    before = model.objects.count()
    assert c.post(reverse(f"{info}_delete", args=[obj.pk]), {"post": "yes"}).status_code == 403
    assert c.post(reverse(f"{info}_changelist"), {
        "action": "delete_selected", "_selected_action": [obj.pk], "post": "yes",
    }).status_code in (200, 302)
    assert model.objects.count() == before
