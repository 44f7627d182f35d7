from rest_framework.permissions import BasePermission

from .roles import COMPLIANCE, PAYMENTS, SUPPORT, TRADER, user_has_role


class HasRole(BasePermission):
    """Allow only staff in one of `roles` (administrators always)."""

    roles: tuple[str, ...] = ()
    message = "Your role does not allow this action."

    def has_permission(self, request, view) -> bool:
        return user_has_role(request.user, *self.roles)


class IsTrader(HasRole):
    roles = (TRADER,)


class IsCompliance(HasRole):
    roles = (COMPLIANCE,)


class IsPayments(HasRole):
    roles = (PAYMENTS,)


class IsSupport(HasRole):
    roles = (SUPPORT,)


class CanRevokeTokens(BasePermission):
    """Staff whose role may log players out (users.change_authtoken: support agents)."""

    message = "Your role does not allow this action."

    def has_permission(self, request, view) -> bool:
        u = request.user
        return bool(u and u.is_authenticated and u.is_active and u.is_staff
                    and u.has_perm("users.change_authtoken"))
