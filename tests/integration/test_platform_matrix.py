"""500 expenses across all 8 types and all 4 platforms, including the types each platform
refuses: every expense ends as the platform's rules say, and the receipts of the synced ones
are in the sandbox ledger."""

import struct
import zlib
from datetime import date
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from companies.models import LedgerAccount, TaxRate
from companies.platforms import TRANSFER_TYPES, Platform, TransactionType, rules_for
from expenses.coding import expense_set_coding
from expenses.ingest import expenses_ingest
from expenses.models import Expense, ExpenseStatus
from expenses.receipts import receipt_add
from expenses.services import ExpenseRefused, expense_approve, expense_readiness
from syncs.tasks import push_company
from tests.factories import UserFactory
from tests.integration.sandbox_company import onboard
from tests.integration.test_push_pipeline import _ledger

pytestmark = pytest.mark.django_db(transaction=True)

PER_PLATFORM = 125


def _png() -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\x00\xcc\x22\x22"))
        + chunk(b"IEND", b"")
    )


@pytest.fixture
def sandbox(live_server, settings):
    from sandbox.models import SandboxSettings

    settings.CODAT_BASE_URL = live_server.url + "/codat-sandbox"
    SandboxSettings.objects.update_or_create(
        pk=1, defaults={"sync_delay_ms": 0, "webhook_url": "http://127.0.0.1:9/webhooks/codat/"}
    )


@pytest.mark.parametrize("platform", [p.value for p in Platform])
def test_every_type_ends_as_the_platform_rules_say(sandbox, platform):
    books = onboard(platform)
    company = books.company
    rules = rules_for(platform)
    approver = UserFactory()
    types = list(TransactionType)
    items = [
        {
            "external_id": f"matrix-{i}",
            "type": types[i % len(types)].value,
            "issue_date": date(2026, 11, 2).isoformat(),
            "currency": company.base_currency,
            "amount": str(Decimal(100 + i) / 4),
            "merchant_name": f"Merchant {i}",
        }
        for i in range(PER_PLATFORM)
    ]
    expenses_ingest(company=company, items=items)
    accounts = list(LedgerAccount.objects.usable().filter(company=company).order_by("codat_id"))
    rates = list(TaxRate.objects.usable().filter(company=company).order_by("codat_id"))
    config = company.configuration
    with_receipt = set()
    for n, expense in enumerate(Expense.objects.filter(company=company).order_by("external_id")):
        account = next(
            (a for a in accounts if a.accepts(expense.type) and a.pk != config.bank_account_id),
            None,
        )
        rate = (
            None
            if expense.type in TRANSFER_TYPES
            else next((t for t in rates if expense.type in (t.valid_transaction_types or [])), None)
        )
        if account is None:
            continue  # nothing in this chart accepts the type
        expense_set_coding(expense=expense, by=approver, account=account, tax_rate=rate)
        try:
            expense_approve(expense=expense, by=approver)
        except ExpenseRefused:
            continue
        if n % 5 == 0:
            try:
                receipt_add(
                    expense=expense,
                    upload=SimpleUploadedFile(f"r{n}.png", _png(), content_type="image/png"),
                    by=approver,
                )
                with_receipt.add(str(expense.pk))
            except ExpenseRefused:
                pass  # the platform takes no attachment on this type: the page said so

    push_company.delay(company.pk)

    final = list(Expense.objects.filter(company=company))
    assert len(final) == PER_PLATFORM
    for expense in final:
        if rules.supports(expense.type):
            assert expense.status == ExpenseStatus.SYNCED, (expense.type, expense.failure_message)
        else:
            assert expense.status == ExpenseStatus.UNCATEGORIZED
            assert any("does not accept" in p.message for p in expense_readiness(expense))
    ledger = {r["transactionId"]: r for r in _ledger(books)}
    synced = {str(e.pk) for e in final if e.status == ExpenseStatus.SYNCED}
    assert set(ledger) == synced
    missing = {
        (ledger[i]["type"], ledger[i]["attachments"])
        for i in with_receipt
        if ledger[i]["attachments"] != 1
    }
    assert not missing, missing
    assert with_receipt
