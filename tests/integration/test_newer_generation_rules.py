"""The newer generation end to end against the sandbox over HTTP, for what its rules decide:
transfers through the transfer endpoint on Xero and QuickBooks Online (each in the ledger once,
a lost answer adopted, never sent again), refused before any call elsewhere; Codat's duplicate
protection on an expense a sync we never recorded wrote, imported as synced; and 500 expenses
of every kind on the four platforms, each ending as the rules say."""

from __future__ import annotations

import uuid
from collections import Counter
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest

from companies.models import LedgerAccount, TaxRate
from companies.platforms import ApiGeneration, Platform, TransactionType, rules_for
from expenses.coding import LineInput, expense_set_lines
from expenses.ingest import expenses_ingest
from expenses.ledger import expense_item, ledger_lines
from expenses.models import Expense, ExpenseStatus
from expenses.services import ExpenseRefused, expense_approve, expense_readiness
from expenses.validation import company_context
from gateway.exchanges import codat_client
from gateway.models import CodatExchange
from syncs.models import PushBatch, Sync, SyncState
from syncs.tasks import push_company
from tests.factories import ExpenseFactory, UserFactory
from tests.integration.sandbox_company import SandboxBooks
from tests.integration.test_push_newer_generation import FaultOnSend, _onboard
from tests.integration.test_push_pipeline import _approved, _ledger

pytestmark = pytest.mark.django_db(transaction=True)

TRANSFER_PATH = "/sync/expenses/transfer-transactions/"


@pytest.fixture
def faults_on_send(monkeypatch) -> type[FaultOnSend]:
    from gateway.apis import GENERATIONS

    FaultOnSend.faults = []
    monkeypatch.setitem(GENERATIONS, ApiGeneration.EXPENSES, FaultOnSend)
    return FaultOnSend


def _newer(settings, platform: str, name: str = "Harbour Coffee Ltd") -> SandboxBooks:
    return _onboard(settings, platform, ApiGeneration.EXPENSES, name=name)


def _other_bank_account(books: SandboxBooks) -> LedgerAccount:
    """A bank account of the company's, in its base currency, that is not the card's."""
    card = books.company.configuration.bank_account_id
    return next(
        a
        for a in sorted(books.accounts.values(), key=lambda a: a.codat_id)
        if a.is_bank_account
        and a.is_usable
        and a.pk != card
        and a.currency == books.company.base_currency
        and a.accepts("TransferOut", ApiGeneration.EXPENSES)
    )


def _approved_transfer(books: SandboxBooks, kind: str, amount: str = "250.00") -> Expense:
    expense = ExpenseFactory(
        company=books.company,
        type=kind,
        amount=Decimal(amount),
        currency=books.company.base_currency,
        issue_date=date(2026, 11, 2),
        merchant_name="Card top-up" if kind == "TransferIn" else "Sweep to savings",
    )
    expense_set_lines(
        expense=expense,
        lines=[LineInput(Decimal(amount), Decimal(0), _other_bank_account(books), None)],
        by=None,
    )
    expense_approve(expense=expense, by=UserFactory())
    return expense


def _puts(books: SandboxBooks) -> list[CodatExchange]:
    return list(
        CodatExchange.objects.filter(
            company=books.company, method="PUT", path__contains=TRANSFER_PATH
        ).order_by("pk")
    )


def _statuses(expenses: list[Expense]) -> dict[Any, str]:
    return dict(Expense.objects.filter(pk__in=[e.pk for e in expenses]).values_list("pk", "status"))


def _once_each(books: SandboxBooks) -> dict[str, dict[str, Any]]:
    ledger = _ledger(books)
    counts = Counter(r["transactionId"] for r in ledger)
    assert set(counts.values()) <= {1}, counts
    return {r["transactionId"]: r for r in ledger}


# --- Transfers ----------------------------------------------------------------------------------


@pytest.mark.parametrize("platform", [Platform.XERO, Platform.QUICKBOOKS_ONLINE])
def test_transfers_go_through_the_transfer_endpoint_each_written_once(sandbox, settings, platform):
    books = _newer(settings, platform)
    payments = _approved(books, 3)
    top_up = _approved_transfer(books, "TransferIn")
    sweep = _approved_transfer(books, "TransferOut", amount="75.50")
    card = LedgerAccount.objects.get(pk=books.company.configuration.bank_account_id)
    savings = _other_bank_account(books)

    push_company.delay(books.company.pk)

    everything = [*payments, top_up, sweep]
    assert set(_statuses(everything).values()) == {ExpenseStatus.SYNCED}, [
        (e.type, e.failure_message) for e in Expense.objects.exclude(status="synced")
    ]
    ledger = _once_each(books)
    assert set(ledger) == {str(e.pk) for e in everything}
    written_in, written_out = ledger[str(top_up.pk)], ledger[str(sweep.pk)]
    assert (written_in["kind"], written_in["api"]) == ("transfer", "expenses")
    assert written_in["transfer"]["from"]["accountId"] == savings.codat_id
    assert written_in["transfer"]["to"]["accountId"] == card.codat_id
    assert written_out["transfer"]["from"]["accountId"] == card.codat_id
    assert written_out["transfer"]["to"]["accountId"] == savings.codat_id
    assert written_out["transfer"]["to"]["amount"] == "75.50"
    # One PUT each, by its transaction id, carrying no key; a batch and a sync of its own.
    assert sorted(p.path.rsplit("/", 1)[1] for p in _puts(books)) == sorted(
        [str(top_up.pk), str(sweep.pk)]
    )
    assert {p.idempotency_key for p in _puts(books)} == {""}
    transfers = PushBatch.objects.filter(company=books.company, endpoint="transfer-transactions")
    assert transfers.count() == 2
    assert len({b.sync_id for b in transfers}) == 2
    assert {s.state for s in Sync.objects.filter(company=books.company)} == {SyncState.SUCCEEDED}


@pytest.mark.parametrize("platform", [Platform.XERO, Platform.QUICKBOOKS_ONLINE])
def test_a_transfer_whose_answer_is_lost_is_adopted_not_sent_again(
    sandbox, settings, faults_on_send, platform
):
    books = _newer(settings, platform)
    transfer = _approved_transfer(books, "TransferOut")
    # Codat writes the transfer, then its answer is lost on the way back (a 504).
    faults_on_send.faults = [{"lost_answer_rate": 1.0, "timeout_stall_ms": 0}]

    push_company.delay(books.company.pk)

    assert _statuses([transfer]) == {transfer.pk: ExpenseStatus.SYNCED}
    [put] = _puts(books)
    assert put.status == 504
    ledger = _once_each(books)
    assert ledger[str(transfer.pk)]["version"] == 1  # never written again, not even updated
    # The sync the PUT started is the one followed: Codat holds no other.
    [sync] = Sync.objects.filter(company=books.company)
    assert [s.sync_id for s in codat_client().list_syncs(str(books.company.codat_company_id))] == [
        str(sync.codat_sync_id)
    ]
    lookups = CodatExchange.objects.filter(
        company=books.company, path__endswith="/syncs/list/status", pk__gt=put.pk
    )
    assert lookups.exists()


def test_a_transfer_answered_5xx_is_looked_for_then_sent_again_and_written_once(
    sandbox, settings, faults_on_send, monkeypatch
):
    books = _newer(settings, Platform.XERO)
    transfer = _approved_transfer(books, "TransferIn")
    # The PUT is answered 500 before anything is written; it may be sent again only once it
    # cannot be in flight any more (the wait is the test's to skip).
    monkeypatch.setattr("syncs.idempotency.PUT_IN_FLIGHT", timedelta(0))
    faults_on_send.faults = [{"error_rate": 1.0, "error_status": 500}]

    push_company.delay(books.company.pk)

    assert _statuses([transfer]) == {transfer.pk: ExpenseStatus.SYNCED}
    failed, sent = _puts(books)
    assert (failed.status, sent.status) == (500, 200)
    looked = CodatExchange.objects.filter(
        company=books.company,
        path__endswith="/syncs/list/status",
        pk__gt=failed.pk,
        pk__lt=sent.pk,
    )
    assert looked.exists()
    assert list(_once_each(books)) == [str(transfer.pk)]


def test_a_netsuite_transfer_is_refused_before_any_call(sandbox, settings):
    books = _newer(settings, Platform.NETSUITE)
    payment = _approved(books, 1)[0]
    transfer = ExpenseFactory(
        company=books.company,
        type="TransferOut",
        amount=Decimal("250.00"),
        currency=books.company.base_currency,
        issue_date=date(2026, 11, 2),
    )
    bank = next(a for a in books.accounts.values() if a.is_bank_account and a.is_usable)
    expense_set_lines(
        expense=transfer, lines=[LineInput(Decimal("250.00"), Decimal(0), bank, None)], by=None
    )
    with pytest.raises(ExpenseRefused) as refused:
        expense_approve(expense=transfer, by=UserFactory())
    problem = refused.value.problems[0]
    assert (problem.field, problem.message) == (
        "type",
        "Codat's Expenses API writes no transfers to Oracle NetSuite: its transfer endpoint "
        "takes Xero and QuickBooks Online only.",
    )
    assert problem.fix == "Exclude this expense and record the transfer in Oracle NetSuite by hand."
    # Approved under other rules (before a switch, say): the claim sends it back to coding.
    Expense.objects.filter(pk=transfer.pk).update(status=ExpenseStatus.APPROVED)

    push_company.delay(books.company.pk)

    transfer.refresh_from_db()
    assert transfer.status == ExpenseStatus.UNCATEGORIZED
    assert transfer.needs_recoding_reason.startswith("Codat's Expenses API writes no transfers")
    assert _statuses([payment]) == {payment.pk: ExpenseStatus.SYNCED}
    assert not CodatExchange.objects.filter(path__contains="transfer-transactions").exists()
    assert list(_once_each(books)) == [str(payment.pk)]


# --- Duplicate protection -----------------------------------------------------------------------


def _written_behind_our_back(books: SandboxBooks, expense: Expense) -> str:
    """Write the expense to the ledger as a send whose answer never reached the portal would
    have: Codat runs a sync the portal holds no trace of. Its id."""
    item = expense_item(
        expense=expense,
        lines=ledger_lines(expense=expense),
        ctx=company_context(company=books.company),
    )
    codat_company = str(books.company.codat_company_id)
    client = codat_client()
    started = client.create_expense_transactions(
        codat_company, [item], idempotency_key=uuid.uuid4()
    )
    assert client.get_sync_status(codat_company, started.sync_id).sync_status_code == 2000
    return started.sync_id


def test_a_5080_on_an_expense_a_sync_we_never_recorded_wrote_is_imported_as_synced(
    sandbox, settings
):
    books = _newer(settings, Platform.XERO)
    written, fresh = _approved(books, 2)
    unknown = _written_behind_our_back(books, written)

    push_company.delay(books.company.pk)

    written.refresh_from_db()
    assert written.status == ExpenseStatus.SYNCED
    trail = written.events.get(to_status=ExpenseStatus.SYNCED).message
    assert trail.startswith("Found already written to the ledger")
    assert unknown in trail
    imported = Sync.objects.get(codat_sync_id=unknown)
    assert (imported.state, imported.status_code) == (SyncState.SUCCEEDED, 2000)
    assert imported.transactions.get().expense_id == written.pk
    # Its batch-mate was not written by the sync Codat stopped: it fails, to go again.
    fresh.refresh_from_db()
    assert fresh.status == ExpenseStatus.FAILED
    assert "duplicate protection stopped the whole sync" in fresh.failure_message
    [stopped] = Sync.objects.filter(company=books.company, status_code=5080)
    assert stopped.state == SyncState.FAILED
    assert list(_once_each(books)) == [str(written.pk)]


def test_a_5080_whose_writer_cannot_be_found_waits_for_support(sandbox, settings, monkeypatch):
    books = _newer(settings, Platform.QUICKBOOKS_ONLINE)
    [written] = _approved(books, 1)
    _written_behind_our_back(books, written)
    monkeypatch.setattr("syncs.duplicates.DUPLICATE_SEARCH_LIMIT", 0)  # beyond the search

    push_company.delay(books.company.pk)

    written.refresh_from_db()
    assert written.status == ExpenseStatus.NEEDS_SUPPORT
    assert "no sync of the company that wrote it was found" in written.failure_message
    assert list(_once_each(books)) == [str(written.pk)]


# --- The rules, 500 expenses --------------------------------------------------------------------

PER_PLATFORM = 125
KINDS = [
    TransactionType.PAYMENT,
    TransactionType.REFUND,
    TransactionType.REWARD,
    TransactionType.CHARGEBACK,
    TransactionType.TRANSFER_IN,
    TransactionType.TRANSFER_OUT,
    TransactionType.ADJUSTMENT_IN,
]


def _code_and_approve(books: SandboxBooks) -> dict[Any, str]:
    """Code each expense as finance staff would and approve it: what the rules refuse stays
    unapproved. The refusal of each, by expense."""
    company = books.company
    api = company.expenses_api
    card = company.configuration.bank_account_id
    accounts = list(LedgerAccount.objects.usable().filter(company=company).order_by("codat_id"))
    rates = list(TaxRate.objects.usable().filter(company=company).order_by("codat_id"))
    approver = UserFactory()
    refused = {}
    for expense in Expense.objects.filter(company=company).order_by("external_id"):
        transfer = expense.type in (TransactionType.TRANSFER_IN, TransactionType.TRANSFER_OUT)
        account = next(
            (
                a
                for a in accounts
                if a.accepts(expense.type, api)
                and a.pk != card
                and a.currency in ("", company.base_currency)
            ),
            # Nothing in the chart takes the type here: any account will do to be refused.
            next(a for a in accounts if a.pk != card),
        )
        rate = (
            None
            if transfer
            else next((t for t in rates if expense.type in (t.valid_transaction_types or [])), None)
        )
        tax = Decimal(0)
        if rate is not None and rate.effective_rate:
            tax = (expense.amount * rate.effective_rate / (100 + rate.effective_rate)).quantize(
                Decimal("0.01")
            )
        expense_set_lines(
            expense=expense,
            lines=[LineInput(expense.amount - tax, tax, account, rate)],
            by=approver,
        )
        expense.refresh_from_db()
        try:
            expense_approve(expense=expense, by=approver)
        except ExpenseRefused as refusal:
            refused[expense.pk] = refusal.problems[0].message
    return refused


def test_500_expenses_across_types_and_platforms_end_as_the_newer_rules_say(sandbox, settings):
    companies = [
        _newer(settings, platform, name=f"{platform.label} Traders Ltd") for platform in Platform
    ]
    refused: dict[Any, str] = {}
    for books in companies:
        company = books.company
        expenses_ingest(
            company=company,
            items=[
                {
                    "external_id": f"rules-{i}",
                    "type": KINDS[i % len(KINDS)].value,
                    "issue_date": date(2026, 11, 2).isoformat(),
                    "currency": company.base_currency,
                    "amount": str(Decimal(400 + i) / 4),
                    "merchant_name": f"Merchant {i}",
                }
                for i in range(PER_PLATFORM)
            ],
        )
        refused |= _code_and_approve(books)

    for books in companies:
        push_company.delay(books.company.pk)

    for books in companies:
        company = books.company
        rules = rules_for(company.platform, ApiGeneration.EXPENSES)
        final = list(Expense.objects.filter(company=company))
        assert len(final) == PER_PLATFORM
        for expense in final:
            if rules.supports(expense.type):
                assert expense.status == ExpenseStatus.SYNCED, (
                    company.platform,
                    expense.type,
                    expense.failure_message or refused.get(expense.pk),
                )
                continue
            # Refused before any call, with the reason the rules give.
            reason = rules.type_refusal(
                expense.type, platform_label=Platform(company.platform).label
            )[0]
            assert expense.status == ExpenseStatus.UNCATEGORIZED, (expense.type, expense.status)
            assert refused[expense.pk] == reason
            assert expense_readiness(expense)[0].message == reason
        ledger = _once_each(books)
        synced = {str(e.pk) for e in final if e.status == ExpenseStatus.SYNCED}
        assert set(ledger) == synced
        kinds = Counter(
            "transfer" if ledger[i]["kind"] == "transfer" else "expense" for i in synced
        )
        transfers = sum(1 for e in final if e.type in rules.transfer_types)
        assert kinds["transfer"] == transfers
        assert {r["api"] for r in ledger.values()} <= {"expenses"}
    # Every refused type reached no endpoint: nothing of it was ever sent.
    sent = {
        str(item["id"])
        for batch in PushBatch.objects.filter(company__in=[b.company for b in companies])
        for item in batch.payload or []
    }
    assert not sent & {str(pk) for pk in refused}


# --- Corrections of a synced transfer -----------------------------------------------------------


def test_a_synced_quickbooks_transfer_is_corrected_by_the_same_put(client, sandbox, settings):
    from django.urls import reverse

    from companies.models import Role
    from syncs.models import SyncKind
    from tests.factories import MembershipFactory

    books = _newer(settings, Platform.QUICKBOOKS_ONLINE)
    transfer = _approved_transfer(books, "TransferOut")
    push_company.delay(books.company.pk)
    assert _statuses([transfer]) == {transfer.pk: ExpenseStatus.SYNCED}
    card = books.company.configuration.bank_account_id
    first = _other_bank_account(books)
    other = next(
        a
        for a in books.accounts.values()
        if a.accepts("TransferOut", ApiGeneration.EXPENSES)
        and a.is_usable
        and a.pk not in (card, first.pk)
        and a.currency == books.company.base_currency
    )
    client.force_login(MembershipFactory(company=books.company, role=Role.APPROVER).user)

    client.post(
        reverse("expense-correct", args=[books.company.pk, transfer.pk]),
        {
            "lines-TOTAL_FORMS": "1",
            "lines-INITIAL_FORMS": "0",
            "lines-0-account": other.pk,
            "lines-0-tax_rate": "",
            "lines-0-net_amount": "250.00",
            "lines-0-tax_amount": "0.00",
            "confirm": "yes",
        },
    )

    transfer.refresh_from_db()
    assert transfer.status == ExpenseStatus.SYNCED, transfer.failure_message
    update = Sync.objects.get(kind=SyncKind.UPDATE)
    assert (update.expenses_api, update.state) == ("expenses", SyncState.SUCCEEDED)
    assert len(_puts(books)) == 2  # the create, then the same PUT again
    record = _once_each(books)[str(transfer.pk)]
    assert (record["version"], record["transfer"]["to"]["accountId"]) == (2, other.codat_id)


def test_a_synced_xero_transfer_cannot_be_corrected_through_codat(sandbox, settings):
    from syncs.corrections import expense_correct_request

    books = _newer(settings, Platform.XERO)
    transfer = _approved_transfer(books, "TransferIn")
    push_company.delay(books.company.pk)
    transfer.refresh_from_db()
    line = transfer.lines.get()

    with pytest.raises(ExpenseRefused) as refused:
        expense_correct_request(
            expense=transfer,
            lines=[LineInput(Decimal("200.00"), Decimal(0), line.account, None)],
            by=UserFactory(),
        )

    assert refused.value.problems[0].message == (
        "Xero takes transfers from Codat's Expenses API as new records only: a transfer once "
        "written cannot be changed through Codat."
    )
    assert len(_puts(books)) == 1
    assert _once_each(books)[str(transfer.pk)]["version"] == 1
