from django.db import migrations

from common.db import append_only


class Migration(migrations.Migration):
    dependencies = [("betting", "0001_initial")]

    operations = [
        append_only(
            "betting_historicalbet",
            "betting_historicalmarket",
            "betting_historicalselection",
            "betting_marketsettlement",
        ),
    ]
