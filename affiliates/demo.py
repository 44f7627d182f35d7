"""Demo affiliate with a referred player (registered with the affiliate's code), and the
previous month closed. Idempotent: everything is looked up before it is created."""

from django.utils import timezone

from users.models import User
from users.services import user_register

from .models import Affiliate, Attribution
from .services import affiliates_close_month, previous_month

DEMO_CODE = "demo-partner"


def seed(*, stdout) -> list[str]:
    affiliate, _ = Affiliate.objects.get_or_create(
        code=DEMO_CODE, defaults={"name": "Demo Partner Media", "currency": "USD",
                                  "cpa_amount": 2_500, "cpa_threshold": 2_000,
                                  "revshare_bp": 2_500})
    if not User.objects.filter(username="carol").exists():
        user_register(username="carol", email="carol@demo.test", password="demo-password-123",
                      affiliate_code=DEMO_CODE)
    carol = User.objects.get(username="carol")
    referred = Attribution.objects.filter(affiliate=affiliate).count()
    now = timezone.now()
    affiliates_close_month(month=previous_month(now), now=now)
    return [f"affiliate {affiliate.name} (code {DEMO_CODE}): {referred} referred player(s), "
            f"e.g. {carol.username} / demo-password-123"]
