"""Codat's `currencyRate`, read the way Codat reads it.

The rate converts the foreign amount into the company's base currency by multiplication: the
amount in the base currency is the foreign amount times the rate. So the rate is the number of
base-currency units one unit of the foreign currency is worth (the OpenAPI document's examples,
base GBP: USD 20 at 0.781 is GBP 15.62; base USD: GBP 20 at 1.277 is USD 25.54). The form, the
ingest API, the CSV import, the validation and the ledger preview all say it this way.
"""

from __future__ import annotations

from decimal import Decimal

from sfe_portal.money import to_precision

# The field's meaning in one sentence, for help texts and the published ingest document.
RATE_MEANING = (
    "What one unit of the expense's currency is worth in the company's base currency: "
    "the amount in the base currency is the amount times the rate (e.g. base GBP, a USD "
    "expense at 0.781 means 1 USD = 0.781 GBP)."
)


def rate_currency(*, expense_currency: str, bank_currency: str, base: str) -> str:
    """The foreign currency the rate converts from: the expense's, else the card account's."""
    return expense_currency if expense_currency != base else bank_currency


def rate_phrase(rate: Decimal, *, foreign: str, base: str) -> str:
    """'1 USD = 0.79 GBP'."""
    return f"1 {foreign} = {rate.normalize():f} {base}"


def rate_fix(*, foreign: str, base: str) -> str:
    """What to enter, in the user's words."""
    return (
        f"Enter what 1 {foreign} is worth in {base} (the amount in {base} is the {foreign} "
        "amount times the rate)."
    )


def in_base_currency(amount: Decimal, rate: Decimal, base: str = "GBP") -> Decimal:
    """The foreign `amount` in the base currency, to the base currency's minor unit."""
    return to_precision(amount * rate, base)


def amount_in(
    currency: str,
    *,
    amount: Decimal,
    expense_currency: str,
    bank_currency: str,
    base: str,
    rate: Decimal | None,
) -> Decimal | None:
    """An expense's `amount` (in `expense_currency`) in `currency`, by the expense's rate (which
    converts `rate_currency` into `base`); None when the rate cannot tell (no rate, or two
    currencies it does not join)."""
    if currency == expense_currency:
        return amount
    if rate is None or not base:
        return None
    foreign = rate_currency(
        expense_currency=expense_currency, bank_currency=bank_currency, base=base
    )
    if expense_currency == foreign and currency == base:
        return in_base_currency(amount, rate, base)
    if expense_currency == base and currency == foreign:
        return to_precision(amount / rate, foreign)
    return None
