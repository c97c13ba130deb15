"""Fix and retry: failed items go out again in a new dataset with the same id, and a synced
Xero payment is corrected through the update endpoint — refused in plain words elsewhere; a
company on the newer Expenses API corrects through its update endpoint."""

from decimal import Decimal

import pytest
from django.urls import reverse

from companies.models import Role
from companies.platforms import Platform
from expenses.models import ExpenseStatus
from gateway.models import CodatExchange
from syncs.models import Sync, SyncKind, SyncState
from syncs.retry import sync_retry_failed
from syncs.tasks import push_company
from tests.factories import MembershipFactory, UserFactory
from tests.integration.sandbox_company import control, onboard
from tests.integration.test_push_pipeline import _approved, _ledger

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def sandbox(live_server, settings):
    from sandbox.models import SandboxSettings

    settings.CODAT_BASE_URL = live_server.url + "/codat-sandbox"
    SandboxSettings.objects.update_or_create(
        pk=1, defaults={"sync_delay_ms": 0, "webhook_url": "http://127.0.0.1:9/webhooks/codat/"}
    )


def _correction_form(expense, account, **extra):
    line = expense.lines.get()
    return {
        "lines-TOTAL_FORMS": "1",
        "lines-INITIAL_FORMS": "0",
        "lines-0-account": account.pk,
        "lines-0-tax_rate": line.tax_rate_id or "",
        "lines-0-net_amount": str(line.net_amount),
        "lines-0-tax_amount": str(line.tax_amount),
        **extra,
    }


def _another_payment_account(books, expense):
    return next(
        a
        for a in books.accounts.values()
        if "Payment" in a.valid_transaction_types
        and a.pk != expense.lines.get().account_id
        and a.is_usable
    )


def _correction_page(client, books, expense) -> str:
    """The expense's correction page, for an approver logged in on `client`."""
    client.force_login(MembershipFactory(company=books.company, role=Role.APPROVER).user)
    return reverse("expense-correct", args=[books.company.pk, expense.pk])


def test_retry_failed_items_sends_them_again_once_the_cause_is_fixed(sandbox):
    books = onboard(Platform.XERO)
    [expense] = _approved(books, 1)
    company_id = books.company.codat_company_id
    control(
        "POST",
        f"companies/{company_id}/records/company/{company_id}",
        {"ledgerLockDate": "2026-12-31T00:00:00"},
    )
    push_company.delay(books.company.pk)
    expense.refresh_from_db()
    assert expense.status == ExpenseStatus.FAILED
    assert "period is locked" in expense.failure_message

    # The accountant reopens the period; support retries the sync's failed items.
    control(
        "POST",
        f"companies/{company_id}/records/company/{company_id}",
        {"ledgerLockDate": "2020-12-31T00:00:00"},
    )
    first_sync = Sync.objects.get(company=books.company)
    sent, still = sync_retry_failed(sync=first_sync, by=UserFactory())

    assert (sent, still) == (1, 0)
    expense.refresh_from_db()
    assert expense.status == ExpenseStatus.SYNCED
    assert [r["transactionId"] for r in _ledger(books)] == [str(expense.pk)]
    assert Sync.objects.filter(company=books.company).count() == 2


def test_retry_never_resends_a_synced_expense(sandbox):
    books = onboard(Platform.XERO)
    _approved(books, 2)
    push_company.delay(books.company.pk)

    sent, still = sync_retry_failed(sync=Sync.objects.get(), by=None)

    assert (sent, still) == (0, 0)
    assert len(_ledger(books)) == 2


def test_correct_a_synced_xero_payment_after_seeing_the_difference(client, sandbox):
    books = onboard(Platform.XERO)
    [expense] = _approved(books, 1)
    push_company.delay(books.company.pk)
    other = _another_payment_account(books, expense)
    url = _correction_page(client, books, expense)

    preview = client.post(url, _correction_form(expense, other))

    body = preview.content.decode()
    assert "Line 1 accountRef" in body
    assert other.codat_id in body
    assert Sync.objects.filter(kind=SyncKind.UPDATE).count() == 0  # nothing sent yet

    client.post(url, _correction_form(expense, other, confirm="yes"))

    expense.refresh_from_db()
    assert expense.status == ExpenseStatus.SYNCED
    update = Sync.objects.get(kind=SyncKind.UPDATE)
    assert update.state == SyncState.SUCCEEDED
    [record] = _ledger(books)
    assert record["lines"][0]["accountId"] == other.codat_id
    assert record["version"] == 2
    assert expense.lines.get().account == other


@pytest.mark.parametrize(
    ("platform", "type", "words"),
    [
        (Platform.QUICKBOOKS_ONLINE, "Payment", "v1 updates only Xero payments"),
        (Platform.XERO, "Refund", "v1 updates only Xero payments"),
    ],
)
def test_correction_is_refused_where_v1_cannot_update(client, sandbox, platform, type, words):
    books = onboard(platform)
    [expense] = _approved(books, 1, type=type)
    push_company.delay(books.company.pk)
    expense.refresh_from_db()
    assert expense.status == ExpenseStatus.SYNCED
    client.force_login(MembershipFactory(company=books.company, role=Role.APPROVER).user)

    page = client.get(
        reverse("expense-detail", args=[books.company.pk, expense.pk])
    ).content.decode()
    response = client.post(
        reverse("expense-correct", args=[books.company.pk, expense.pk]),
        _correction_form(expense, expense.lines.get().account),
        follow=True,
    )

    assert words in page
    assert words in response.content.decode()
    assert not CodatExchange.objects.filter(method="PUT").exists()


def test_a_correction_codat_refuses_is_undone(client, sandbox):
    books = onboard(Platform.XERO)
    [expense] = _approved(books, 1)
    original_account = expense.lines.get().account
    # Marked synced here but never sent: Codat does not know it and refuses the update.
    type(expense).objects.filter(pk=expense.pk).update(status=ExpenseStatus.SYNCED)
    expense.refresh_from_db()
    other = next(
        a
        for a in books.accounts.values()
        if "Payment" in a.valid_transaction_types and a != original_account and a.is_usable
    )
    client.force_login(MembershipFactory(company=books.company, role=Role.APPROVER).user)

    client.post(
        reverse("expense-correct", args=[books.company.pk, expense.pk]),
        _correction_form(expense, other, confirm="yes"),
    )

    expense.refresh_from_db()
    assert expense.status == ExpenseStatus.SYNCED
    assert expense.lines.get().account == original_account
    update = Sync.objects.get(kind=SyncKind.UPDATE)
    assert update.state == SyncState.FAILED
    assert "Codat refused the correction" in update.error_message
    assert Decimal(expense.amount) > 0


def test_a_synced_quickbooks_payment_is_corrected_through_the_newer_update_endpoint(
    client, sandbox, settings
):
    # v1 updates only Xero payments; the newer generation also QuickBooks Online's.
    settings.CODAT_EXPENSES_API_DEFAULT = "expenses"  # the portal's company and the sandbox's
    books = onboard(Platform.QUICKBOOKS_ONLINE)
    [expense] = _approved(books, 1)
    push_company.delay(books.company.pk)
    other = _another_payment_account(books, expense)
    url = _correction_page(client, books, expense)

    client.post(url, _correction_form(expense, other, confirm="yes"))

    expense.refresh_from_db()
    assert expense.status == ExpenseStatus.SYNCED, expense.failure_message
    update = Sync.objects.get(kind=SyncKind.UPDATE)
    assert (update.expenses_api, update.state) == ("expenses", SyncState.SUCCEEDED)
    [record] = _ledger(books)
    assert record["lines"][0]["accountId"] == other.codat_id
    assert (record["version"], record["api"]) == (2, "expenses")
