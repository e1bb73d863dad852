"""Money: a Decimal amount in one currency, rounded to the currency's minor unit on purpose.

Amounts never pass through float. A purchase amount arrives as the database's
NUMERIC(12,2) (a Decimal) or as the API's decimal string; a reward is the
purchase times a percentage, rounded half-up to the currency's minor unit
(öre for SEK) — the rounding a customer expects on a receipt, and the one the
tests pin. Currencies are the ISO 4217 codes the engine knows the minor unit of;
an unknown code is refused instead of guessed.
"""

from __future__ import annotations

import decimal
from decimal import ROUND_HALF_UP, Decimal

import msgspec

from engine.errors import ValidationError

DEFAULT_CURRENCY = "SEK"
ROUNDING = ROUND_HALF_UP
"""How a computed amount is brought to the minor unit (explicit, never the context's default)."""

MINOR_UNIT_DIGITS: dict[str, int] = {
    "SEK": 2,
    "NOK": 2,
    "DKK": 2,
    "EUR": 2,
    "USD": 2,
    "GBP": 2,
    "CHF": 2,
    "PLN": 2,
    "ISK": 0,
    "JPY": 0,
}
"""Decimal places of each supported currency's minor unit (ISO 4217)."""

# Enough digits for NUMERIC(12,2) × a percentage with two decimals, exactly, whatever the
# thread's decimal context says.
_CONTEXT = decimal.Context(prec=40, rounding=ROUNDING, traps=[decimal.InvalidOperation, decimal.Overflow])


def currency_code(value: str, field: str = "currency") -> str:
    """A supported ISO 4217 code (upper case), or ValidationError."""
    if not isinstance(value, str) or value not in MINOR_UNIT_DIGITS:
        raise ValidationError(field, f"must be one of {', '.join(sorted(MINOR_UNIT_DIGITS))}")
    return value


def quantum(currency: str) -> Decimal:
    """The minor unit of ``currency`` as a Decimal exponent (Decimal('0.01') for SEK)."""
    return Decimal(1).scaleb(-MINOR_UNIT_DIGITS[currency_code(currency)])


class Money(msgspec.Struct, frozen=True):
    """A non-negative amount in whole minor units of its currency (e.g. 249.50 SEK)."""

    amount: Decimal
    currency: str

    def __post_init__(self) -> None:
        currency_code(self.currency)
        if not isinstance(self.amount, Decimal) or not self.amount.is_finite():
            raise ValidationError("amount", "must be a finite decimal")
        if self.amount < 0:
            raise ValidationError("amount", "must not be negative")
        if self.amount != self.amount.quantize(quantum(self.currency), context=_CONTEXT):
            raise ValidationError(
                "amount",
                f"has more decimals than {self.currency} allows ({MINOR_UNIT_DIGITS[self.currency]})",
            )

    @classmethod
    def of(cls, amount: Decimal | str | int, currency: str = DEFAULT_CURRENCY) -> Money:
        """Exact construction from a Decimal, decimal string or int; floats are refused."""
        if isinstance(amount, bool) or not isinstance(amount, Decimal | str | int):
            raise ValidationError("amount", "must be a decimal string, Decimal or int (never a float)")
        try:
            value = Decimal(amount)
        except decimal.InvalidOperation as exc:
            raise ValidationError("amount", "is not a decimal number") from exc
        cur = currency_code(currency)
        if value.is_finite() and value == value.quantize(quantum(cur), context=_CONTEXT):
            value = value.quantize(quantum(cur), context=_CONTEXT)  # canonical scale: 249.5 → 249.50
        return cls(value, cur)

    @classmethod
    def zero(cls, currency: str = DEFAULT_CURRENCY) -> Money:
        return cls(Decimal(0).quantize(quantum(currency)), currency)

    def __add__(self, other: Money) -> Money:
        if not isinstance(other, Money):
            return NotImplemented
        if other.currency != self.currency:
            raise ValidationError("currency", f"cannot add {other.currency} to {self.currency}")
        return Money(_CONTEXT.add(self.amount, other.amount), self.currency)

    def __str__(self) -> str:
        return f"{self.amount} {self.currency}"


def percentage_of(purchase: Money, percentage: Decimal) -> Money:
    """``purchase`` × ``percentage`` / 100, rounded half-up to the currency's minor unit.

    ``percentage`` is a Decimal within 0–100 (the assessment's reward percentage, 2–15).
    """
    if isinstance(percentage, bool) or not isinstance(percentage, Decimal) or not percentage.is_finite():
        raise ValidationError("reward_percentage", "must be a finite Decimal")
    if not Decimal(0) <= percentage <= Decimal(100):
        raise ValidationError("reward_percentage", "must be within 0–100")
    exact = _CONTEXT.divide(_CONTEXT.multiply(purchase.amount, percentage), Decimal(100))
    return Money(
        exact.quantize(quantum(purchase.currency), rounding=ROUNDING, context=_CONTEXT), purchase.currency
    )


def total(amounts: list[Money], currency: str = DEFAULT_CURRENCY) -> Money:
    """Sum of amounts in one currency (exact); an empty list is zero in ``currency``."""
    result = Money.zero(currency)
    for m in amounts:
        result = result + m
    return result
