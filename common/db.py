"""Database helpers: append-only tables (migrations) and the service transaction."""

import json
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


_STAFF_FUNCTION = """
CREATE OR REPLACE FUNCTION common_refuse_staff_player() RETURNS trigger AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM users_user u
                WHERE u.id = NEW.player_id AND (u.is_staff OR u.is_superuser)) THEN
        RAISE EXCEPTION 'staff account % cannot be the player of a % row',
            NEW.player_id, TG_TABLE_NAME USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;
"""


def players_only(*tables: str) -> migrations.RunSQL:
    """A RunSQL operation that refuses a new row of each table whose `player_id` is a staff
    account: separation of duties (staff never play), below the services' StaffAccountRefused."""
    forward: list[Any] = [_STAFF_FUNCTION]
    backward: list[Any] = []
    for table in tables:
        forward.append(
            f"CREATE TRIGGER {table}_players_only BEFORE INSERT ON {table} "
            f"FOR EACH ROW EXECUTE FUNCTION common_refuse_staff_player();"
        )
        backward.append(f"DROP TRIGGER IF EXISTS {table}_players_only ON {table};")
    return migrations.RunSQL(sql=tuple(forward), reverse_sql=tuple(backward))


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


# --- set-based statements: many rows in one parameter ----------------------------------------
#
# psycopg quotes every element of an array parameter in Python (Django binds client-side),
# which costs about ten times more than sending the same rows as one JSON string; a batch
# statement takes its rows as a JSON list of lists and reads them with `json_rows_sql`.


def json_rows(rows) -> str:
    """One JSON parameter holding `rows` (lists of values; UUIDs and dates as strings)."""
    return json.dumps(rows, separators=(",", ":"), default=str)


def json_rows_sql(*columns: tuple[str, str]) -> str:
    """A FROM item (alias it) over the rows of one `json_rows` parameter: the named, typed
    columns in list order, and `n`, the row's position (1-based)."""
    cols = ", ".join(f"(r.v->>{i})::{kind} AS {name}" for i, (name, kind) in enumerate(columns))
    return f"(SELECT {cols}, r.n FROM json_array_elements(%s::json) WITH ORDINALITY AS r(v, n))"


def pg_array(values) -> str:
    """An array parameter of ints or UUIDs as one literal string ('{1,2,3}': nothing to
    escape in either), cast in SQL (`%s::bigint[]`, `%s::uuid[]`)."""
    return "{" + ",".join(str(v) for v in values) + "}"
