"""Staff roles. Groups of these names are created by a data migration (issue 8 fills in
their permissions); API permission classes check membership by name."""

SUPPORT = "support_agent"
COMPLIANCE = "compliance_officer"
PAYMENTS = "payments"
TRADER = "trader"
ADMINISTRATOR = "administrator"

ALL_ROLES = [SUPPORT, COMPLIANCE, PAYMENTS, TRADER, ADMINISTRATOR]


def user_has_role(user, *roles: str) -> bool:
    if not (user and user.is_authenticated and user.is_active and user.is_staff):
        return False
    if user.is_superuser:
        return True
    names = {g.name for g in user.groups.all()}
    return bool(names & (set(roles) | {ADMINISTRATOR}))
