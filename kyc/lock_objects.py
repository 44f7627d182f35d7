"""The KYC app's row locks. The player's `AMLProfile` row is the per-player compliance lock:
every compliance change (KYC submissions and decisions, AML status) and every gated money
operation (common.gates) takes it, after the domain rows and before the player's accounts."""

from __future__ import annotations

from .models import AMLProfile


def compliance_row_lock(*, player_id: int) -> AMLProfile:
    """SELECT ... FOR UPDATE the player's AMLProfile, creating it first if it is missing."""
    profile = AMLProfile.objects.select_for_update().filter(player_id=player_id).first()
    if profile is not None:
        return profile
    # ON CONFLICT DO NOTHING opens no savepoint: a parallel creator waits on the index
    # entry, then skips, and both lock the one committed row.
    AMLProfile.objects.bulk_create([AMLProfile(player_id=player_id)], ignore_conflicts=True)
    return AMLProfile.objects.select_for_update().get(player_id=player_id)
