from django.db import migrations


def sync_roles(apps, schema_editor):
    from backoffice.roles import roles_sync

    roles_sync(apps=apps)


class Migration(migrations.Migration):
    """Grant the roles their permissions on the models that moved to `events` and `common`."""

    dependencies = [
        ("backoffice", "0002_roles_and_append_only"),
        ("events", "0002_own_tables"),
        ("common", "0002_own_table"),
        ("reconciliation", "0003_event_models_to_events"),
    ]

    operations = [migrations.RunPython(sync_roles, migrations.RunPython.noop)]
