"""After a refresh: expenses not yet synced whose coding points at something the ledger no longer
offers (vanished, archived or deleted accounts, tax rates or tracking categories, or an account
that stopped accepting the expense's type) go back to To categorize with the reason.

The companies app pulls the master data and cannot import expenses (it is the lower layer): it
announces each pull with `companies.signals.master_data_pulled`, connected to
`recheck_on_master_data_pulled` when the app is ready (`expenses/apps.py`)."""

from __future__ import annotations

from django.db.models import Prefetch, Q

from companies.models import Company, LedgerAccount, TaxRate, TrackingCategory
from companies.platforms import TransactionType
from expenses.models import Expense, ExpenseLine, ExpenseStatus
from expenses.services import expense_readiness, expense_refresh_readiness
from expenses.validation import company_context

# Not yet in a sync: what a refresh may still send back for recoding.
OPEN_STATUSES = (
    ExpenseStatus.UNCATEGORIZED,
    ExpenseStatus.CATEGORIZED,
    ExpenseStatus.APPROVED,
    ExpenseStatus.FAILED,
)


def recheck_on_master_data_pulled(sender: object, *, company: Company, **_: object) -> None:
    """Receiver of `master_data_pulled`: the pull has stored the company's master data."""
    company_recheck_expenses(company=company)


def _unusable() -> Q:
    return ~Q(status="Active") | Q(is_deleted=True) | Q(missing_since__isnull=False)


def company_recheck_expenses(*, company: Company) -> int:
    """Recheck the open expenses a refresh may have broken (and those flagged before, which a
    refresh may have fixed). Returns how many were rechecked.

    Candidates are found with one query; their lines come in one prefetch and the company's
    validation context is built once, so there are no queries per line.
    """
    accounts = LedgerAccount.objects.filter(company=company)
    bad_accounts = accounts.filter(_unusable()).values("pk")
    bad_taxes = TaxRate.objects.filter(company=company).filter(_unusable()).values("pk")
    bad_tracking = TrackingCategory.objects.filter(company=company).filter(_unusable()).values("pk")
    wrong_type = Q()
    for account in accounts.only("pk", "valid_transaction_types", "valid_for"):
        # What the account takes in the company's generation (`validFor` in the newer).
        taken = [t for t in TransactionType if account.accepts(t, company.expenses_api)]
        wrong_type |= Q(lines__account_id=account.pk) & ~Q(type__in=taken)
    affected = (
        Q(lines__account__in=bad_accounts)
        | Q(lines__tax_rate__in=bad_taxes)
        | Q(lines__tracking_categories__in=bad_tracking)
        | wrong_type
        | ~Q(needs_recoding_reason="")
    )
    candidate_ids = (
        Expense.objects.filter(company=company, status__in=OPEN_STATUSES)
        .filter(affected)
        .values("pk")
        .distinct()
    )
    expenses = (
        Expense.objects.filter(pk__in=candidate_ids)
        .select_related("company", "supplier_override")
        .prefetch_related(
            Prefetch(
                "lines",
                queryset=ExpenseLine.objects.select_related("account", "tax_rate")
                .prefetch_related("tracking_categories")
                .order_by("position"),
            )
        )
        .order_by("pk")
    )
    ctx = company_context(company=company)
    count = 0
    for expense in expenses:
        count += 1
        if expense.status == ExpenseStatus.FAILED:
            # A failed expense stays in Failed (its Codat message matters) unless its coding is
            # now wrong, in which case it must be recoded before anything is sent again.
            problems = expense_readiness(expense, ctx)
            expense_refresh_readiness(expense=expense, ctx=ctx, edited=bool(problems))
            continue
        expense_refresh_readiness(expense=expense, ctx=ctx)
    return count
