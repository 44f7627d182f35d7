"""Money, odds, people and times as a person reads them, for the admin and exports.

Formatting happens once, at the edge: the admin columns, the backoffice pages and the audit
export call these; nothing stores their output.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from django.utils import timezone

from .money import CURRENCIES, format_amount


def money(minor: int | None, currency: str | None, *, signed: bool = False) -> str:
    """12345, "USD" -> "123.45 USD" (major units with the currency); "" for no amount."""
    if minor is None or not currency:
        return ""
    if currency not in CURRENCIES:  # an unknown code must not hide the amount
        return f"{minor} {currency} (minor units)"
    text = format_amount(minor, currency)
    if signed and minor > 0:
        text = f"+{text}"
    return f"{text} {currency}"


def odds(value: Decimal | str | None) -> str:
    """Decimal odds with two to as many decimals as they carry: 2.1000... -> "2.10"."""
    if value is None or value == "":
        return ""
    number = Decimal(value).normalize()
    exponent = number.as_tuple().exponent
    places = max(2, -exponent) if isinstance(exponent, int) else 2
    return f"{number:.{places}f}"


def person(user) -> str:
    """A user as staff name them: "Ann Smith (ann)" or "ann"; "system" when nobody acted."""
    if user is None:
        return "system"
    full = (user.get_full_name() or "").strip()
    return f"{full} ({user.username})" if full else user.username


def when(value: datetime | None) -> str:
    """A moment to the second with its time zone, in the site's zone: "2026-12-03 07:29:51 UTC"."""
    if value is None:
        return ""
    return timezone.localtime(value).strftime("%Y-%m-%d %H:%M:%S %Z")
