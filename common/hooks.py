"""Hooks: other apps react to an event of a domain app without that app importing them.

A setting lists dotted paths to callables; `hooks_run(SETTING, **context)` calls each with
the keyword arguments (a hook ignores the ones it does not need via `**_`). A hook may raise a
DomainError to refuse where its setting says so (registration checks, deposit prechecks);
the money gates proper run through `common.gates.gates_check` instead.

| setting | when | context |
|---|---|---|
| `DEPOSIT_PRECHECKS` | before a deposit's transaction (may call external registers) | player, now |
| `DEPOSIT_CREDIT_HOOKS` | inside the webhook transaction of a succeeded deposit, after the compliance row, before the accounts; must never refuse | player_id, currency, amount, deposit_id, now |
| `WITHDRAWAL_REQUEST_HOOKS` | inside a withdrawal request, after the compliance row, before the hold; may refuse | player_id, currency, amount, forfeit_bonus, now |
| `DEPOSIT_FAILED_HOOKS` | inside the webhook transaction of a failed deposit | player_id, currency, amount, requested_at, now |
| `STAKE_RETURN_HOOKS` | inside a settlement / void / win / rollback transaction, before the accounts; must never refuse | player_id, currency, stake, payout, staked_at, now, void |
| `STAKE_RETURN_BATCH_HOOKS` | inside a batch settlement transaction, before the accounts; must never refuse; must do what `STAKE_RETURN_HOOKS` does once per item, in order | returns (a list of dicts with the keys above but `now`), now |
| `USER_REGISTRATION_CHECKS` | before a registration's transaction | email, username |
| `USER_REGISTRATION_ATTRIBUTION_HOOKS` | inside the registration transaction, when an affiliate code was given; may refuse (400 unknown_affiliate_code), which writes nothing | user, affiliate_code, now |
| `USER_REGISTERED_HOOKS` | after a registration committed | user, now |
| `USER_LOGIN_HOOKS` | after the credentials were accepted, before the token | user, now |
"""

from django.conf import settings
from django.utils.module_loading import import_string


def hooks_run(setting_name: str, **context) -> None:
    for path in getattr(settings, setting_name, []):
        import_string(path)(**context)
