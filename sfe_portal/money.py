"""Money as each currency counts it: how many decimals (ISO 4217's minor units: JPY none, BHD
three, most two), how an amount is written for people, and how it is rounded for storing.

One module says it for every page, the queue's rows, the messages of the validation and the
ledger preview, and the expense page's script (which reads a line's decimals from the page).
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

# ISO 4217 minor units of every active currency that does not use two decimals. Funds and
# units of account with four (CLF, UYW) are not card currencies: they are written with two.
_NO_DECIMALS = "BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX UYI VND VUV XAF XOF XPF"
_THREE_DECIMALS = "BHD IQD JOD KWD LYD OMR TND"
_MINOR_UNITS: dict[str, int] = {
    **dict.fromkeys(_NO_DECIMALS.split(), 0),
    **dict.fromkeys(_THREE_DECIMALS.split(), 3),
}
# The most decimals any currency has: what an amount is stored with.
MAX_MINOR_UNITS = 3
_STEPS = {units: Decimal(1).scaleb(-units) for units in range(MAX_MINOR_UNITS + 1)}


def minor_units(currency: str) -> int:
    """How many decimals `currency` counts in (2 for a code this module does not list)."""
    return _MINOR_UNITS.get(currency.upper(), 2)


def money_step(currency: str) -> Decimal:
    """The smallest amount of `currency`: 0.01 GBP, 1 JPY, 0.001 BHD."""
    return _STEPS[minor_units(currency)]


def to_precision(amount: Decimal, currency: str) -> Decimal:
    """`amount` rounded (half up) to the currency's minor unit."""
    return amount.quantize(money_step(currency), rounding=ROUND_HALF_UP)


def precision_problem(amount: Decimal, currency: str) -> str | None:
    """Why `amount` cannot be an amount of `currency` (more decimals than it has), or None."""
    units = minor_units(currency)
    try:
        exact = amount == amount.quantize(_STEPS[units])
    except InvalidOperation:
        exact = False
    if exact:
        return None
    if units == 0:
        example = to_precision(amount, currency)
        return f"{currency} has no decimals: enter a whole number, e.g. {example}."
    return (
        f"{currency} has {units} decimals: enter at most {units} after the point, "
        f"e.g. {to_precision(amount, currency)}."
    )


def format_amount(amount: Decimal | int | float | str | None, currency: str) -> str:
    """`amount` with thousands separators and the currency's decimals: '1,234.50' for GBP,
    '1,235' for JPY, '1.234' for BHD; empty for no amount."""
    if amount is None or amount == "":
        return ""
    value = to_precision(Decimal(str(amount)), currency)
    return f"{value:,.{minor_units(currency)}f}"


def format_money(amount: Decimal | int | float | str | None, currency: str) -> str:
    """'1,234.50 GBP': the amount as `format_amount` writes it, then the currency's code."""
    text = format_amount(amount, currency)
    return f"{text} {currency}" if text else ""
