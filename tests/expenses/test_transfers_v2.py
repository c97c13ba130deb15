"""Transfers in Codat's newer Expenses API: on Xero and QuickBooks Online a TransferIn or
TransferOut is ready once coded to the other account (one line, no tax), and goes out as a
create-transfer-transaction body naming the card's account and that account, each with its
amount in its own currency; and accounts are checked against the mapping options' `validFor`
in the newer generation, v1 unchanged."""

from decimal import Decimal

import pytest

from codat import TransferTransaction
from companies.models import Company
from companies.platforms import ApiGeneration, Platform
from expenses.coding import LineInput, expense_set_lines
from expenses.ledger import expense_item, expense_to_transfer, expense_to_update, ledger_lines
from expenses.models import Expense
from expenses.rules import rule_account_type_error
from expenses.selectors import coding_choices
from expenses.validation import company_context, expense_problems
from tests.codat_openapi import EXPENSES_DOCUMENT, strict_validator
from tests.expenses.conftest import make_books
from tests.factories import ExpenseFactory, LedgerAccountFactory

pytestmark = pytest.mark.django_db

TRANSFERS_ONLY = ["transfer-transactions"]


def _newer_books(platform=Platform.XERO, **options):
    books = make_books(platform=platform, **options)
    Company.objects.filter(pk=books.company.pk).update(expenses_api=ApiGeneration.EXPENSES)
    books.company.expenses_api = ApiGeneration.EXPENSES
    books.card.valid_for = TRANSFERS_ONLY
    books.card.save(update_fields=["valid_for"])
    return books


def _savings(books, **fields):
    values = {
        "name": "Business Savings",
        "account_type": "Asset",
        "is_bank_account": True,
        "currency": books.company.base_currency,
        "valid_transaction_types": [],
        "valid_for": TRANSFERS_ONLY,
        **fields,
    }
    return LedgerAccountFactory(company=books.company, **values)


def _returns(books, also=()):
    """An account v1 takes Payments and Refunds on, and the newer options list for Refunds."""
    return LedgerAccountFactory(
        company=books.company,
        name="Returns",
        valid_transaction_types=["Payment", "Refund"],
        valid_for=["expense-transactions.Refund", *also],
    )


def _transfer(books, account, *, type="TransferOut", amount="250.00", lines=None, **fields):
    expense = ExpenseFactory(company=books.company, type=type, amount=Decimal(amount), **fields)
    if lines is None:
        lines = [LineInput(Decimal(amount), Decimal(0), account, None)]
    expense_set_lines(expense=expense, lines=lines, by=None)
    return Expense.objects.select_related("company", "supplier_override").get(pk=expense.pk)


def _problems(books, expense):
    ctx = company_context(company=books.company)
    return expense_problems(expense, ledger_lines(expense=expense), ctx)


def _transfer_body(books, expense) -> TransferTransaction:
    ctx = company_context(company=books.company)
    return expense_to_transfer(expense=expense, lines=ledger_lines(expense=expense), ctx=ctx)


@pytest.mark.parametrize("platform", [Platform.XERO, Platform.QUICKBOOKS_ONLINE])
@pytest.mark.parametrize(
    ("kind", "source", "target"),
    [("TransferIn", "savings", "card"), ("TransferOut", "card", "savings")],
)
def test_a_transfer_names_the_card_and_the_other_account_in_its_direction(
    platform, kind, source, target
):
    books = _newer_books(platform)
    savings = _savings(books)
    expense = _transfer(books, savings, type=kind, merchant_name="Top-up", notes="Monthly")
    codat_ids = {"card": books.card.codat_id, "savings": savings.codat_id}

    assert _problems(books, expense) == []
    body = _transfer_body(books, expense)

    assert body.id == str(expense.pk)
    assert (body.from_account_id, body.to_account_id) == (codat_ids[source], codat_ids[target])
    assert body.from_amount == body.to_amount == Decimal("250.00")
    assert body.description == "Top-up — Monthly"


def test_the_planned_item_is_the_transfer_body_with_its_id_and_conforms_to_the_document():
    books = _newer_books()
    expense = _transfer(books, _savings(books))
    ctx = company_context(company=books.company)

    item = expense_item(expense=expense, lines=ledger_lines(expense=expense), ctx=ctx)

    assert item == {"id": str(expense.pk), **_transfer_body(books, expense).to_api()}
    validator = strict_validator(
        EXPENSES_DOCUMENT,
        request="TransferTransactionRequest",
        closed=("TransferTransactionRequest",),
    )
    body = {key: value for key, value in item.items() if key != "id"}
    errors = sorted(validator.iter_errors(body), key=str)
    assert errors == [], "\n".join(e.message for e in errors)


def test_a_correction_of_a_transfer_is_the_transfer_put_again():
    books = _newer_books(Platform.QUICKBOOKS_ONLINE)
    expense = _transfer(books, _savings(books))
    ctx = company_context(company=books.company)

    update = expense_to_update(expense=expense, lines=ledger_lines(expense=expense), ctx=ctx)

    assert update == _transfer_body(books, expense)


def test_each_side_is_in_its_own_accounts_currency_by_the_expenses_rate():
    books = _newer_books(base="GBP")
    dollars = _savings(books, name="Dollar account", currency="USD")
    # 200 USD at 0.79 GBP a dollar, paid off the GBP card into the dollar account.
    expense = _transfer(
        books, dollars, amount="200.00", currency="USD", currency_rate=Decimal("0.79")
    )

    assert _problems(books, expense) == []
    body = _transfer_body(books, expense)

    assert (body.from_account_id, body.from_amount) == (books.card.codat_id, Decimal("158.00"))
    assert (body.to_account_id, body.to_amount) == (dollars.codat_id, Decimal("200.00"))


def test_a_side_whose_amount_the_rate_cannot_tell_is_refused_naming_the_account():
    books = _newer_books(base="GBP")
    euros = _savings(books, name="Euro account", currency="EUR")
    expense = _transfer(books, euros, currency="GBP")

    [problem] = _problems(books, expense)

    assert problem.field == "lines[0].account"
    assert "cannot be put in EUR for account 'Euro account'" in problem.message
    assert problem.fix.startswith("Choose an account in GBP")


def test_a_transfer_has_one_line_and_no_tax():
    books = _newer_books()
    savings, current = _savings(books), _savings(books, name="Current")
    expense = _transfer(
        books,
        savings,
        lines=[
            LineInput(Decimal("100.00"), Decimal(0), savings, None),
            LineInput(Decimal("125.00"), Decimal("25.00"), current, books.vat),
        ],
    )

    problems = {p.field: p for p in _problems(books, expense)}

    assert problems.keys() == {"lines", "lines[1].tax_rate"}
    assert problems["lines"].fix == "Keep one line, with the other account of the transfer."
    assert problems["lines[1].tax_rate"].message == (
        "A transfer carries no tax, and line 2 has a tax rate or amount."
    )


def test_a_card_account_not_valid_for_transfers_is_a_configuration_problem():
    books = _newer_books()
    books.card.valid_for = ["expense-transactions.Payment"]
    books.card.save(update_fields=["valid_for"])
    expense = _transfer(books, _savings(books))

    [problem] = _problems(books, expense)

    assert problem.field == "configuration"
    assert problem.message == (
        "The card's account 'Company card' is not valid for transfers in Codat's Expenses API."
    )


@pytest.mark.parametrize("platform", [Platform.NETSUITE, Platform.DYNAMICS_365])
def test_where_the_transfer_endpoint_does_not_go_nothing_is_built(platform):
    books = _newer_books(platform)
    expense = _transfer(books, _savings(books))

    problems = _problems(books, expense)

    assert [p.field for p in problems][:1] == ["type"]
    assert "writes no transfers to" in problems[0].message


# --- validFor --------------------------------------------------------------------------------


def test_an_account_the_options_do_not_list_for_the_type_is_refused_naming_both_and_the_fix():
    books = _newer_books()
    refunds_only = _returns(books, also=["reimbursable-expense-transactions"])
    expense = ExpenseFactory(company=books.company, type="Payment", amount=Decimal("12.00"))
    expense_set_lines(
        expense=expense,
        lines=[LineInput(Decimal("10.00"), Decimal("2.00"), refunds_only, books.vat)],
        by=None,
    )

    [problem] = _problems(books, expense)

    assert problem.field == "lines[0].account"
    assert problem.message == (
        "Account 'Returns' is not valid for Payment transactions in Codat's Expenses API (its "
        "mapping options list it for Refund expenses and reimbursable expenses)."
    )
    assert problem.fix == "Choose an active account that accepts Payment transactions."
    # v1 reads the account's transaction types, as before.
    Company.objects.filter(pk=books.company.pk).update(expenses_api=ApiGeneration.V1)
    books.company.expenses_api = ApiGeneration.V1
    assert _problems(books, expense) == []


def test_a_transfer_to_an_account_not_valid_for_transfers_is_refused_with_the_fix():
    books = _newer_books()
    prepayments = LedgerAccountFactory(
        company=books.company,
        name="Prepayments",
        account_type="Asset",
        valid_transaction_types=["Payment"],
        valid_for=["expense-transactions.Payment"],
    )
    expense = _transfer(books, prepayments, type="TransferIn")

    [problem] = _problems(books, expense)

    assert problem.message.startswith(
        "Account 'Prepayments' is not valid for Transfer in transactions in Codat's Expenses API"
    )
    assert problem.fix == "Choose a bank or card account valid for transfers."


def test_an_account_whose_options_came_without_valid_for_is_read_by_its_types():
    books = _newer_books()
    travel = books.travel  # valid_for unknown (the options were read in v1's shape)
    assert travel.valid_for is None

    assert travel.accepts("Payment", ApiGeneration.EXPENSES)
    assert not travel.accepts("Reward", ApiGeneration.EXPENSES)


def test_the_coding_selects_offer_only_the_accounts_valid_for_the_type():
    books = _newer_books()
    savings = _savings(books)
    refunds_only = _returns(books)

    choices = coding_choices(company=books.company)

    assert refunds_only not in choices.accounts_by_type["Payment"]
    assert refunds_only in choices.accounts_by_type["Refund"]
    assert savings in choices.accounts_by_type["TransferOut"]
    assert books.travel in choices.accounts_by_type["Payment"]  # read by its types
    # The card's own account is never offered on a transfer.
    assert books.card not in choices.account_options("TransferOut", books.card.pk)

    Company.objects.filter(pk=books.company.pk).update(expenses_api=ApiGeneration.V1)
    v1 = Company.objects.get(pk=books.company.pk)
    assert refunds_only in coding_choices(company=v1).accounts_by_type["Payment"]
    assert savings not in coding_choices(company=v1).accounts_by_type["TransferOut"]


def test_a_merchant_rule_takes_an_account_by_the_companys_generation():
    books = _newer_books()
    refunds_only = _returns(books)

    assert rule_account_type_error(refunds_only, "Payment", ApiGeneration.EXPENSES)
    assert rule_account_type_error(refunds_only, "Payment", ApiGeneration.V1) == ""
