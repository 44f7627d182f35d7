"""Gating hooks: other apps refuse an operation without the caller importing them.

A setting lists dotted paths to callables; each is called with keyword arguments and raises
a DomainError to refuse. `WALLET_WITHDRAWAL_GATES` receives (player, amount, currency);
`BET_PLACEMENT_GATES` and `GAME_ROUND_GATES` receive (player,).
"""

from django.conf import settings
from django.utils.module_loading import import_string


def run_gates(setting_name: str, **context) -> None:
    for path in getattr(settings, setting_name, []):
        import_string(path)(**context)
