"""The payload the push sends for an expense, and the plain reading of it for the accountant."""

from decimal import Decimal

import pytest

from companies.models import CompanyConfiguration
from companies.platforms import PLATFORM_RULES, ContactKind, Platform, TransactionType
from expenses.coding import LineInput, expense_set_lines
from expenses.ledger import expense_ledger_reading, expense_to_transaction, ledger_lines
from expenses.models import Expense
from expenses.selectors import expense_lines
from expenses.services import ExpenseRefused
from expenses.validation import company_context
from tests.codat_openapi import V1_DOCUMENT, strict_validator
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
    for platform, rules in PLATFORM_RULES.items()
    for transaction_type in ALL_TYPES
    if rules.supports(transaction_type)
]


def _coded(books, *, type="Payment", amount="12.00", lines=None, **fields):
    """A ready expense of `type`, reloaded the way the push loads it."""
    account = LedgerAccountFactory(
        company=books.company,
        name="Anything",
        nominal_code="499",
        valid_transaction_types=ALL_TYPES,
    )
    expense = ExpenseFactory(company=books.company, type=type, amount=Decimal(amount), **fields)
    if lines is None:
        tax_rate = None if type in TRANSFERS else books.vat
        tax = Decimal(0) if type in TRANSFERS else Decimal("2.00")
        lines = [LineInput(Decimal(amount) - tax, tax, account, tax_rate)]
    expense_set_lines(expense=expense, lines=lines, by=None)
    return Expense.objects.select_related("company", "supplier_override").get(pk=expense.pk)


def _payload(books, expense):
    ctx = company_context(company=books.company)
    return expense_to_transaction(
        expense=expense, lines=ledger_lines(expense=expense), ctx=ctx
    ).to_api()


def _reading(books, expense):
    ctx = company_context(company=books.company)
    return expense_ledger_reading(expense=expense, lines=ledger_lines(expense=expense), ctx=ctx)


# --- The payload ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("platform", "transaction_type"), SUPPORTED, ids=lambda v: getattr(v, "label", v)
)
def test_payload_carries_a_supplier_only_where_the_platform_takes_one(platform, transaction_type):
    books = make_books(platform=platform)
    rules = PLATFORM_RULES[platform]
    takes_supplier = (
        rules.supplier_per_transaction
        and rules.contact_for(transaction_type) == ContactKind.SUPPLIER
    )
    override = SupplierFactory(company=books.company, codat_id="SUP-9") if takes_supplier else None
    expense = _coded(books, type=transaction_type, supplier_override=override)

    payload = _payload(books, expense)

    assert payload["id"] == str(expense.pk)
    assert payload["type"] == transaction_type
    assert payload["issueDate"] == "2026-11-02T00:00:00+00:00"
    assert payload["currency"] == "GBP"
    if takes_supplier:
        assert payload["contactRef"] == {"id": "SUP-9", "contactType": "Supplier"}
    else:
        assert "contactRef" not in payload


@pytest.mark.parametrize(
    ("platform", "transaction_type"),
    [
        (Platform.XERO, "Refund"),
        (Platform.XERO, "Reward"),
        (Platform.QUICKBOOKS_ONLINE, "AdjustmentOut"),
        (Platform.DYNAMICS_365, "Payment"),
    ],
)
def test_supplier_override_where_it_cannot_apply_is_refused_not_dropped(platform, transaction_type):
    books = make_books(platform=platform)
    expense = _coded(books, type=transaction_type)
    expense.supplier_override = SupplierFactory(company=books.company)

    with pytest.raises(ExpenseRefused) as refused:
        _payload(books, expense)

    assert {p.field for p in refused.value.problems} == {"supplier_override"}


def test_payload_lines_carry_account_tax_rate_and_tracking_ids(books, tracking):
    expense = _coded(
        books,
        lines=[
            LineInput(
                Decimal("10.00"), Decimal("2.00"), books.travel, books.vat, tracking=[tracking]
            )
        ],
        merchant_name="Pret A Manger",
        notes="Team lunch",
    )

    payload = _payload(books, expense)

    assert payload["merchantName"] == "Pret A Manger"
    assert payload["notes"] == "Team lunch"
    assert payload["lines"] == [
        {
            "netAmount": 10.0,
            "taxAmount": 2.0,
            "accountRef": {"id": books.travel.codat_id},
            "taxRateRef": {"id": books.vat.codat_id},
            "trackingRefs": [{"id": tracking.codat_id}],
        }
    ]


def test_empty_tracking_merchant_and_notes_are_left_out(books):
    expense = _coded(books, merchant_name="", notes="")

    payload = _payload(books, expense)

    assert "trackingRefs" not in payload["lines"][0]
    assert "merchantName" not in payload
    assert "notes" not in payload


def test_transfer_without_tax_rate_sends_no_tax_rate_ref(books):
    expense = _coded(books, type="TransferIn")

    line = _payload(books, expense)["lines"][0]

    assert "taxRateRef" not in line
    assert line["taxAmount"] == 0.0


def test_base_currency_expense_sends_no_currency_rate_even_if_one_is_stored(books):
    expense = _coded(books, currency_rate=Decimal("1.25"))

    assert "currencyRate" not in _payload(books, expense)


def test_foreign_expense_sends_its_currency_rate(db):
    books = make_books(platform=Platform.QUICKBOOKS_ONLINE)
    expense = _coded(books, currency="USD", currency_rate=Decimal("1.250000000"))

    payload = _payload(books, expense)

    assert payload["currency"] == "USD"
    assert payload["currencyRate"] == 1.25


def test_foreign_card_account_needs_a_rate_even_for_a_base_currency_expense(db):
    books = make_books(platform=Platform.XERO, card_currency="USD")
    expense = _coded(books, currency="GBP", currency_rate=Decimal("1.3"))

    assert _payload(books, expense)["currencyRate"] == 1.3


def test_foreign_expense_without_a_rate_is_refused(db):
    books = make_books(platform=Platform.QUICKBOOKS_ONLINE)
    expense = _coded(books, currency="USD")

    with pytest.raises(ExpenseRefused) as refused:
        _payload(books, expense)

    assert "currency_rate" in {p.field for p in refused.value.problems}


def test_uncoded_expense_is_refused_with_the_reasons(books):
    expense = ExpenseFactory(company=books.company)

    with pytest.raises(ExpenseRefused) as refused:
        _payload(books, expense)

    assert "lines" in {p.field for p in refused.value.problems}


def test_building_the_payload_makes_no_queries(books, tracking, django_assert_num_queries):
    expense = _coded(
        books,
        supplier_override=SupplierFactory(company=books.company),
        lines=[
            LineInput(Decimal("5.00"), Decimal("1.00"), books.travel, books.vat, [tracking]),
            LineInput(Decimal("5.00"), Decimal("1.00"), books.meals, books.vat),
        ],
    )
    lines = expense_lines(expense)
    ctx = company_context(company=books.company)

    with django_assert_num_queries(0):
        transaction = expense_to_transaction(expense=expense, lines=lines, ctx=ctx)
        transaction.to_api()
        expense_ledger_reading(expense=expense, lines=lines, ctx=ctx)

    assert len(transaction.lines) == 2


# --- Conformance to the v1 document -----------------------------------------------------------


def _strict_validator():
    return strict_validator(
        V1_DOCUMENT,
        request="CreateExpenseRequest",
        closed=("ExpenseTransaction", "ExpenseTransactionLine", "RecordRef", "ContactRef"),
    )


@pytest.mark.parametrize(
    ("platform", "transaction_type"), SUPPORTED, ids=lambda v: getattr(v, "label", v)
)
def test_every_payload_conforms_to_the_v1_schema(platform, transaction_type):
    validator = _strict_validator()
    # A foreign expense, so the rate is sent, on a card account the platform accepts it from.
    card_currency = "GBP" if platform == Platform.NETSUITE else "USD"
    books = make_books(platform=platform, card_currency=card_currency)
    rules = PLATFORM_RULES[platform]
    override = (
        SupplierFactory(company=books.company)
        if rules.supplier_per_transaction
        and rules.contact_for(transaction_type) == ContactKind.SUPPLIER
        else None
    )
    category = TrackingCategoryFactory(company=books.company)
    tax_rate = None if transaction_type in TRANSFERS else books.vat
    expense = _coded(
        books,
        type=transaction_type,
        currency="USD",
        currency_rate=Decimal("1.271234567"),
        supplier_override=override,
        notes="Quarterly offsite",
        lines=[
            LineInput(
                Decimal("10.00"),
                Decimal("2.00") if tax_rate else Decimal(0),
                LedgerAccountFactory(company=books.company, valid_transaction_types=ALL_TYPES),
                tax_rate,
                [category],
            ),
            LineInput(
                Decimal("0.00") if tax_rate else Decimal("2.00"),
                Decimal(0),
                LedgerAccountFactory(company=books.company, valid_transaction_types=ALL_TYPES),
                tax_rate,
            ),
        ],
    )

    body = {"items": [_payload(books, expense)]}

    errors = sorted(validator.iter_errors(body), key=str)
    assert errors == [], "\n".join(e.message for e in errors)


def test_schema_check_catches_a_misspelled_field(books):
    validator = _strict_validator()
    item = _payload(books, _coded(books))
    item["lines"][0]["trackingRef"] = []

    assert not validator.is_valid({"items": [item]})


# --- The reading ------------------------------------------------------------------------------


def test_xero_payment_reads_as_spend_money_to_the_override_supplier(books, tracking):
    expense = _coded(
        books,
        supplier_override=SupplierFactory(company=books.company, name="Pret"),
        lines=[LineInput(Decimal("10.00"), Decimal("2.00"), books.travel, books.vat, [tracking])],
    )

    reading = _reading(books, expense)

    assert reading == [
        "Xero will record a spend money payment of 12.00 GBP from 'Company card' to supplier "
        "'Pret' on 2 November 2026.",
        f"10.00 to {books.travel.nominal_code} Travel with 20% VAT (2.00), tracked to "
        "Departments › Sales.",
    ]


def test_xero_refund_reads_as_receive_money_from_the_default_customer(db):
    books = make_books(platform=Platform.XERO)
    CompanyConfiguration.objects.filter(company=books.company).update(
        customer=books.company.customers.create(
            codat_id="C-1", name="Card refunds", refreshed_at=books.card.refreshed_at
        )
    )
    expense = _coded(books, type="Refund")

    reading = _reading(books, expense)

    assert reading[0].startswith(
        "Xero will record a receive money payment of 12.00 GBP into 'Company card' from "
        "customer 'Card refunds'"
    )
    assert reading[1] == "10.00 credited to 499 Anything with 20% VAT (2.00)."


def test_qbo_refund_reads_against_the_default_supplier(db):
    books = make_books(platform=Platform.QUICKBOOKS_ONLINE)
    supplier_name = CompanyConfiguration.objects.get(company=books.company).supplier.name
    expense = _coded(books, type="Refund")

    headline = _reading(books, expense)[0]

    assert f"from supplier '{supplier_name}'" in headline


def test_dynamics_reading_says_no_supplier_is_recorded(db):
    books = make_books(platform=Platform.DYNAMICS_365)
    expense = _coded(books)

    headline = _reading(books, expense)[0]

    assert headline.startswith("Dynamics 365 Business Central will record a card payment")
    assert "with no supplier on the record" in headline


def test_transfer_reads_as_money_moving_between_the_card_and_the_line_account(books):
    savings = LedgerAccountFactory(
        company=books.company,
        name="Savings",
        nominal_code="090",
        valid_transaction_types=["TransferIn"],
    )
    expense = _coded(
        books,
        type="TransferIn",
        amount="50.00",
        lines=[LineInput(Decimal("50.00"), Decimal(0), savings, None)],
    )

    reading = _reading(books, expense)

    assert reading == [
        "Xero will record a transfer of 50.00 GBP into 'Company card' from the account below "
        "on 2 November 2026.",
        "50.00 from 090 Savings.",
    ]


def test_foreign_expense_reading_gives_the_base_currency_amount(db):
    books = make_books(platform=Platform.QUICKBOOKS_ONLINE)
    expense = _coded(books, currency="USD", currency_rate=Decimal("1.25"))

    reading = _reading(books, expense)

    assert "At 1 USD = 1.25 GBP, that is 15.00 GBP in the company's base currency." in reading


def test_half_coded_expense_reading_says_what_is_missing(books):
    expense = ExpenseFactory(company=books.company)

    reading = _reading(books, expense)

    assert reading[-1] == "It has no lines yet: choose an account and a tax rate."


def test_split_lines_are_numbered(books):
    expense = _coded(
        books,
        lines=[
            LineInput(Decimal("5.00"), Decimal("1.00"), books.travel, books.vat),
            LineInput(Decimal("6.00"), Decimal("0.00"), books.meals, books.no_tax),
        ],
    )

    reading = _reading(books, expense)

    assert reading[1].startswith("Line 1: 5.00 to")
    assert reading[2].startswith("Line 2: 6.00 to")
    assert reading[2].endswith("Meals with No VAT (0.00).")


def test_company_context_carries_the_names_in_one_query(books, django_assert_num_queries):
    config = CompanyConfiguration.objects.get(company=books.company)

    with django_assert_num_queries(1):
        ctx = company_context(company=books.company)

    assert ctx.bank_account_name == "Company card"
    assert ctx.default_supplier_name == config.supplier.name
    assert ctx.default_customer_name == config.customer.name


@pytest.mark.parametrize(
    ("base", "amount", "net", "tax"),
    [("JPY", "1500", 1250, 250), ("BHD", "12.345", 10.345, 2)],
)
def test_yen_and_dinar_go_out_with_their_own_decimals(db, base, amount, net, tax):
    """A JPY expense is sent in whole yen, a BHD one to the fils (three decimals)."""
    books = make_books(base=base, card_currency=base)
    account = LedgerAccountFactory(company=books.company, valid_transaction_types=ALL_TYPES)
    expense = ExpenseFactory(company=books.company, currency=base, amount=Decimal(amount))
    expense_set_lines(
        expense=expense,
        lines=[LineInput(Decimal(str(net)), Decimal(str(tax)), account, books.vat)],
        by=None,
    )
    expense = Expense.objects.select_related("company", "supplier_override").get(pk=expense.pk)

    [line] = _payload(books, expense)["lines"]

    assert (line["netAmount"], line["taxAmount"]) == (net, tax)
    assert expense.amount == Decimal(amount)
