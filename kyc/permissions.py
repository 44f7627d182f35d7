"""Who may review KYC and read documents: compliance officers (and administrators), or
staff explicitly granted the `kyc.review_kycapplication` permission."""

from rest_framework.permissions import BasePermission

from users.roles import COMPLIANCE, user_has_role

REVIEW_PERMISSION = "kyc.review_kycapplication"


def can_review_kyc(user) -> bool:
    if user_has_role(user, COMPLIANCE):
        return True
    return bool(user and user.is_authenticated and user.is_active and user.is_staff
                and user.has_perm(REVIEW_PERMISSION))


class CanReviewKYC(BasePermission):
    message = "Only compliance officers may do this."

    def has_permission(self, request, view) -> bool:
        return can_review_kyc(request.user)
