from django.db import migrations

from common.db import append_only


class Migration(migrations.Migration):
    dependencies = [("kyc", "0001_initial")]

    operations = [
        append_only(
            "kyc_kycdocument",
            "kyc_kycdocumentaccess",
            "kyc_historicalkycapplication",
            "kyc_historicalamlprofile",
        ),
    ]
