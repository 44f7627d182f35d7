from django.db import migrations

from common.db import append_only


class Migration(migrations.Migration):
    """Attributions, closes, CPA lines and payouts are evidence: never updated or deleted."""

    dependencies = [("affiliates", "0001_initial")]

    operations = [
        append_only("affiliates_attribution", "affiliates_affiliateclose", "affiliates_cpapayment",
                    "affiliates_cpaclawback", "affiliates_affiliatepayout",
                    "affiliates_historicalaffiliate"),
    ]
