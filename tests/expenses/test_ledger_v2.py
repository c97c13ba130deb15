"""The item a push sends for an expense of a company on Codat's newer Expenses API: the same
checks and choices as v1's, in the newer document's shape, and only for the four expense types
its expense endpoint takes (transfers go to their own endpoint: tests/expenses/
test_transfers_v2.py)."""

from decimal import Decimal

import pytest

from codat import ExpenseUpdate, ExpenseUpdateV2
from companies.models import Company
from companies.platforms import ApiGeneration, ContactKind, Platform, TransactionType, rules_for
from expenses.coding import LineInput, expense_set_lines
from expenses.ledger import (
    expense_item,
    expense_to_transaction,
    expense_to_transaction_v2,
    expense_to_update,
    ledger_lines,
)
from expenses.models import Expense
from expenses.services import ExpenseRefused
from expenses.validation import company_context, expense_problems
from tests.codat_openapi import EXPENSES_DOCUMENT, strict_validator
from tests.expenses.conftest import make_books
from tests.factories import (
    ExpenseFactory,
    LedgerAccountFactory,
    SupplierFactory,
    TrackingCategoryFactory,
)

pytestmark = pytest.mark.django_db

ALL_TYPES = [t.value for t in TransactionType]
TRANSFERS = {"TransferIn", "TransferOut"}
SUPPORTED = [
    (platform, transaction_type)
    for platform in Platform
    for transaction_type in ALL_TYPES
    if rules_for(platform, ApiGeneration.EXPENSES).supports(transaction_type)
    and transaction_type not in TRANSFERS
]


def _newer_books(platform=Platform.XERO, **options):
    books = make_books(platform=platform, **options)
    Company.objects.filter(pk=books.company.pk).update(expenses_api=ApiGeneration.EXPENSES)
    books.company.expenses_api = ApiGeneration.EXPENSES
    return books


def _coded(books, *, type="Payment", lines=None, **fields):
    account = LedgerAccountFactory(company=books.company, valid_transaction_types=ALL_TYPES)
    expense = ExpenseFactory(company=books.company, type=type, amount=Decimal("12.00"), **fields)
    tax_rate = None if type in TRANSFERS else books.vat
    tax = Decimal(0) if type in TRANSFERS else Decimal("2.00")
    if lines is None:
        lines = [LineInput(Decimal("12.00") - tax, tax, account, tax_rate)]
    expense_set_lines(expense=expense, lines=lines, by=None)
    return Expense.objects.select_related("company", "supplier_override").get(pk=expense.pk)


def _item(books, expense):
    ctx = company_context(company=books.company)
    return expense_item(expense=expense, lines=ledger_lines(expense=expense), ctx=ctx)


def _strict_validator():
    return strict_validator(
        EXPENSES_DOCUMENT,
        request="CreateExpenseRequest",
        closed=("ExpenseTransaction", "ExpenseTransactionLine", "RecordRef", "ExpenseContactRef"),
    )


@pytest.mark.parametrize(
    ("platform", "transaction_type"), SUPPORTED, ids=lambda v: getattr(v, "label", v)
)
def test_every_item_conforms_to_the_newer_document(platform, transaction_type):
    card_currency = "GBP" if platform == Platform.NETSUITE else "USD"
    books = _newer_books(platform, card_currency=card_currency)
    rules = rules_for(platform, ApiGeneration.EXPENSES)
    takes_supplier = (
        rules.supplier_per_transaction
        and rules.contact_for(transaction_type) == ContactKind.SUPPLIER
    )
    override = SupplierFactory(company=books.company, codat_id="SUP-9") if takes_supplier else None
    category = TrackingCategoryFactory(company=books.company, codat_id="DEPT-1")
    account = LedgerAccountFactory(
        company=books.company, codat_id="ACC-4", valid_transaction_types=ALL_TYPES
    )
    expense = _coded(
        books,
        type=transaction_type,
        currency="USD",
        currency_rate=Decimal("1.271234567"),
        supplier_override=override,
        notes="Quarterly offsite",
        lines=[LineInput(Decimal("10.00"), Decimal("2.00"), account, books.vat, [category])],
    )

    item = _item(books, expense)

    errors = sorted(_strict_validator().iter_errors([item]), key=str)
    assert errors == [], "\n".join(e.message for e in errors)
    assert item["id"] == str(expense.pk)
    assert item["type"] == transaction_type
    assert item["currencyRate"] == 1.271234567
    assert item["lines"] == [
        {
            "netAmount": 10.0,
            "taxAmount": 2.0,
            "taxRateRef": {"id": books.vat.codat_id},
            "accountRef": {"id": "ACC-4"},
            "trackingRefs": [{"id": "DEPT-1"}],
        }
    ]
    if takes_supplier:
        assert item["contactRef"] == {"id": "SUP-9", "type": "Supplier"}
    else:
        assert "contactRef" not in item
    # The configured bank account is Codat's default: nothing per transaction.
    assert "bankAccountRef" not in item


def test_the_item_is_built_for_the_generation_the_company_speaks():
    v1 = make_books()
    newer = _newer_books()
    old_expense, new_expense = _coded(v1), _coded(newer)

    v1_ctx = company_context(company=v1.company)
    newer_ctx = company_context(company=newer.company)
    old_lines, new_lines = ledger_lines(expense=old_expense), ledger_lines(expense=new_expense)

    assert _item(v1, old_expense) == (
        expense_to_transaction(expense=old_expense, lines=old_lines, ctx=v1_ctx).to_api()
    )
    assert _item(newer, new_expense) == (
        expense_to_transaction_v2(expense=new_expense, lines=new_lines, ctx=newer_ctx).to_api()
    )


def test_a_correction_sends_every_field_of_the_item_but_its_id():
    books = _newer_books(Platform.QUICKBOOKS_ONLINE)
    expense = _coded(books, supplier_override=SupplierFactory(company=books.company))
    ctx = company_context(company=books.company)
    lines = ledger_lines(expense=expense)

    update = expense_to_update(expense=expense, lines=lines, ctx=ctx)

    assert isinstance(update, ExpenseUpdateV2)
    item = expense_item(expense=expense, lines=lines, ctx=ctx)
    assert update.to_api() == {name: value for name, value in item.items() if name != "id"}
    validator = strict_validator(
        EXPENSES_DOCUMENT,
        request="UpdateExpenseRequest",
        closed=("UpdateExpenseRequest", "ExpenseTransactionLine", "ExpenseContactRef"),
    )
    errors = sorted(validator.iter_errors(update.to_api()), key=str)
    assert errors == [], "\n".join(e.message for e in errors)


def test_a_v1_correction_is_v1s_update():
    books = make_books()
    expense = _coded(books)

    update = expense_to_update(
        expense=expense,
        lines=ledger_lines(expense=expense),
        ctx=company_context(company=books.company),
    )

    assert isinstance(update, ExpenseUpdate)


def test_an_expense_not_ready_is_refused_before_any_item_is_built():
    books = _newer_books()
    expense = _coded(books)
    expense.supplier_override = SupplierFactory(company=books.company, status="Archived")

    with pytest.raises(ExpenseRefused) as refused:
        _item(books, expense)

    assert {p.field for p in refused.value.problems} == {"supplier_override"}


# --- The types its expense endpoint takes ---------------------------------------------------------


def _type_problem(books, transaction_type):
    expense = _coded(books, type=transaction_type)
    ctx = company_context(company=books.company)
    problems = expense_problems(expense, ledger_lines(expense=expense), ctx)
    return next((p for p in problems if p.field == "type"), None)


@pytest.mark.parametrize("platform", [Platform.XERO, Platform.QUICKBOOKS_ONLINE])
@pytest.mark.parametrize("transaction_type", ["TransferIn", "TransferOut"])
def test_a_transfer_is_taken_where_the_transfer_endpoint_takes_the_platform(
    platform, transaction_type
):
    assert _type_problem(_newer_books(platform), transaction_type) is None


@pytest.mark.parametrize("platform", [Platform.NETSUITE, Platform.DYNAMICS_365])
@pytest.mark.parametrize("transaction_type", ["TransferIn", "TransferOut"])
def test_a_transfer_is_refused_before_any_call_where_the_transfer_endpoint_does_not_go(
    platform, transaction_type
):
    problem = _type_problem(_newer_books(platform), transaction_type)

    assert problem is not None
    assert problem.message == (
        f"Codat's Expenses API writes no transfers to {platform.label}: its transfer endpoint "
        "takes Xero and QuickBooks Online only."
    )
    assert problem.fix == (
        f"Exclude this expense and record the transfer in {platform.label} by hand."
    )


@pytest.mark.parametrize("transaction_type", ["AdjustmentIn", "AdjustmentOut"])
def test_an_adjustment_is_refused_in_the_newer_generation(transaction_type):
    assert _type_problem(make_books(Platform.XERO), transaction_type) is None  # v1 takes it

    problem = _type_problem(_newer_books(Platform.XERO), transaction_type)

    assert problem is not None
    label = TransactionType(transaction_type).label
    assert (
        problem.message == f"Xero does not accept {label} transactions from Codat's Expenses API."
    )
    assert problem.fix == "Exclude this expense and record it in the accounting software by hand."


@pytest.mark.parametrize("transaction_type", ["Payment", "Refund", "Reward", "Chargeback"])
def test_the_four_expense_types_pass(transaction_type):
    assert _type_problem(_newer_books(Platform.XERO), transaction_type) is None
