"""Row locks of responsible gambling, in the platform's one lock order.

Every change to limits, exclusions or the external register's answer first locks the
player's compliance row (common.gates.compliance_row_lock: the kyc AMLProfile), the same row
every money gate locks before the player's accounts. So a gate that holds it decides on the
limits and exclusions in force at its commit, and no change can slip in between its check
and its commit.
"""

from __future__ import annotations

from common.gates import compliance_row_lock

from .models import Exclusion, Limit


def compliance_lock(player_id: int) -> None:
    """Lock (creating if needed) the player's compliance row in the caller's transaction."""
    compliance_row_lock(player_id=player_id)


def limit_lock(limit_id, *, player_id: int | None = None) -> Limit | None:
    qs = Limit.objects.select_for_update().filter(pk=limit_id)
    if player_id is not None:
        qs = qs.filter(player_id=player_id)
    return qs.first()


def exclusion_lock(exclusion_id) -> Exclusion | None:
    return Exclusion.objects.select_for_update().filter(pk=exclusion_id).first()
