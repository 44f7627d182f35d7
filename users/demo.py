from django.contrib.auth.models import Group

from users.models import User
from users.roles import ALL_ROLES

DEMO_PASSWORD = "demo-password-123"
PLAYERS = ["alice", "bob"]


def seed(*, stdout) -> list[str]:
    lines = []
    for name in PLAYERS:
        user, created = User.objects.get_or_create(
            username=name, defaults={"email": f"{name}@demo.test"}
        )
        if created:
            user.set_password(DEMO_PASSWORD)
            user.save()
        lines.append(f"player  {name} / {DEMO_PASSWORD}")
    for role in ALL_ROLES:
        group, _ = Group.objects.get_or_create(name=role)
        username = f"{role.split('_')[0]}"
        user, created = User.objects.get_or_create(
            username=username, defaults={"email": f"{username}@demo.test", "is_staff": True}
        )
        if created:
            user.set_password(DEMO_PASSWORD)
            if role == "administrator":
                user.is_superuser = True
            user.save()
        user.groups.add(group)
        lines.append(f"staff   {username} / {DEMO_PASSWORD}  ({role})")
    return lines
