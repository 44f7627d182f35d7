from django.db import migrations

from common.db import append_only


def sync_roles(apps, schema_editor):
    from backoffice.roles import roles_sync

    roles_sync(apps=apps)


class Migration(migrations.Migration):
    dependencies = [
        ("backoffice", "0001_initial"),
        ("users", "0002_roles"),
        ("wallet", "0002_ledger_triggers"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("auth", "0012_alter_user_first_name_max_length"),
    ]

    operations = [
        # Staff decisions' history is evidence: never updated or deleted.
        append_only("backoffice_historicalmanualadjustment"),
        migrations.RunPython(sync_roles, migrations.RunPython.noop),
    ]
