from django.db import migrations

from common.db import append_only

ZERO_SUM = """
CREATE OR REPLACE FUNCTION wallet_check_transaction_balanced() RETURNS trigger AS $$
DECLARE
    bad record;
BEGIN
    SELECT currency, SUM(amount) AS total INTO bad
      FROM wallet_entry WHERE transaction_id = NEW.transaction_id
     GROUP BY currency HAVING SUM(amount) <> 0 LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'ledger transaction % does not balance in %: %',
            NEW.transaction_id, bad.currency, bad.total
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE CONSTRAINT TRIGGER wallet_entry_zero_sum
    AFTER INSERT ON wallet_entry
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION wallet_check_transaction_balanced();
"""


class Migration(migrations.Migration):
    dependencies = [("wallet", "0001_initial")]

    operations = [
        append_only(
            "wallet_entry",
            "wallet_transaction",
            "wallet_historicaldeposit",
            "wallet_historicalwithdrawal",
            "wallet_providercallback",
        ),
        migrations.RunSQL(
            ZERO_SUM,
            reverse_sql="DROP TRIGGER IF EXISTS wallet_entry_zero_sum ON wallet_entry;",
        ),
    ]
