from django.db import migrations

from common.db import append_only


class Migration(migrations.Migration):
    dependencies = [("responsible", "0001_initial")]

    operations = [
        append_only("responsible_historicallimit", "responsible_historicalexclusion",
                    "responsible_historicalprofile"),
    ]
