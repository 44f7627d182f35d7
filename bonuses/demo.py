"""Demo: a first-deposit campaign, a goodwill campaign, and a granted bonus for alice (in EUR,
so her USD demo play and withdrawals stay as they were). Idempotent."""

from django.utils import timezone

from users.models import User

from . import services
from .models import Campaign, PlayerBonus, Trigger

WELCOME = "Welcome: 100% of the first deposit up to 50.00"
GOODWILL = "Goodwill 10.00"


def seed(*, stdout) -> list[str]:
    now = timezone.now()
    if not Campaign.objects.filter(name=WELCOME).exists():
        services.campaign_create(
            actor=None, now=now, name=WELCOME, trigger=Trigger.FIRST_DEPOSIT, currency="USD",
            percent=100, cap=5_000, min_deposit=1_000, wagering_multiple=20,
            contribution_sportsbook=100, contribution_casino=50, contribution_games={"hilo": 25},
            max_bet=500, valid_days=30, max_conversion=20_000)
    goodwill = Campaign.objects.filter(name=GOODWILL).first()
    if goodwill is None:
        goodwill = services.campaign_create(
            actor=None, now=now, name=GOODWILL, trigger=Trigger.MANUAL, currency="EUR",
            fixed_amount=1_000, wagering_multiple=5, valid_days=60)
    alice = User.objects.filter(username="alice").first()
    if alice is not None and not PlayerBonus.objects.filter(player=alice, campaign=goodwill).exists():
        services.bonus_grant_manual(player_id=alice.pk, campaign_id=goodwill.pk,
                                    reason="demo: goodwill bonus", actor=None, now=now)
    return [f"bonuses: campaigns {WELCOME!r} (USD) and {GOODWILL!r} (EUR); alice holds the "
            "EUR bonus"]
