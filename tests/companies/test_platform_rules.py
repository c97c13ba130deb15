"""`PLATFORM_RULES` is the portal's one source of platform and transaction-type facts: a change
there reaches validation, the ledger reading, receipts, corrections, the ingest API and the
expense page. The sandbox keeps its own table on purpose; the last tests show where the two
agree and name the facts where they deliberately do not."""

import dataclasses
import json
from decimal import Decimal
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from codat.types import TRANSACTION_TYPES
from companies import platforms
from companies.models import Role
from companies.platforms import (
    PLATFORM_RULES,
    TRANSFER_TYPES,
    ContactKind,
    Platform,
    TransactionType,
    currency_combination_allowed,
    rules_for,
    types_taken_in,
)
from expenses.api import OPENAPI_PATH
from expenses.coding import expense_set_coding
from expenses.ingest import expenses_ingest
from expenses.ledger import expense_ledger_reading, ledger_lines
from expenses.models import Expense, ExpenseStatus
from expenses.receipts import FILE_KINDS, receipt_add
from expenses.services import ExpenseRefused
from expenses.validation import company_context, expense_problems
from sandbox.platforms import PLATFORMS as SANDBOX_PLATFORMS
from sandbox.platforms import adjustments_supported
from syncs.corrections import correction_allowed
from tests.expenses.conftest import make_books
from tests.factories import ExpenseFactory, MembershipFactory

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


@pytest.fixture
def override(monkeypatch):
    """Change one platform's rules for the test, as a new platform fact would."""

    def change(platform: Platform, **fields: Any) -> None:
        monkeypatch.setitem(
            PLATFORM_RULES, platform, dataclasses.replace(PLATFORM_RULES[platform], **fields)
        )

    return change


def _problems(expense: Expense) -> list[str]:
    ctx = company_context(company=expense.company)
    return [p.field for p in expense_problems(expense, ledger_lines(expense=expense), ctx)]


def _page(client, expense: Expense) -> str:
    membership = MembershipFactory(company=expense.company, role=Role.APPROVER)
    client.force_login(membership.user)
    url = reverse("expense-detail", args=[expense.company_id, expense.pk])
    return str(client.get(url).content.decode())


# --- What the table itself must hold ------------------------------------------------------------


def test_the_portals_types_are_codats_wire_types_in_codats_order():
    assert [t.value for t in TransactionType] == list(TRANSACTION_TYPES)


def test_every_platform_has_rules_and_a_contact_for_each_type_it_takes():
    assert set(PLATFORM_RULES) == set(Platform)
    for rules in PLATFORM_RULES.values():
        assert set(rules.contact_for_type) == rules.supported_types
        assert rules.receipts.transaction_types <= rules.supported_types
        assert rules.updates_supported_types <= rules.supported_types


def test_every_receipt_format_in_the_rules_is_one_the_portal_recognises():
    recognised = {kind.content_type for kind in FILE_KINDS.values()}
    for rules in PLATFORM_RULES.values():
        assert set(rules.receipts.content_types) <= recognised


# --- One change, every consumer follows ---------------------------------------------------------


@pytest.mark.django_db
def test_a_type_the_platform_stops_taking_is_refused_by_validation(override):
    books = make_books(Platform.XERO)
    expense = ExpenseFactory(company=books.company, type="Reward")
    assert "type" not in _problems(expense)

    override(Platform.XERO, supported_types=frozenset({TransactionType.PAYMENT}))

    assert "type" in _problems(expense)


@pytest.mark.django_db
def test_a_type_no_platform_takes_leaves_the_ingest_api_and_its_document(client, override):
    for platform in Platform:
        rules = PLATFORM_RULES[platform]
        override(platform, supported_types=rules.supported_types - {"AdjustmentOut"})

    assert TransactionType.ADJUSTMENT_OUT not in types_taken_in()
    document = client.get(reverse("api-openapi")).json()
    enum = document["components"]["schemas"]["Expense"]["properties"]["type"]["enum"]
    assert enum == [t for t in TRANSACTION_TYPES if t != "AdjustmentOut"]
    books = make_books(Platform.XERO)
    item = {
        "external_id": "adj-1",
        "type": "AdjustmentOut",
        "issue_date": "2026-11-02",
        "currency": "GBP",
        "amount": "5.00",
    }
    [result] = expenses_ingest(company=books.company, items=[item])
    assert result.outcome == "error"
    assert [e.field for e in result.errors] == ["type"]


@pytest.mark.django_db
def test_the_served_document_is_the_written_one_with_every_type_today(client):
    served = client.get(reverse("api-openapi")).json()

    written = json.loads(OPENAPI_PATH.read_text())
    enum = served["components"]["schemas"]["Expense"]["properties"]["type"].pop("enum")
    assert enum == list(TRANSACTION_TYPES)
    assert served == written


@pytest.mark.django_db
def test_the_tax_rate_rule_reaches_validation_the_reading_and_the_page(client, override):
    books = make_books(Platform.XERO)
    expense = ExpenseFactory(company=books.company, type="Payment", amount=Decimal("12.00"))
    expense_set_coding(expense=expense, by=None, account=books.travel, tax_rate=None)
    assert "lines[0].tax_rate" in _problems(expense)
    assert '<option value="">No tax rate</option>' not in _page(client, expense)

    override(Platform.XERO, types_without_tax_rate=frozenset({TransactionType.PAYMENT}))

    assert "lines[0].tax_rate" not in _problems(expense)
    reading = expense_ledger_reading(
        expense=expense,
        lines=ledger_lines(expense=expense),
        ctx=company_context(company=books.company),
    )
    assert not any("no tax rate chosen yet" in sentence for sentence in reading)
    assert '<option value="">No tax rate</option>' in _page(client, expense)


@pytest.mark.django_db
def test_the_record_names_reach_the_reading(override):
    books = make_books(Platform.XERO)
    expense = ExpenseFactory(company=books.company, type="Payment")
    override(Platform.XERO, money_out_record="a bank payment")

    reading = expense_ledger_reading(
        expense=expense, lines=[], ctx=company_context(company=books.company)
    )

    assert reading[0].startswith("Xero will record a bank payment of")


@pytest.mark.django_db
def test_the_receipt_rules_reach_the_upload_and_the_page(client, override):
    books = make_books(Platform.XERO)
    expense = ExpenseFactory(company=books.company, type="Payment")
    page = _page(client, expense)
    assert "data-receipts-refused" not in page
    assert "Xero takes PDF, PNG, JPEG, GIF, TIFF or BMP receipts up to 10.0\xa0MB." in page

    override(
        Platform.XERO,
        receipts=dataclasses.replace(
            PLATFORM_RULES[Platform.XERO].receipts,
            max_bytes=5 * 1024 * 1024,
            content_types=("application/pdf", "image/webp"),
        ),
    )
    page = _page(client, expense)
    assert "Xero takes PDF or WebP receipts up to 5.0\xa0MB." in page
    assert 'accept=".pdf,.webp"' in page
    with pytest.raises(ExpenseRefused) as refused:
        receipt_add(expense=expense, upload=SimpleUploadedFile("r.png", PNG), by=None)
    assert "Upload the receipt as a PDF or WebP file." in str(refused.value.problems[0])

    override(
        Platform.XERO,
        receipts=dataclasses.replace(
            PLATFORM_RULES[Platform.XERO].receipts, transaction_types=frozenset()
        ),
    )
    page = _page(client, expense)
    assert "Xero does not take receipts on Payment transactions." in page
    assert "Xero takes no receipts from Sync for Expenses." in page


@pytest.mark.django_db
def test_update_support_reaches_corrections(override):
    books = make_books(Platform.QUICKBOOKS_ONLINE)
    expense = ExpenseFactory(company=books.company, type="Payment", status=ExpenseStatus.SYNCED)
    refusal = correction_allowed(expense=expense)
    assert refusal is not None
    assert "v1 updates only Xero payments" in refusal.message

    override(Platform.QUICKBOOKS_ONLINE, updates_supported_types=frozenset({"Payment"}))

    assert correction_allowed(expense=expense) is None
    refund = ExpenseFactory(company=books.company, type="Refund", status=ExpenseStatus.SYNCED)
    refusal = correction_allowed(expense=refund)
    assert refusal is not None
    assert "v1 updates only Xero payments and QuickBooks Online payments" in refusal.message


@pytest.mark.django_db
def test_the_contact_rule_reaches_validation_and_the_page(client, override):
    books = make_books(Platform.XERO)
    expense = ExpenseFactory(company=books.company, type="Payment")
    assert 'id="id_supplier_override"' in _page(client, expense)

    contacts = dict(PLATFORM_RULES[Platform.XERO].contact_for_type)
    contacts[TransactionType.PAYMENT] = ContactKind.CUSTOMER
    override(Platform.XERO, contact_for_type=contacts)

    assert "records payment transactions" in _page(client, expense)
    assert 'id="id_supplier_override"' not in _page(client, expense)


def test_the_currency_rules_are_data(override):
    assert not currency_combination_allowed("akxx", base="USD", bank="EUR", transaction="EUR")

    override(Platform.NETSUITE, foreign_card_in_own_currency=True)

    assert currency_combination_allowed("akxx", base="USD", bank="EUR", transaction="EUR")


# --- The portal's table against the sandbox's own ----------------------------------------------

_CURRENCIES = ("GBP", "USD", "EUR")

# Facts on which the two tables deliberately differ, and why. A new disagreement fails below
# until it is understood and written here.
KNOWN_DIFFERENCES = {
    # Dynamics takes no supplier per transaction: the portal records "no contact" on the
    # expense; the sandbox books it against the configured default supplier.
    ("trji", "contact"),
    # Dynamics has no built-in no-tax code (the company creates a 0% rate); the sandbox seeds
    # one called ZERO.
    ("trji", "no_tax_code"),
    # The portal names Dynamics' records in plain words ("a card payment"); the sandbox uses
    # Business Central's document names ("Purchase invoice").
    ("trji", "record_names"),
}


def _sandbox_contact(key: str, transaction_type: str) -> ContactKind:
    kind = SANDBOX_PLATFORMS[key].contact_kind(transaction_type, account_is_bank=False)
    return ContactKind.CUSTOMER if kind == "Customer" else ContactKind.SUPPLIER


def _disagreements(platform: Platform) -> set[str]:
    portal, sandbox = rules_for(platform), SANDBOX_PLATFORMS[platform.value]
    facts = set()
    if portal.supported_types != sandbox.supported_types:
        facts.add("supported_types")
    if any(
        portal.contact_for(t) != _sandbox_contact(platform.value, t) for t in portal.supported_types
    ):
        facts.add("contact")
    if portal.no_tax_code != sandbox.no_tax_code:
        facts.add("no_tax_code")
    if portal.supplier_per_transaction != sandbox.supplier_per_transaction:
        facts.add("supplier_per_transaction")
    if portal.receipts.max_bytes != sandbox.attachment_max_bytes:
        facts.add("receipt_max_bytes")
    # The sandbox's list also names reimbursable bills (the newer generation's).
    if portal.receipts.transaction_types != sandbox.attachment_types & set(TransactionType):
        facts.add("receipt_types")
    # The portal takes only receipt formats: each must have a name the sandbox takes.
    by_type = {kind.content_type: kind for kind in FILE_KINDS.values()}
    if sandbox.attachment_extensions is not None and any(
        not by_type[content_type].extensions & sandbox.attachment_extensions
        for content_type in portal.receipts.content_types
    ):
        facts.add("receipt_formats")
    for base in _CURRENCIES:
        for bank in _CURRENCIES:
            for txn in _CURRENCIES:
                allowed = currency_combination_allowed(
                    platform, base=base, bank=bank, transaction=txn
                )
                if allowed != (sandbox.currency_problem(base=base, bank=bank, txn=txn) is None):
                    facts.add("currency")
                booked = portal.booked_currency(bank=bank, transaction=txn)
                if booked != sandbox.booked_currency(bank=bank, txn=txn):
                    facts.add("booked_currency")
    for transaction_type in ("Payment", "Refund"):
        record = portal.money_in_record if transaction_type == "Refund" else portal.money_out_record
        if sandbox.record_label(transaction_type).lower() not in record:
            facts.add("record_names")
    return facts


@pytest.mark.parametrize("platform", list(Platform))
def test_the_portal_and_the_sandbox_agree_but_where_they_say_they_differ(platform):
    known = {fact for key, fact in KNOWN_DIFFERENCES if key == platform.value}

    assert _disagreements(platform) == known


# --- The newer generation -----------------------------------------------------------------------


@pytest.mark.parametrize("platform", list(Platform))
def test_the_newer_generation_agrees_with_the_sandbox_on_types_updates_and_transfers(platform):
    portal, sandbox = rules_for(platform, "expenses"), SANDBOX_PLATFORMS[platform.value].newer

    transfers = TRANSFER_TYPES if sandbox.transfer_create else set()
    assert portal.api == "expenses"
    assert portal.supported_types == sandbox.expense_types | transfers
    assert portal.transfer_types == transfers
    assert portal.updates_supported_types == (
        ({"Payment"} if sandbox.updates else set())
        | (TRANSFER_TYPES if sandbox.transfer_update else set())
    )
    # Adjustments: refused by both, by the one reading each chose (`ADJUSTMENT_PLATFORMS`).
    assert portal.types_elsewhere == set()
    assert not adjustments_supported(SANDBOX_PLATFORMS[platform.value])
    assert {portal.endpoint_for(t) for t in transfers} <= {"transfer-transactions"}


def test_a_v1_fact_the_newer_generation_shares_is_written_once(override):
    override(Platform.DYNAMICS_365, supported_types=frozenset({TransactionType.PAYMENT}))

    assert rules_for(Platform.DYNAMICS_365, "expenses").supported_types == {"Payment"}


@pytest.mark.django_db
def test_corrections_name_what_the_companys_generation_updates():
    books = make_books(Platform.DYNAMICS_365)
    books.company.expenses_api = "expenses"
    books.company.save(update_fields=["expenses_api"])
    expense = ExpenseFactory(company=books.company, type="Payment", status=ExpenseStatus.SYNCED)

    refusal = correction_allowed(expense=expense)

    assert refusal is not None
    assert (
        "Codat's Expenses API updates only Xero payments, QuickBooks Online payments and "
        "transfers, and Oracle NetSuite payments" in refusal.message
    )


def test_adjustments_are_one_entry_to_flip(monkeypatch):
    """The safer reading (none of ours takes adjustments) is `ADJUSTMENT_PLATFORMS`: a platform
    added there has them refused as taken through an endpoint the portal does not send to,
    still before any call."""
    xero = rules_for(Platform.XERO, "expenses")
    assert not xero.supports("AdjustmentIn")
    assert (
        "does not accept Adjustment in transactions"
        in xero.type_refusal("AdjustmentIn", platform_label="Xero")[0]
    )

    monkeypatch.setattr(platforms, "ADJUSTMENT_PLATFORMS", frozenset({Platform.XERO}))

    flipped = rules_for(Platform.XERO, "expenses")
    assert flipped.types_elsewhere == {"AdjustmentIn", "AdjustmentOut"}
    assert not flipped.supports("AdjustmentIn")
    assert flipped.type_refusal("AdjustmentIn", platform_label="Xero")[0] == (
        "Codat's Expenses API takes Xero Adjustment in transactions through an endpoint of "
        "their own, which the portal does not send to."
    )
    assert rules_for(Platform.QUICKBOOKS_ONLINE, "expenses").types_elsewhere == set()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("platform", "allowed"), [(Platform.QUICKBOOKS_ONLINE, True), (Platform.XERO, False)]
)
def test_a_synced_transfer_is_corrected_where_the_platform_updates_transfers(platform, allowed):
    books = make_books(platform)
    books.company.expenses_api = "expenses"
    books.company.save(update_fields=["expenses_api"])
    transfer = ExpenseFactory(
        company=books.company, type="TransferOut", status=ExpenseStatus.SYNCED
    )

    refusal = correction_allowed(expense=transfer)

    if allowed:
        assert refusal is None
    else:
        assert refusal is not None
        assert refusal.message == (
            "Xero takes transfers from Codat's Expenses API as new records only: a transfer "
            "once written cannot be changed through Codat."
        )
        assert refusal.fix == "Correct it in Xero directly, or ask the customer's accountant to."
