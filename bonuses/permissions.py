"""Who may manage bonuses: the Django permissions on the role groups (backoffice.roles)."""

from rest_framework.permissions import BasePermission

GRANT_PERMISSION = "bonuses.grant_playerbonus"
FORFEIT_PERMISSION = "bonuses.forfeit_playerbonus"
CAMPAIGN_PERMISSION = "bonuses.add_campaign"


def _perm(permission: str) -> type[BasePermission]:
    class HasBonusPermission(BasePermission):
        message = "Your role does not allow this action."

        def has_permission(self, request, view) -> bool:
            u = request.user
            return bool(u and u.is_authenticated and u.is_active and u.is_staff
                        and u.has_perm(permission))

    HasBonusPermission.__name__ = f"Has_{permission.split('.')[1]}"
    return HasBonusPermission


CanGrant = _perm(GRANT_PERMISSION)
CanForfeit = _perm(FORFEIT_PERMISSION)
CanManageCampaigns = _perm(CAMPAIGN_PERMISSION)
