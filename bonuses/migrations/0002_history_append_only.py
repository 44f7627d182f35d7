from django.db import migrations

from common.db import append_only


class Migration(migrations.Migration):
    """Bonus history is an audit trail: append-only, like the ledger."""

    dependencies = [("bonuses", "0001_initial")]

    operations = [
        append_only("bonuses_historicalplayerbonus", "bonuses_historicalcampaign"),
    ]
