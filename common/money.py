"""Money at the edges: decimal strings in, integer minor units inside, decimal strings out.

No float ever touches an amount. Parsing is strict: a string of digits with at most the
currency's decimals, strictly positive, below MAX_MINOR.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_DOWN, ROUND_FLOOR, Decimal, localcontext

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers


@dataclass(frozen=True)
class Currency:
    code: str
    exponent: int


CURRENCIES: dict[str, Currency] = {
    c.code: c
    for c in (
        Currency("USD", 2),
        Currency("EUR", 2),
        Currency("GBP", 2),
        Currency("USDT", 6),
        Currency("BTC", 8),
    )
}

# Largest amount accepted in one operation, in minor units (fits BIGINT with headroom for sums).
MAX_MINOR = 10**15

_AMOUNT_RE = re.compile(r"(0|[1-9][0-9]{0,17})(\.([0-9]+))?\Z")


def currency_get(code: str) -> Currency:
    try:
        return CURRENCIES[code]
    except (KeyError, TypeError):
        raise serializers.ValidationError(
            {"currency": [serializers.ErrorDetail(f"Unknown currency {code!r}.", code="unknown_currency")]}
        ) from None


def _invalid(detail: str, field: str) -> serializers.ValidationError:
    return serializers.ValidationError(
        {field: [serializers.ErrorDetail(detail, code="invalid_amount")]}
    )


def parse_amount(raw: object, currency: str, *, field: str = "amount", allow_zero: bool = False) -> int:
    """Turn an API decimal string into minor units of `currency`. Raises ValidationError."""
    cur = currency_get(currency)
    if not isinstance(raw, str):
        raise _invalid("Amounts must be decimal strings such as \"12.50\".", field)
    match = _AMOUNT_RE.match(raw)
    if not match:
        raise _invalid("Amounts must be plain decimal strings such as \"12.50\".", field)
    whole, _, frac = match.groups()
    frac = frac or ""
    if len(frac) > cur.exponent:
        raise _invalid(f"{cur.code} amounts have at most {cur.exponent} decimals.", field)
    minor = int(whole) * 10**cur.exponent + int(frac.ljust(cur.exponent, "0") or "0")
    if minor == 0 and not allow_zero:
        raise _invalid("The amount must be greater than zero.", field)
    if minor > MAX_MINOR:
        raise _invalid("The amount is too large.", field)
    return minor


def format_amount(minor: int, currency: str) -> str:
    """Minor units to the API's decimal string, always with the currency's decimals."""
    exp = CURRENCIES[currency].exponent
    sign = "-" if minor < 0 else ""
    minor = abs(minor)
    if exp == 0:
        return f"{sign}{minor}"
    return f"{sign}{minor // 10**exp}.{minor % 10**exp:0{exp}d}"


def multiply_odds_round_down(stake_minor: int, odds: Decimal) -> int:
    """stake x odds in minor units, rounded down (payouts never round up)."""
    if not isinstance(stake_minor, int) or isinstance(stake_minor, bool):
        raise TypeError("stake must be integer minor units")
    if not isinstance(odds, Decimal):
        raise TypeError("odds must be a Decimal")
    return int((Decimal(stake_minor) * odds).to_integral_value(rounding=ROUND_DOWN))


class MoneyInputMixin:
    """Serializer mixin: validates `amount_field` against `currency_field` into `<amount>_minor`."""

    amount_field = "amount"
    currency_field = "currency"

    def validate(self, attrs):
        attrs = super().validate(attrs)  # type: ignore[misc]
        currency = attrs.get(self.currency_field)
        currency_get(currency)
        attrs[f"{self.amount_field}_minor"] = parse_amount(
            attrs.get(self.amount_field), currency, field=self.amount_field
        )
        return attrs


@extend_schema_field({"type": "string", "example": "12.50", "pattern": r"^\d+(\.\d+)?$"})
class AmountField(serializers.Field):
    """Accepts the raw JSON value untouched; MoneyInputMixin/parse_amount judge it."""

    default_error_messages = {"required": "This field is required."}

    def __init__(self, **kwargs):
        # null reaches parse_amount, which names it invalid_amount like any other bad value.
        kwargs.setdefault("allow_null", True)
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        return data

    def to_representation(self, value):
        return value


class CurrencyField(serializers.CharField):
    def __init__(self, **kwargs):
        kwargs.setdefault("max_length", 8)
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        value = super().to_internal_value(data)
        if value not in CURRENCIES:
            raise serializers.ValidationError(
                serializers.ErrorDetail(f"Unknown currency {value!r}.", code="unknown_currency")
            )
        return value


# --- limits and thresholds across currencies ------------------------------------------------
#
# Risk limits and compliance thresholds (KYC_WITHDRAWAL_THRESHOLD, the second-approval
# threshold, market stake and payout limits) are written once, in settings.BASE_CURRENCY, and
# converted into each currency through settings.CURRENCY_RATES ("<CUR>:<units of CUR per one
# unit of the base currency>", comma-separated; operator-maintained, not used for pricing).
# A currency without a rate is a configuration error, never silently "1 BTC = 1 USD".


def currency_rates() -> dict[str, Decimal]:
    """settings.CURRENCY_RATES parsed: {currency: units of it per one base-currency unit}."""
    return _parse_rates(settings.CURRENCY_RATES, settings.BASE_CURRENCY)


@functools.lru_cache(maxsize=8)
def _parse_rates(raw: str, base: str) -> dict[str, Decimal]:
    rates = {base: Decimal(1)}
    for item in filter(None, (part.strip() for part in raw.split(","))):
        code, _, value = item.partition(":")
        rate = Decimal(value.strip())
        if code.strip() not in CURRENCIES or not rate.is_finite() or rate <= 0:
            raise ImproperlyConfigured(f"CURRENCY_RATES: bad entry {item!r}")
        rates[code.strip()] = rate
    return rates


def base_amount_to_minor(amount: Decimal | str, currency: str, *, round_up: bool = False) -> int:
    """An amount in the base currency (decimal) as minor units of `currency`, rounded down
    (or up: a minimum stake). Raises ImproperlyConfigured for a currency without a rate."""
    rates = currency_rates()
    if currency not in rates:
        raise ImproperlyConfigured(f"CURRENCY_RATES has no rate for {currency}")
    with localcontext() as ctx:
        ctx.prec = 50
        value = (Decimal(str(amount)) * rates[currency]).scaleb(CURRENCIES[currency].exponent)
        return int(value.to_integral_value(rounding=ROUND_CEILING if round_up else ROUND_FLOOR))
