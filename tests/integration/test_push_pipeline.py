"""The push pipeline end to end against the sandbox over HTTP: datasets, one sync, results,
plain-words failures, duplicate-safety after lost answers, and the ledger holding exactly one
record per synced expense."""

import time
from datetime import date
from decimal import Decimal

import pytest
from django.utils import timezone

from companies.platforms import Platform
from expenses.coding import LineInput, expense_set_lines
from expenses.models import ExpenseStatus
from expenses.services import expense_approve
from sandbox.models import SandboxSettings
from syncs.claim import PushRefused, company_push_claim
from syncs.models import BatchState, PushBatch, Sync, SyncState, SyncTransaction
from syncs.poll import sync_poll
from syncs.send import sync_send
from syncs.tasks import push_company, sweep
from tests.factories import ExpenseFactory, UserFactory
from tests.integration.sandbox_company import control, onboard

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def sandbox(live_server, settings):
    settings.CODAT_BASE_URL = live_server.url + "/codat-sandbox"
    SandboxSettings.objects.update_or_create(
        pk=1, defaults={"sync_delay_ms": 0, "webhook_url": "http://127.0.0.1:9/webhooks/codat/"}
    )
    return settings.CODAT_BASE_URL


def _approved(books, n, *, type="Payment", amount="12.00", **fields):
    account = next(
        a for a in books.accounts.values() if type in a.valid_transaction_types and a.is_usable
    )
    rate = next(
        t
        for t in books.tax_rates
        if t.is_usable and (not t.valid_transaction_types or type in t.valid_transaction_types)
    )
    approver = UserFactory()
    expenses = []
    for i in range(n):
        expense = ExpenseFactory(
            company=books.company,
            type=type,
            amount=Decimal(amount),
            currency=books.company.base_currency,
            issue_date=date(2026, 11, 2),
            merchant_name=f"Merchant {i}",
            **fields,
        )
        gross = Decimal(amount)
        expense_set_lines(
            expense=expense,
            lines=[LineInput(gross, Decimal(0), account, rate)]
            if rate.effective_rate == 0
            else [
                LineInput(
                    gross
                    - (gross * rate.effective_rate / (100 + rate.effective_rate)).quantize(
                        Decimal("0.01")
                    ),
                    (gross * rate.effective_rate / (100 + rate.effective_rate)).quantize(
                        Decimal("0.01")
                    ),
                    account,
                    rate,
                )
            ],
            by=None,
        )
        expense_approve(expense=expense, by=approver)
        expenses.append(expense)
    return expenses


def _ledger(books):
    return control("GET", f"companies/{books.company.codat_company_id}/ledger").json()


@pytest.mark.parametrize("platform", [p.value for p in Platform])
def test_push_writes_each_approved_expense_once(sandbox, platform):
    books = onboard(platform)
    expenses = _approved(books, 3)

    push_company.delay(books.company.pk)

    statuses = {e.pk: e.status for e in type(expenses[0]).objects.filter(company=books.company)}
    assert set(statuses.values()) == {ExpenseStatus.SYNCED}, [
        (e.merchant_name, e.failure_message)
        for e in type(expenses[0]).objects.filter(company=books.company)
    ]
    sync = Sync.objects.get(company=books.company)
    assert (sync.state, sync.status_code) == (SyncState.SUCCEEDED, 2000)
    assert SyncTransaction.objects.filter(sync=sync, status="Completed").count() == 3
    ledger = _ledger(books)
    assert sorted(r["transactionId"] for r in ledger) == sorted(str(e.pk) for e in expenses)


def test_more_than_fifty_go_out_in_batches_of_fifty_under_one_sync(sandbox):
    books = onboard(Platform.XERO)
    _approved(books, 120)

    push_company.delay(books.company.pk)

    sync = Sync.objects.get(company=books.company)
    batches = PushBatch.objects.filter(sync=sync)
    assert sorted(b.items.count() for b in batches) == [20, 50, 50]
    assert {b.state for b in batches} == {BatchState.DONE}
    assert len(_ledger(books)) == 120


def test_a_codat_refusal_comes_back_in_plain_words(sandbox):
    books = onboard(Platform.XERO)
    [expense] = _approved(books, 1)
    account_id = expense.lines.get().account.codat_id
    # The accountant archives the account after approval; our copy has not been refreshed.
    control(
        "POST",
        f"companies/{books.company.codat_company_id}/records/chartOfAccounts/{account_id}",
        {"status": "Archived"},
    )

    push_company.delay(books.company.pk)

    expense.refresh_from_db()
    assert expense.status == ExpenseStatus.FAILED
    assert "was archived in the accounting software" in expense.failure_message
    assert "(Codat: " in expense.failure_message
    assert _ledger(books) == []


def test_a_crash_after_posting_before_recording_reposts_without_duplicates(sandbox):
    books = onboard(Platform.QUICKBOOKS_ONLINE)
    _approved(books, 3)
    claim = company_push_claim(company=books.company)
    batch = claim.sync.batches.get()
    # The dataset reached Codat but the worker died before recording its id.
    from codat import PlannedBatch, V1ExpensesApi
    from expenses.ledger import expense_to_transaction, ledger_lines
    from expenses.validation import company_context
    from gateway.exchanges import codat_client

    ctx = company_context(company=books.company)
    orphan = [
        expense_to_transaction(expense=e, lines=ledger_lines(expense=e), ctx=ctx)
        for e in type(batch.expenses.first()).objects.filter(batch_items__batch=batch)
    ]
    V1ExpensesApi(codat_client()).send(
        str(books.company.codat_company_id), PlannedBatch(key=str(batch.pk), items=tuple(orphan))
    )

    sync = sync_send(sync=claim.sync)
    sync_poll(sync=sync)

    assert len(_ledger(books)) == 3
    assert Sync.objects.get().state == SyncState.SUCCEEDED


def test_a_lost_initiate_answer_adopts_the_sync_instead_of_starting_another(sandbox):
    books = onboard(Platform.XERO)
    _approved(books, 2)
    claim = company_push_claim(company=books.company)
    sync = sync_send(sync=claim.sync)
    codat_sync_id = sync.codat_sync_id
    # Pretend the answer to initiate-sync was lost: the row still says "initiating".
    Sync.objects.filter(pk=sync.pk).update(state=SyncState.INITIATING, codat_sync_id=None)
    PushBatch.objects.filter(sync=sync).update(state=BatchState.POSTED)
    type(books.company.expenses.first()).objects.filter(company=books.company).update(
        status=ExpenseStatus.PUSHING
    )

    resumed = sync_send(sync=Sync.objects.get(pk=sync.pk))

    assert resumed.codat_sync_id == codat_sync_id
    syncs = control("GET", f"companies/{books.company.codat_company_id}/ledger")  # noqa: F841
    from gateway.exchanges import codat_client

    assert len(codat_client().list_syncs(str(books.company.codat_company_id))) == 1
    sync_poll(sync=resumed)
    assert len(_ledger(books)) == 2


def test_push_is_refused_with_the_reason_when_the_connection_is_not_linked(sandbox):
    books = onboard(Platform.XERO)
    _approved(books, 1)
    books.company.connections.filter(kind="accounting").update(status="Deauthorized")

    with pytest.raises(PushRefused, match="Xero connection is deauthorized"):
        company_push_claim(company=books.company)


def test_pushing_twice_sends_nothing_the_second_time(sandbox):
    books = onboard(Platform.XERO)
    _approved(books, 2)

    push_company.delay(books.company.pk)
    push_company.delay(books.company.pk)

    assert Sync.objects.filter(company=books.company).count() == 1
    assert len(_ledger(books)) == 2


def test_a_sync_ended_by_a_lost_connection_blocks_further_pushes(sandbox):
    from django.utils import timezone

    from companies.models import Connection
    from companies.selectors import company_push_blockers
    from sandbox.models import SandboxSync

    books = onboard(Platform.XERO)
    [expense] = _approved(books, 1)
    accounting = Connection.objects.get(company=books.company, kind="accounting")
    SandboxSettings.objects.filter(pk=1).update(sync_delay_ms=3_600_000)
    claim = company_push_claim(company=books.company)
    sync = sync_send(sync=claim.sync)
    # The customer revokes access in Xero before Codat runs the sync; then it runs.
    control(
        "POST",
        f"companies/{books.company.codat_company_id}/connections/"
        f"{accounting.codat_connection_id}/deauthorize",
    )
    SandboxSync.objects.filter(pk=sync.codat_sync_id).update(due_at=timezone.now())

    sync = sync_poll(sync=sync)

    assert sync.status_code == 4040
    expense.refresh_from_db()
    assert expense.status == ExpenseStatus.FAILED
    books.company.refresh_from_db()
    assert books.company.status == "disconnected"
    assert any("re-authorizes" in b for b in company_push_blockers(company=books.company))


def test_a_push_posts_a_few_datasets_per_turn_and_initiates_once_all_are_posted(sandbox):
    books = onboard(Platform.XERO)
    _approved(books, 120)
    sync = company_push_claim(company=books.company).sync

    sync = sync_send(sync=sync, max_batches=1)

    assert sync.state == SyncState.INITIATING
    assert sync.batches.filter(state=BatchState.POSTED).count() == 1
    sync = sync_send(sync=sync, max_batches=1)
    sync = sync_send(sync=sync, max_batches=1)
    assert sync.state == SyncState.IN_PROGRESS
    assert sync.batches.filter(state=BatchState.SYNC_REQUESTED).count() == 3
    sync_poll(sync=sync)
    assert len(_ledger(books)) == 120


def test_a_second_worker_never_initiates_a_sync_the_first_is_starting(sandbox):
    from syncs.initiate import InitiationInFlight

    books = onboard(Platform.XERO)
    _approved(books, 60)  # two datasets
    sync = company_push_claim(company=books.company).sync
    sync = sync_send(sync=sync, max_batches=1)
    assert sync.state == SyncState.INITIATING
    # Another worker claimed the initiation a moment ago and its call is still in flight.
    Sync.objects.filter(pk=sync.pk).update(initiate_requested_at=timezone.now())

    with pytest.raises(InitiationInFlight):
        sync_send(sync=Sync.objects.get(pk=sync.pk))

    from gateway.exchanges import codat_client

    assert codat_client().list_syncs(str(books.company.codat_company_id)) == []


def test_a_claim_in_slices_fills_every_batch_but_the_last_and_plans_each_item(sandbox, monkeypatch):
    from expenses.models import Expense

    monkeypatch.setattr("syncs.claim.CLAIM_CHUNK", 7)
    books = onboard(Platform.XERO)
    expenses = _approved(books, 120)
    invalid = [expenses[3], expenses[64]]
    for expense in invalid:
        expense.lines.update(account=None)

    claim = company_push_claim(company=books.company)

    assert (claim.claimed, claim.sent_back) == (118, 2)
    batches = list(PushBatch.objects.filter(sync=claim.sync).order_by("created_at"))
    assert [len(b.payload) for b in batches] == [50, 50, 18]
    for batch in batches:
        planned = [item["id"] for item in batch.payload]
        assert sorted(planned) == sorted(
            str(pk) for pk in batch.items.values_list("expense_id", flat=True)
        )
    sent = [item["id"] for b in batches for item in b.payload]
    assert len(set(sent)) == 118
    assert not set(sent) & {str(e.pk) for e in invalid}
    assert set(
        Expense.objects.filter(pk__in=[e.pk for e in invalid]).values_list("status", flat=True)
    ) == {ExpenseStatus.UNCATEGORIZED}
    sync_poll(sync=sync_send(sync=claim.sync))
    assert len(_ledger(books)) == 118


def test_a_batch_planned_without_its_items_is_built_from_its_expenses(sandbox):
    books = onboard(Platform.XERO)
    _approved(books, 3)
    claim = company_push_claim(company=books.company)
    # Planned by an earlier release, which kept no items on the batch.
    PushBatch.objects.filter(sync=claim.sync).update(payload=None)

    sync_poll(sync=sync_send(sync=claim.sync))

    assert len(_ledger(books)) == 3
    assert Sync.objects.get().state == SyncState.SUCCEEDED


def test_an_expense_that_left_pushing_after_the_claim_is_not_sent(sandbox):
    from expenses.models import Expense

    books = onboard(Platform.XERO)
    expenses = _approved(books, 3)
    claim = company_push_claim(company=books.company)
    Expense.objects.filter(pk=expenses[0].pk).update(status=ExpenseStatus.FAILED)

    sync_poll(sync=sync_send(sync=claim.sync))

    assert sorted(r["transactionId"] for r in _ledger(books)) == sorted(
        str(e.pk) for e in expenses[1:]
    )


def test_datasets_posted_in_lanes_go_out_once_each(sandbox):
    from gateway.models import CodatExchange

    books = onboard(Platform.XERO)
    _approved(books, 230)  # five datasets
    sync = company_push_claim(company=books.company).sync

    sync = sync_send(sync=sync, lanes=3)

    assert sync.state == SyncState.IN_PROGRESS
    posts = CodatExchange.objects.filter(method="POST", path__endswith="/expense-transactions")
    assert posts.count() == 5
    batches = PushBatch.objects.filter(sync=sync)
    assert batches.values("dataset_id").distinct().count() == 5
    sync_poll(sync=sync)
    ledger = [r["transactionId"] for r in _ledger(books)]
    assert len(ledger) == len(set(ledger)) == 230


def test_a_lane_that_fails_stops_the_turn_and_the_next_turn_posts_the_rest_once(sandbox):
    from codat import CodatRateLimitedError

    books = onboard(Platform.XERO)
    _approved(books, 300)  # six datasets
    sync = company_push_claim(company=books.company).sync
    control("PUT", "faults", {"rate_limit_every": 3, "retry_after_s": 1})

    with pytest.raises(CodatRateLimitedError):
        sync_send(sync=sync, lanes=3)

    assert sync.batches.filter(state=BatchState.PENDING).exists()
    control("DELETE", "faults")
    sync = sync_send(sync=Sync.objects.get(pk=sync.pk), lanes=3)
    assert sync.state == SyncState.IN_PROGRESS
    assert sync.batches.values("dataset_id").distinct().count() == 6
    sync_poll(sync=sync)
    ledger = [r["transactionId"] for r in _ledger(books)]
    assert len(ledger) == len(set(ledger)) == 300


def test_a_push_cut_short_between_claim_slices_resumes_and_sends_each_expense_once(
    sandbox, monkeypatch
):
    from gateway.exchanges import codat_client
    from gateway.models import CodatExchange
    from syncs import claim as push
    from syncs import send

    monkeypatch.setattr("syncs.claim.CLAIM_CHUNK", 50)
    books = onboard(Platform.XERO)
    expenses = _approved(books, 120)
    write_batches = push.write_batches
    calls = 0

    def dies_in_the_second_slice(*args, **kwargs):
        nonlocal calls
        calls += 1
        if calls == 2:
            raise RuntimeError("the worker died")
        return write_batches(*args, **kwargs)

    monkeypatch.setattr(push, "write_batches", dies_in_the_second_slice)

    with pytest.raises(RuntimeError, match="the worker died"):
        send.company_push(company=books.company, lanes=3)

    sync = Sync.objects.get(company=books.company)
    assert sync.claiming
    # The datasets of the slices committed went out while the claim went on: the first one's,
    # and on PostgreSQL maybe a slice another claimer had under way when the failure stopped
    # them (it may take the failed slice's expenses once their lock is gone).
    states = [b.state for b in sync.batches.all()]
    assert len(states) in (1, 2)
    assert set(states) == {BatchState.POSTED}
    # A sending turn now posts nothing and starts nothing: the claim is not complete.
    sync = sync_send(sync=sync)
    assert sync.state == SyncState.INITIATING
    assert codat_client().list_syncs(str(books.company.codat_company_id)) == []

    monkeypatch.setattr(push, "write_batches", write_batches)
    # The push has gone quiet: the sweeper resumes it (thresholds at zero for the test).
    sweep(stale_poll_s=0, stale_initiating_s=0)

    sync.refresh_from_db()
    assert (sync.state, sync.claiming) == (SyncState.SUCCEEDED, False)
    assert Sync.objects.filter(company=books.company).count() == 1
    assert sorted(b.items.count() for b in sync.batches.all()) == [20, 50, 50]
    posts = CodatExchange.objects.filter(
        company=books.company, method="POST", path__endswith="/data/expense-transactions"
    )
    assert posts.count() == 3  # each dataset once
    ledger = sorted(r["transactionId"] for r in _ledger(books))
    assert ledger == sorted(str(e.pk) for e in expenses)
    assert set(
        type(expenses[0]).objects.filter(company=books.company).values_list("status", flat=True)
    ) == {ExpenseStatus.SYNCED}


def test_datasets_go_out_while_the_push_is_still_being_claimed(sandbox, monkeypatch):
    from sandbox.models import SandboxDataset
    from syncs import claim as push
    from syncs import send

    monkeypatch.setattr("syncs.claim.CLAIM_CHUNK", 50)
    books = onboard(Platform.XERO)
    _approved(books, 150)
    claim_slice = push.claim_slice
    slices = 0

    def claim_slice_watched(plan, size, **kwargs):
        nonlocal slices
        slices += 1
        if slices == 3:
            # Codat receives the first datasets while the last slice is still to be claimed.
            deadline = time.monotonic() + 30
            while SandboxDataset.objects.count() < 2 and time.monotonic() < deadline:
                time.sleep(0.02)  # the lanes are other threads: wait for their posts to land
            assert SandboxDataset.objects.count() >= 2, "no dataset went out during the claim"
        return claim_slice(plan, size, **kwargs)

    monkeypatch.setattr(push, "claim_slice", claim_slice_watched)

    claim = send.company_push(company=books.company, lanes=3)

    assert claim.claimed == 150
    sync = Sync.objects.get(company=books.company)
    assert not sync.claiming
    assert [b.state for b in sync.batches.all()] == [BatchState.POSTED] * 3
    assert SandboxDataset.objects.count() == 3  # each once
    assert sync_send(sync=sync).state == SyncState.IN_PROGRESS
