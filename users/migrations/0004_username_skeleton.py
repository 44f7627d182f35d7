"""Usernames' look-alike skeleton (users.usernames), unique. Existing accounts that already
look alike keep their names; the later one's skeleton gets its id appended, so new names
confusable with either are still refused."""

from django.db import migrations, models


def backfill(apps, schema_editor):
    from users.usernames import username_skeleton  # noqa: PLC0415 - data migration

    User = apps.get_model("users", "User")
    seen = set()
    for user in User.objects.order_by("pk").only("pk", "username").iterator():
        skeleton = username_skeleton(user.username)
        if skeleton in seen:
            skeleton = f"{skeleton}#{user.pk}"
        seen.add(skeleton)
        User.objects.filter(pk=user.pk).update(username_skeleton=skeleton)


class Migration(migrations.Migration):
    dependencies = [("users", "0003_auth_tokens")]

    operations = [
        migrations.AddField("user", "username_skeleton",
                            models.CharField(max_length=600, null=True, editable=False)),
        migrations.RunPython(backfill, migrations.RunPython.noop),
        migrations.AlterField("user", "username_skeleton",
                              models.CharField(max_length=600, unique=True, null=True,
                                               editable=False)),
    ]
