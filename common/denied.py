"""Refusals that say what was missing: the permission an action needs and the roles that
hold it, so a refused staff member knows whom to ask instead of reading a bare 403."""

from __future__ import annotations

from django.contrib.auth.models import Group, Permission
from django.core.exceptions import PermissionDenied


class MissingPermission(PermissionDenied):
    """Raised by an admin page or button when `user.has_perm(permission)` is false."""

    def __init__(self, permission: str, action: str = ""):
        self.permission = permission  # "app_label.codename"
        self.action = action
        super().__init__(f"{action or 'This page'} needs the permission {permission}.")


def require_perm(user, permission: str, action: str = "") -> None:
    """Raise MissingPermission unless `user` holds `permission` ("app_label.codename")."""
    if not user.has_perm(permission):
        raise MissingPermission(permission, action)


def permission_label(permission: str) -> str:
    """'backoffice.view_dashboard' -> 'Can view the operations dashboard' (its name)."""
    app_label, _, codename = permission.partition(".")
    name = (Permission.objects.filter(content_type__app_label=app_label, codename=codename)
            .values_list("name", flat=True).first())
    return name or permission


def roles_holding(permission: str) -> list[str]:
    """The role groups granted `permission`, by name."""
    app_label, _, codename = permission.partition(".")
    return sorted(Group.objects.filter(permissions__content_type__app_label=app_label,
                                       permissions__codename=codename)
                  .values_list("name", flat=True).distinct())
