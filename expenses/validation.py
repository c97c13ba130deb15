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

from codat.expenses_api import (
    ADJUSTMENT_TRANSACTIONS,
    EXPENSE_TRANSACTIONS,
    REIMBURSABLE_EXPENSE_TRANSACTIONS,
    TRANSFER_TRANSACTIONS,
)
from companies.models import Company, LedgerAccount
from companies.platforms import (
    TRANSFER_TYPES,
    ApiGeneration,
    ContactKind,
    Platform,
    PlatformRules,
    TransactionType,
    currency_combination_allowed,
    listed,
    rules_for,
)
from companies.selectors import company_configuration
from expenses.currency_rate import amount_in, rate_currency, rate_fix
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
    # The card's account as Codat knows it: the side of a transfer that is the card's.
    bank_account_codat_id: str = ""
    # The card account's `validFor` in the newer generation (None: not known).
    bank_account_valid_for: tuple[str, ...] | None = None
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
        bank_account_codat_id=bank.codat_id if bank else "",
        bank_account_valid_for=(
            tuple(bank.valid_for) if bank is not None and bank.valid_for is not None else None
        ),
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
    if expense.type in ctx.rules.transfer_types:
        problems += _transfer_problems(expense, lines, ctx)
    for index, line in enumerate(lines):
        problems += _line_problems(expense, index, line, type_label, ctx)
    return problems


def _transfer_problems(
    expense: Expense, lines: Sequence[ExpenseLine], ctx: CompanyContext
) -> list[Problem]:
    """What stops a transfer going through the newer generation's transfer endpoint, which
    names two accounts, each with an amount in its own currency, and no tax: the card's
    account and the one account of its single line (see `expenses.ledger.expense_to_transfer`)."""
    problems = []
    valid_for = ctx.bank_account_valid_for
    if ctx.has_bank_account and valid_for is not None and TRANSFER_TRANSACTIONS not in valid_for:
        problems.append(
            Problem(
                "configuration",
                f"The card's account '{ctx.bank_account_name}' is not valid for transfers in "
                f"{ctx.rules.api_name}.",
                "An approver chooses a bank or card account valid for transfers in the "
                "company's settings, or exclude this expense.",
            )
        )
    if len(lines) > 1:
        problems.append(
            Problem(
                "lines",
                f"A transfer moves money between the card's account and one other account, and "
                f"this one has {len(lines)} lines.",
                "Keep one line, with the other account of the transfer.",
            )
        )
    for index, line in enumerate(lines):
        if line.tax_rate is not None or line.tax_amount:
            problems.append(
                Problem(
                    f"lines[{index}].tax_rate",
                    f"A transfer carries no tax, and line {index + 1} has a tax rate or amount.",
                    f"Remove the tax rate and the tax amount from line {index + 1}.",
                )
            )
    base = ctx.base_currency
    if base and len(lines) == 1 and lines[0].account is not None:
        account = lines[0].account
        foreign = rate_currency(
            expense_currency=expense.currency, bank_currency=ctx.bank_account_currency, base=base
        )
        for name, currency in (
            (f"the card's account '{ctx.bank_account_name}'", ctx.bank_account_currency),
            (f"account '{account.name}'", account.currency or base),
        ):
            convertible = currency in (expense.currency, base, foreign)
            if expense.currency_rate is None and convertible:
                continue  # the missing rate is the problem, said once by the currency checks
            if _side_amount(expense, currency, ctx) is None:
                problems.append(
                    Problem(
                        "lines[0].account",
                        f"Each side of a transfer is booked in its own account's currency, and "
                        f"the {expense.currency} amount cannot be put in {currency} for {name}.",
                        f"Choose an account in {expense.currency} or in {base}, or convert the "
                        "expense to the card account's currency.",
                    )
                )
    return problems


def _side_amount(expense: Expense, currency: str, ctx: CompanyContext) -> Decimal | None:
    return amount_in(
        currency,
        amount=expense.amount,
        expense_currency=expense.currency,
        bank_currency=ctx.bank_account_currency,
        base=ctx.base_currency,
        rate=expense.currency_rate,
    )


def transfer_side_amount(expense: Expense, currency: str, ctx: CompanyContext) -> Decimal:
    """The transfer's amount on the side of an account in `currency` (validation has checked
    it can be told)."""
    amount = _side_amount(expense, currency, ctx)
    assert amount is not None, "validation refuses a transfer whose amounts cannot be told"
    return amount


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
            against = "the default customer" if contact == ContactKind.CUSTOMER else "no contact"
            problems.append(
                Problem(
                    "supplier_override",
                    f"{ctx.platform_label} records {type_label} transactions against "
                    f"{against}, so a supplier override does not apply.",
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
    elif not account.accepts(expense.type, ctx.rules.api):
        problems.append(_account_refusal(account, expense, where, type_label, ctx))
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
    if expense.type in ctx.rules.transfer_types:
        pass  # a transfer carries no tax (`_transfer_problems`)
    elif tax_rate is None:
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


def _account_refusal(
    account: LedgerAccount, expense: Expense, where: str, type_label: str, ctx: CompanyContext
) -> Problem:
    if ctx.rules.api == ApiGeneration.V1 or account.valid_for is None:
        return Problem(
            f"{where}.account",
            f"Account '{account.name}' does not accept {type_label} transactions.",
            _choose_account(type_label),
        )
    # The newer generation's mapping options say what the account is valid for (`validFor`).
    fix = (
        "Choose a bank or card account valid for transfers."
        if expense.type in TRANSFER_TYPES
        else _choose_account(type_label)
    )
    return Problem(
        f"{where}.account",
        f"Account '{account.name}' is not valid for {type_label} transactions in "
        f"{ctx.rules.api_name} (its mapping options list it for "
        f"{_valid_for_words(account.valid_for)}).",
        fix,
    )


_ENDPOINT_WORDS = {
    TRANSFER_TRANSACTIONS: "transfers",
    ADJUSTMENT_TRANSACTIONS: "adjustments",
    REIMBURSABLE_EXPENSE_TRANSACTIONS: "reimbursable expenses",
}


def _valid_for_words(valid_for: list[str]) -> str:
    """`validFor` in words: 'Payment and Refund expenses and transfers', 'nothing'."""
    prefix = f"{EXPENSE_TRANSACTIONS}."
    types = [entry.removeprefix(prefix) for entry in valid_for if entry.startswith(prefix)]
    words = [f"{listed(types)} expenses"] if types else []
    words += [word for entry, word in _ENDPOINT_WORDS.items() if entry in valid_for]
    return listed(words) or "nothing"


def _choose_account(type_label: str) -> str:
    return f"Choose an active account that accepts {type_label} transactions."
