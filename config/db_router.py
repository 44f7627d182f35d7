"""Primary/replica routing (DESIGN.md "Reads and replicas").

Writes and anything inside a transaction go to the primary. Reads go to the replica only
for models that opt in (``replica_ok = True`` on the model), when a replica is configured,
not lagging past REPLICA_MAX_LAG_S, and the current player has not written recently.
Money decisions never opt in.
"""

from __future__ import annotations

from django.conf import settings

from common.replica import replica_usable


class PrimaryReplicaRouter:
    def db_for_read(self, model, **hints):
        if "replica" not in settings.DATABASES:
            return "default"
        if not getattr(model, "replica_ok", False):
            return "default"

        return "replica" if replica_usable() else "default"

    def db_for_write(self, model, **hints):
        return "default"

    def allow_relation(self, obj1, obj2, **hints):
        return True

    def allow_migrate(self, db, app_label, model_name=None, **hints):
        return db == "default"
