from django.db import migrations

from common.db import append_only


class Migration(migrations.Migration):
    dependencies = [("game_sessions", "0001_initial")]

    operations = [
        append_only("game_sessions_historicalgamesession", "game_sessions_historicalgameround"),
    ]
