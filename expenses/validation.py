"""Whether an expense can go to Codat as it is — one set of rules for the queue, the forms,
the bulk actions, the ingest API and the push.

Every problem names the field and the fix. Validation never queries: callers hand it the
expense with its lines (accounts, tax rates and tracking categories loaded) and a
`CompanyContext` built once per company.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from companies.models import Company
from companies.platforms import (
    TRANSFER_TYPES,
    ContactKind,
    Platform,
    PlatformRules,
    TransactionType,
    currency_combination_allowed,
    rules_for,
)
from companies.selectors import company_configuration
from expenses.currency_rate import rate_currency, rate_fix
from expenses.models import MAX_AMOUNT, MAX_LINES, MAX_TRACKING_REFS, Expense, ExpenseLine
from sfe_portal.money import format_money
from sfe_portal.prefetch import related


@dataclass(frozen=True)
class Problem:
    field: str  # where it is: "type", "currency_rate", "lines[0].account", …
    message: str  # what is wrong, in plain words
    fix: str  # what to do about it

    def __str__(self) -> str:
        return f"{self.message} {self.fix}"


@dataclass(frozen=True)
class CompanyContext:
    """What validation needs to know about the company, loaded once for many expenses."""

    company: Company
    rules: PlatformRules
    platform_label: str
    base_currency: str
    bank_account_currency: str
    has_bank_account: bool
    has_default_supplier: bool
    has_default_customer: bool
    # Names the ledger reading shows the accountant; empty when the company has not chosen them.
    bank_account_name: str = ""
    bank_account_id: int | None = None
    default_supplier_name: str = ""
    default_supplier_currency: str = ""
    default_customer_name: str = ""


def company_context(*, company: Company, api: str | None = None) -> CompanyContext:
    """The company's context under the rules of generation `api` (a sync's stamp), else of the
    generation it speaks."""
    config = company_configuration(company=company)
    bank = config.bank_account if config else None
    return CompanyContext(
        company=company,
        rules=rules_for(company.platform, api or company.expenses_api),
        platform_label=Platform(company.platform).label,
        base_currency=company.base_currency,
        bank_account_currency=(bank.currency if bank else "") or company.base_currency,
        has_bank_account=bank is not None,
        has_default_supplier=bool(config and config.supplier_id),
        has_default_customer=bool(config and config.customer_id),
        bank_account_name=bank.name if bank else "",
        bank_account_id=bank.pk if bank else None,
        default_supplier_name=config.supplier.name if config and config.supplier else "",
        default_supplier_currency=(
            config.supplier.default_currency if config and config.supplier else ""
        ),
        default_customer_name=config.customer.name if config and config.customer else "",
    )


def expense_problems(
    expense: Expense, lines: Sequence[ExpenseLine], ctx: CompanyContext
) -> list[Problem]:
    """Everything that stops `expense` (with these `lines`) from syncing. Empty means ready.

    What coding in the queue cannot fix comes first (the platform refusing the type, the
    currency, the company's configuration and contacts), then the coding itself: a row shows
    its first problem, and "no coding yet" must not hide a blocker that coding won't lift."""
    problems: list[Problem] = []
    type_label = TransactionType(expense.type).label
    problems += _type_problems(expense, ctx)
    problems += _currency_problems(expense, ctx)
    problems += _contact_problems(expense, ctx, type_label)
    problems += _amount_problems(expense, lines)
    for index, line in enumerate(lines):
        problems += _line_problems(expense, index, line, type_label, ctx)
    return problems


def _type_problems(expense: Expense, ctx: CompanyContext) -> list[Problem]:
    if ctx.rules.supports(expense.type):
        return []
    return [
        Problem("type", *ctx.rules.type_refusal(expense.type, platform_label=ctx.platform_label))
    ]


def _amount_problems(expense: Expense, lines: Sequence[ExpenseLine]) -> list[Problem]:
    problems = []
    if not Decimal(0) <= expense.amount <= MAX_AMOUNT:
        problems.append(
            Problem(
                "amount",
                f"The amount {expense.amount} is outside Codat's range of 0 to 5,000,000.",
                "Use a positive amount; money coming back is a Refund, not a negative Payment.",
            )
        )
    if not lines:
        problems.append(
            Problem("lines", "The expense has no coding yet.", "Choose an account and a tax rate.")
        )
        return problems
    if len(lines) > MAX_LINES:
        problems.append(
            Problem(
                "lines",
                f"The expense has {len(lines)} lines; Codat takes at most {MAX_LINES}.",
                "Merge lines that share an account.",
            )
        )
    total = sum((line.net_amount + line.tax_amount for line in lines), Decimal(0))
    if total != expense.amount:
        problems.append(
            Problem(
                "lines",
                f"The lines add up to {format_money(total, expense.currency)} but the expense is "
                f"{format_money(expense.amount, expense.currency)}.",
                "Change the line amounts so that net plus tax adds up to the total.",
            )
        )
    return problems


def _currency_problems(expense: Expense, ctx: CompanyContext) -> list[Problem]:
    base, bank = ctx.base_currency, ctx.bank_account_currency
    if not base:
        return []  # master data not pulled yet: the company banner says so
    problems = []
    foreign = {c for c in (expense.currency, bank) if c and c != base}
    currency = rate_currency(expense_currency=expense.currency, bank_currency=bank, base=base)
    if foreign and expense.currency_rate is None:
        problems.append(
            Problem(
                "currency_rate",
                f"A currency rate is needed: the expense or its card is in {currency} and the "
                f"company's base currency is {base}.",
                rate_fix(foreign=currency, base=base),
            )
        )
    elif expense.currency_rate_to_check and expense.currency_rate is not None:
        problems.append(
            Problem(
                "currency_rate",
                expense.currency_rate_to_check,
                "Check the rate and save it again on the expense page: "
                + rate_fix(foreign=currency or expense.currency, base=base),
            )
        )
    if bank and not currency_combination_allowed(
        ctx.company.platform, base=base, bank=bank, transaction=expense.currency, api=ctx.rules.api
    ):
        problems.append(
            Problem(
                "currency",
                f"{ctx.platform_label} cannot book a {expense.currency} expense from a {bank} "
                f"card account when the base currency is {base}.",
                "Convert the expense to the card account's currency, or exclude it.",
            )
        )
    return problems


def _contact_problems(expense: Expense, ctx: CompanyContext, type_label: str) -> list[Problem]:
    problems = []
    if not ctx.has_bank_account:
        problems.append(
            Problem(
                "configuration",
                "The company has no default bank account for its card spend.",
                "An approver chooses it in the company's settings.",
            )
        )
    contact = ctx.rules.contact_for(expense.type)
    if ctx.rules.needs_default_supplier and not ctx.has_default_supplier:
        problems.append(
            Problem(
                "configuration",
                f"{ctx.platform_label} needs a default supplier for every expense.",
                "An approver chooses it in the company's settings.",
            )
        )
    if contact == ContactKind.CUSTOMER and not ctx.has_default_customer:
        problems.append(
            Problem(
                "configuration",
                f"{ctx.platform_label} records {type_label} transactions against a customer, and "
                "the company has no default customer.",
                "An approver chooses it in the company's settings.",
            )
        )
    supplier = expense.supplier_override
    if supplier is not None:
        if not ctx.rules.supplier_per_transaction:
            problems.append(
                Problem(
                    "supplier_override",
                    f"{ctx.platform_label} cannot take a supplier per transaction.",
                    "Remove the supplier override; the default supplier is used.",
                )
            )
        elif contact != ContactKind.SUPPLIER:
            problems.append(
                Problem(
                    "supplier_override",
                    f"{ctx.platform_label} records {type_label} transactions against the "
                    "default customer, so a supplier override does not apply.",
                    "Remove the supplier override.",
                )
            )
        elif not supplier.is_usable:
            problems.append(
                Problem(
                    "supplier_override",
                    f"Supplier '{supplier.name}' {supplier.unusable_reason}.",
                    "Choose an active supplier, or remove the override.",
                )
            )
        elif supplier.default_currency and supplier.default_currency != _booked(expense, ctx):
            problems.append(
                Problem(
                    "supplier_override",
                    f"Supplier '{supplier.name}' trades in {supplier.default_currency}, not "
                    f"{_booked(expense, ctx)}.",
                    "Choose a supplier that trades in the expense's currency.",
                )
            )
    elif (
        contact == ContactKind.SUPPLIER
        and ctx.default_supplier_currency
        and ctx.default_supplier_currency != _booked(expense, ctx)
    ):
        problems.append(
            Problem(
                "supplier_override",
                f"The default supplier '{ctx.default_supplier_name}' trades in "
                f"{ctx.default_supplier_currency} only, and this expense is booked in "
                f"{_booked(expense, ctx)}.",
                "Choose a supplier that trades in that currency for this expense.",
            )
        )
    return problems


def _booked(expense: Expense, ctx: CompanyContext) -> str:
    return ctx.rules.booked_currency(bank=ctx.bank_account_currency, transaction=expense.currency)


def _line_problems(
    expense: Expense, index: int, line: ExpenseLine, type_label: str, ctx: CompanyContext
) -> list[Problem]:
    where = f"lines[{index}]"
    name = f"Line {index + 1}"
    problems = []
    account = line.account
    if account is None:
        problems.append(
            Problem(f"{where}.account", f"{name} has no account.", _choose_account(type_label))
        )
    elif not account.is_usable:
        problems.append(
            Problem(
                f"{where}.account",
                f"Account '{account.name}' {account.unusable_reason}.",
                _choose_account(type_label),
            )
        )
    elif not account.accepts(expense.type):
        problems.append(
            Problem(
                f"{where}.account",
                f"Account '{account.name}' does not accept {type_label} transactions.",
                _choose_account(type_label),
            )
        )
    if (
        account is not None
        and expense.type in TRANSFER_TYPES
        and ctx.bank_account_id is not None
        and account.pk == ctx.bank_account_id
    ):
        problems.append(
            Problem(
                f"{where}.account",
                f"A transfer moves money between two accounts, and '{account.name}' is the "
                "card's own account.",
                "Choose the other bank or card account of the transfer.",
            )
        )
    tax_rate = line.tax_rate
    if tax_rate is None:
        if ctx.rules.needs_tax_rate(expense.type):
            problems.append(
                Problem(
                    f"{where}.tax_rate",
                    f"{name} has no tax rate.",
                    "Choose a tax rate; for no tax, choose the platform's no-tax rate.",
                )
            )
    elif not tax_rate.is_usable:
        problems.append(
            Problem(
                f"{where}.tax_rate",
                f"Tax rate '{tax_rate.name}' {tax_rate.unusable_reason}.",
                "Choose another tax rate.",
            )
        )
    elif not tax_rate.accepts(expense.type):
        problems.append(
            Problem(
                f"{where}.tax_rate",
                f"Tax rate '{tax_rate.name}' cannot be used on {type_label} transactions.",
                "Choose a tax rate valid for this type.",
            )
        )
    tracking = related(line, "tracking_categories")
    if len(tracking) > MAX_TRACKING_REFS:
        problems.append(
            Problem(
                f"{where}.tracking",
                f"{name} has {len(tracking)} tracking categories; Codat takes at most "
                f"{MAX_TRACKING_REFS}.",
                "Remove some tracking categories.",
            )
        )
    problems.extend(
        Problem(
            f"{where}.tracking",
            f"Tracking category '{category.name}' {category.unusable_reason}.",
            "Remove it or choose another.",
        )
        for category in tracking
        if not category.is_usable
    )
    if not (
        Decimal(0) <= line.net_amount <= MAX_AMOUNT and Decimal(0) <= line.tax_amount <= MAX_AMOUNT
    ):
        problems.append(
            Problem(
                f"{where}.amount",
                f"{name}'s amounts must be between 0 and 5,000,000.",
                "Use positive amounts; the expense's type carries the direction.",
            )
        )
    return problems


def _choose_account(type_label: str) -> str:
    return f"Choose an active account that accepts {type_label} transactions."
