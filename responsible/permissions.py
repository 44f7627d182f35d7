"""Who may impose limits and exclusions: compliance officers (and administrators), or
staff granted `responsible.impose_limit`."""

from rest_framework.permissions import BasePermission

from users.roles import COMPLIANCE, user_has_role

IMPOSE_PERMISSION = "responsible.impose_limit"


def can_impose(user) -> bool:
    if user_has_role(user, COMPLIANCE):
        return True
    return bool(user and user.is_authenticated and user.is_active and user.is_staff
                and user.has_perm(IMPOSE_PERMISSION))


class CanImpose(BasePermission):
    message = "Only compliance officers may do this."

    def has_permission(self, request, view) -> bool:
        return can_impose(request.user)
