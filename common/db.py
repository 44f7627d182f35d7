"""SQL helpers for migrations: append-only tables enforced by PostgreSQL triggers."""

from django.db import migrations

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
    forward = [_FUNCTION]
    backward = []
    for table in tables:
        forward.append(
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
            f"FOR EACH ROW EXECUTE FUNCTION common_refuse_change();"
        )
        backward.append(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table};")
    return migrations.RunSQL(sql=forward, reverse_sql=backward)
