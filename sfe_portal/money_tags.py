"""`{{ amount|money:currency }}` in every template ('1,234.50 GBP', '1,235 JPY'), and
`{{ amount|amount:currency }}` without the code (a built-in library: settings.TEMPLATES)."""

from __future__ import annotations

from decimal import Decimal

from django import template

from sfe_portal.money import format_amount, format_money, minor_units

register = template.Library()


@register.filter(name="money")
def money_filter(amount: Decimal | None, currency: str) -> str:
    return format_money(amount, currency)


@register.filter(name="amount")
def amount_filter(amount: Decimal | None, currency: str) -> str:
    return format_amount(amount, currency)


@register.filter(name="minor_units")
def minor_units_filter(currency: str) -> int:
    return minor_units(currency)


@register.filter(name="money_step")
def money_step_filter(currency: str) -> str:
    """The `step` of an amount input in `currency`: '0.01', '1', '0.001'."""
    units = minor_units(currency)
    return "1" if units == 0 else f"0.{'0' * (units - 1)}1"
