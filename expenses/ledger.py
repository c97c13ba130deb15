"""What an expense becomes in Codat and in the customer's ledger.

`expense_to_transaction` builds the exact `ExpenseTransaction` a v1 push sends, and
`expense_to_transaction_v2` the `ExpenseTransactionV2` of Codat's newer Expenses API, whose
transfers are `expense_to_transfer`'s `TransferTransaction`; `expense_item` is the JSON of the
one the company's generation sends, which the claim plans and the detail page's payload preview
shows. `expense_ledger_reading` says the same thing in the
words an accountant uses. Both read only what they are given (the expense with its supplier override
loaded, its lines with accounts, tax rates and tracking loaded, and a `CompanyContext`), so
neither queries.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import fields
from decimal import Decimal
from typing import Any

from django.db.models import Prefetch

from codat import types as codat
from companies.models import TrackingCategory
from companies.platforms import (
    MONEY_IN_TYPES,
    TRANSFER_TYPES,
    ApiGeneration,
    ContactKind,
    TransactionType,
)
from expenses.currency_rate import in_base_currency, rate_phrase
from expenses.models import Expense, ExpenseLine
from expenses.services import ExpenseRefused
from expenses.validation import CompanyContext, expense_problems, transfer_side_amount
from sfe_portal.money import format_amount, format_money
from sfe_portal.prefetch import related


def ledger_lines(*, expense: Expense) -> list[ExpenseLine]:
    """The expense's lines loaded for the payload and the reading, tracking parents included.

    Both functions below also accept the lines of `expenses.selectors.expense_lines`; with those
    the reading names tracking categories without their parent rather than query for it.
    """
    return list(
        ExpenseLine.objects.filter(expense=expense)  # always read: never a prefetch's leftovers
        .select_related("account", "tax_rate")
        .prefetch_related(
            Prefetch(
                "tracking_categories",
                queryset=TrackingCategory.objects.select_related("parent"),
            )
        )
        .order_by("position")
    )


def currency_rate_needed(*, expense: Expense, ctx: CompanyContext) -> bool:
    """Whether Codat needs a rate: the expense or the card account is not in the base currency.

    The same test validation applies, so a ready expense that needs a rate always has one.
    """
    if not ctx.base_currency:
        return False
    return expense.currency != ctx.base_currency or ctx.bank_account_currency != ctx.base_currency


def _supplier_override_sent(expense: Expense, ctx: CompanyContext) -> bool:
    return expense.supplier_override_id is not None and ctx.rules.takes_supplier_override(
        expense.type
    )


def _ready(expense: Expense, lines: Sequence[ExpenseLine], ctx: CompanyContext) -> str | None:
    """Refuse `expense` with its problems unless it is ready; the Codat id of the supplier it
    names when that is sent."""
    problems = expense_problems(expense, lines, ctx)
    if problems:
        raise ExpenseRefused(problems)
    if _supplier_override_sent(expense, ctx) and expense.supplier_override is not None:
        return expense.supplier_override.codat_id
    return None


def _rate_sent(expense: Expense, ctx: CompanyContext) -> Decimal | None:
    return expense.currency_rate if currency_rate_needed(expense=expense, ctx=ctx) else None


def expense_to_transaction(
    *, expense: Expense, lines: Sequence[ExpenseLine], ctx: CompanyContext
) -> codat.ExpenseTransaction:
    """The dataset item for `expense`, exactly as a v1 push sends it.

    Refused with the problems when the expense is not ready, so no half-coded payload is ever
    built. `currencyRate` is sent only when the expense or the card account is foreign: a rate
    on a base-currency expense is 1 by definition, and a stray stored value must not reach the
    ledger. `contactRef` carries the supplier override only where the platform takes a supplier
    per transaction and records this type against a supplier; everywhere else Codat uses the
    configured supplier or customer. Empty merchant names and notes are left out.
    """
    supplier_id = _ready(expense, lines, ctx)
    return codat.ExpenseTransaction(
        id=str(expense.pk),
        type=expense.type,
        issue_date=expense.issue_date,
        currency=expense.currency,
        currency_rate=_rate_sent(expense, ctx),
        contact=codat.ContactRef(id=supplier_id) if supplier_id is not None else None,
        merchant_name=expense.merchant_name or None,
        notes=expense.notes or None,
        lines=tuple(_line_payload(line) for line in lines),
    )


def expense_to_transaction_v2(
    *, expense: Expense, lines: Sequence[ExpenseLine], ctx: CompanyContext
) -> codat.ExpenseTransactionV2:
    """The create-expense-transactions item for `expense` in Codat's newer Expenses API,
    exactly as the push sends it: the same checks and choices as `expense_to_transaction`
    (validation under the newer generation's rules refuses the types it does not take here),
    the supplier override as `contactRef` with `type`.

    No `bankAccountRef`: the spec makes it optional, and without it Codat books from the
    configured bank account, as in v1. Every line carries its tax amount and account, which
    the spec leaves optional, so the ledger gets exactly what was coded.
    """
    supplier_id = _ready(expense, lines, ctx)
    return codat.ExpenseTransactionV2(
        id=str(expense.pk),
        type=expense.type,
        issue_date=expense.issue_date,
        currency=expense.currency,
        currency_rate=_rate_sent(expense, ctx),
        supplier_id=supplier_id,
        merchant_name=expense.merchant_name or None,
        notes=expense.notes or None,
        lines=tuple(_line_payload_v2(line) for line in lines),
    )


def expense_to_transfer(
    *, expense: Expense, lines: Sequence[ExpenseLine], ctx: CompanyContext
) -> codat.TransferTransaction:
    """The create-transfer-transaction body for a TransferIn or TransferOut `expense` in Codat's
    newer Expenses API, with its transaction id (sent in the path).

    A transfer moves money between the card's account (the company's configured bank account)
    and the one account its single line is coded to:

    - TransferIn brings money onto the card's account (a top-up): `from` is the line's account,
      `to` the card's account;
    - TransferOut takes money off it (a pay-down, a sweep to savings): `from` is the card's
      account, `to` the line's account.

    Each side's amount is in its own account's currency: the expense's amount where the account
    is in the expense's currency, else converted by the expense's rate (validation refuses a
    transfer whose amounts cannot be told so). The date is the expense's; the description its
    merchant name and notes. No contact and no tax: the endpoint takes neither.
    """
    _ready(expense, lines, ctx)
    [line] = lines
    assert line.account is not None  # validation has checked it
    card = (ctx.bank_account_codat_id, ctx.bank_account_currency)
    other = (line.account.codat_id, line.account.currency or ctx.base_currency)
    source, target = (other, card) if expense.type == TransactionType.TRANSFER_IN else (card, other)
    description = " — ".join(text for text in (expense.merchant_name, expense.notes) if text)
    return codat.TransferTransaction(
        id=str(expense.pk),
        date=expense.issue_date,
        from_account_id=source[0],
        from_amount=transfer_side_amount(expense, source[1], ctx),
        to_account_id=target[0],
        to_amount=transfer_side_amount(expense, target[1], ctx),
        description=description or None,
    )


def expense_to_update(
    *, expense: Expense, lines: Sequence[ExpenseLine], ctx: CompanyContext
) -> codat.ExpenseUpdate | codat.ExpenseUpdateV2 | codat.TransferTransaction:
    """The body of the update endpoint, in the generation `ctx` has the rules of, that makes
    the expense in the ledger what a push would send now: every field of its item but `id`
    (for a transfer, the transfer itself, PUT again by its id)."""
    if expense.type in ctx.rules.transfer_types:
        return expense_to_transfer(expense=expense, lines=lines, ctx=ctx)
    if ctx.rules.api == ApiGeneration.V1:
        v1 = expense_to_transaction(expense=expense, lines=lines, ctx=ctx)
        return codat.ExpenseUpdate(
            type=v1.type,
            issue_date=v1.issue_date,
            currency=v1.currency,
            currency_rate=v1.currency_rate,
            contact=v1.contact,
            merchant_name=v1.merchant_name,
            notes=v1.notes,
            lines=v1.lines,
        )
    newer = expense_to_transaction_v2(expense=expense, lines=lines, ctx=ctx)
    shared = {field.name: getattr(newer, field.name) for field in fields(codat.ExpenseUpdateV2)}
    return codat.ExpenseUpdateV2(**shared)


_BUILDERS: dict[str, Callable[..., codat.ExpenseTransaction | codat.ExpenseTransactionV2]] = {
    ApiGeneration.V1: expense_to_transaction,
    ApiGeneration.EXPENSES: expense_to_transaction_v2,
}


def expense_item(
    *, expense: Expense, lines: Sequence[ExpenseLine], ctx: CompanyContext
) -> dict[str, Any]:
    """The JSON item a push sends for `expense` in the generation `ctx` has the rules of (a
    transfer's with its `id`, which goes in the path: see `expense_to_transfer`)."""
    if expense.type in ctx.rules.transfer_types:
        transfer = expense_to_transfer(expense=expense, lines=lines, ctx=ctx)
        return {"id": transfer.id, **transfer.to_api()}
    return _BUILDERS[ctx.rules.api](expense=expense, lines=lines, ctx=ctx).to_api()


def _line_payload(line: ExpenseLine) -> codat.ExpenseLine:
    # Validation has checked the account is set; mypy cannot see that.
    assert line.account is not None
    return codat.ExpenseLine(
        net_amount=line.net_amount,
        tax_amount=line.tax_amount,
        account_id=line.account.codat_id,
        tax_rate_id=line.tax_rate.codat_id if line.tax_rate else None,
        # An empty tuple is left out of the JSON: Codat wants no property rather than [].
        tracking_ids=tuple(c.codat_id for c in related(line, "tracking_categories")),
    )


def _line_payload_v2(line: ExpenseLine) -> codat.ExpenseLineV2:
    v1 = _line_payload(line)
    return codat.ExpenseLineV2(
        net_amount=v1.net_amount,
        tax_amount=v1.tax_amount,
        account_id=v1.account_id,
        tax_rate_id=v1.tax_rate_id,
        tracking_refs=tuple(codat.TrackingRef(id=tracking_id) for tracking_id in v1.tracking_ids),
    )


# --- The reading ------------------------------------------------------------------------------


def _quoted(name: str) -> str:
    return f"'{name}'"


def _tracking_name(category: TrackingCategory) -> str:
    # The parent is named only when it was loaded with the line: the reading never queries.
    if category.parent_id and TrackingCategory.parent.is_cached(category) and category.parent:
        return f"{category.parent.name} › {category.name}"
    return category.name


def _contact_phrase(expense: Expense, ctx: CompanyContext, money_in: bool) -> str:
    preposition = "from" if money_in else "to"
    kind = ctx.rules.contact_for(expense.type)
    if kind == ContactKind.NONE:
        return "with no supplier on the record (the platform cannot take one per expense)"
    if kind == ContactKind.CUSTOMER:
        if ctx.default_customer_name:
            return f"{preposition} customer {_quoted(ctx.default_customer_name)}"
        return f"{preposition} the default customer, which is not chosen yet"
    if _supplier_override_sent(expense, ctx) and expense.supplier_override is not None:
        return f"{preposition} supplier {_quoted(expense.supplier_override.name)}"
    if ctx.default_supplier_name:
        return f"{preposition} supplier {_quoted(ctx.default_supplier_name)}"
    return f"{preposition} no supplier (none is chosen in the company's settings)"


def _headline(expense: Expense, ctx: CompanyContext, line_count: int) -> str:
    platform = ctx.platform_label
    amount = format_money(expense.amount, expense.currency)
    bank = _quoted(ctx.bank_account_name) if ctx.bank_account_name else "the card account"
    when = f"on {expense.issue_date.day} {expense.issue_date:%B %Y}"
    money_in = expense.type in MONEY_IN_TYPES
    if expense.type in TRANSFER_TYPES:
        other = "the accounts on the lines below" if line_count > 1 else "the account below"
        direction = f"into {bank} from {other}" if money_in else f"out of {bank} to {other}"
        return f"{platform} will record a transfer of {amount} {direction} {when}."
    record = ctx.rules.money_in_record if money_in else ctx.rules.money_out_record
    account_side = f"into {bank}" if money_in else f"from {bank}"
    contact = _contact_phrase(expense, ctx, money_in)
    return f"{platform} will record {record} of {amount} {account_side} {contact} {when}."


def _rate_sentence(expense: Expense, ctx: CompanyContext) -> str | None:
    if not currency_rate_needed(expense=expense, ctx=ctx):
        return None
    base = ctx.base_currency
    rate = expense.currency_rate
    if rate is None:
        return f"No currency rate is set yet; Codat needs one to convert to {base}."
    if expense.currency == base:
        bank = ctx.bank_account_currency
        return (
            f"The card account is in {bank}; the rate {rate_phrase(rate, foreign=bank, base=base)}"
            " goes with it."
        )
    in_base = in_base_currency(expense.amount, rate, base)
    return (
        f"At {rate_phrase(rate, foreign=expense.currency, base=base)}, that is "
        f"{format_money(in_base, base)} in the company's base currency."
    )


def _line_sentence(
    expense: Expense, line: ExpenseLine, ctx: CompanyContext, position: int, count: int
) -> str:
    amount = format_amount(line.net_amount, expense.currency)
    account = str(line.account) if line.account else "an account not chosen yet"
    if expense.type == TransactionType.TRANSFER_IN:
        text = f"{amount} from {account}"
    elif expense.type in MONEY_IN_TYPES:
        # Money back reduces the expense account (or books the reward as income).
        text = f"{amount} credited to {account}"
    else:
        text = f"{amount} to {account}"
    if line.tax_rate is not None:
        text += f" with {line.tax_rate.name} ({line.tax_amount:,.2f})"
    elif ctx.rules.needs_tax_rate(expense.type):
        text += " with no tax rate chosen yet"
    categories: list[TrackingCategory] = related(line, "tracking_categories")
    tracking = [_tracking_name(category) for category in categories]
    if tracking:
        text += ", tracked to " + ", ".join(tracking)
    if line.description:
        text += f" ({line.description})"
    prefix = f"Line {position}: " if count > 1 else ""
    return prefix + text + "."


def expense_ledger_reading(
    *, expense: Expense, lines: Sequence[ExpenseLine], ctx: CompanyContext
) -> list[str]:
    """Plain sentences of what the accountant will see in their software after the sync.

    Works on half-coded expenses too (saying what is missing), so the detail page can show it
    while finance staff code. Reads only what it is given.
    """
    sentences = [_headline(expense, ctx, len(lines))]
    rate = _rate_sentence(expense, ctx)
    if rate:
        sentences.append(rate)
    if not lines:
        sentences.append("It has no lines yet: choose an account and a tax rate.")
    sentences.extend(
        _line_sentence(expense, line, ctx, position, len(lines))
        for position, line in enumerate(lines, start=1)
    )
    if expense.notes:
        sentences.append(f"Notes: {expense.notes}")
    return sentences
