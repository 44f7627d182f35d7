from django.db import migrations

from common.db import append_only


class Migration(migrations.Migration):
    dependencies = [("casino", "0001_initial")]

    operations = [
        append_only("casino_historicalcasinoround"),
    ]
