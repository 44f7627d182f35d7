"""Database helpers: append-only tables (migrations) and the service transaction."""

from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from django.db import connection, migrations, transaction

_FUNCTION = """
CREATE OR REPLACE FUNCTION common_refuse_change() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'table % is append-only: % refused', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'restrict_violation';
END;
$$ LANGUAGE plpgsql;
"""


def append_only(*tables: str) -> migrations.RunSQL:
    """A RunSQL operation that refuses UPDATE and DELETE on each table (TRUNCATE stays
    possible for test teardown, and needs table ownership anyway)."""
    forward: list[Any] = [_FUNCTION]
    backward: list[Any] = []
    for table in tables:
        forward.append(
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
            f"FOR EACH ROW EXECUTE FUNCTION common_refuse_change();"
        )
        backward.append(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table};")
    return migrations.RunSQL(sql=forward, reverse_sql=backward)


# --- the money transaction: one per request -------------------------------------------------

_IN_REQUEST_TRANSACTION: ContextVar[bool] = ContextVar("in_request_transaction", default=False)


def service_atomic(*, savepoint: bool = False):
    """The transaction a service owns: `atomic(durable=True)`, unless an idempotent request
    (common.idempotency) already opened the one money transaction, which the service then
    joins, without a savepoint unless it asks for one (to recover from an IntegrityError it
    handles). So the idempotency record, the effect and the stored answer commit together."""
    if _IN_REQUEST_TRANSACTION.get() and connection.in_atomic_block:
        return transaction.atomic(savepoint=savepoint)
    return transaction.atomic(durable=True)


@contextmanager
def request_transaction():
    """Open the one durable transaction of an idempotent request; services inside join it."""
    with transaction.atomic(durable=True):
        token = _IN_REQUEST_TRANSACTION.set(True)
        try:
            yield
        finally:
            _IN_REQUEST_TRANSACTION.reset(token)
