"""`sync_now --wait` runs the push pipeline here and now against the sandbox over HTTP, rides out
Codat's transient failures (5xx, 429) with the worker's backoff, follows every sync to its end,
and exits non-zero naming the companies whose expenses could not all be pushed, each company
through the generation of Codat's expenses API it speaks.

The command's waits go to a clock that moves only when slept on (`FakeTime`), so no test really
waits them."""

import re
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from companies.models import Connection, ConnectionKind, ConnectionStatus
from companies.platforms import ApiGeneration, Platform
from expenses.models import Expense, ExpenseStatus
from gateway.models import CodatExchange
from reliability.seed import expenses_bulk
from syncs.claim import company_push_claim
from syncs.management.commands.sync_now import Command
from syncs.models import ReceiptUpload, Sync, SyncState, UploadState
from syncs.push_now import WAIT_LIMIT_S
from syncs.receipt_uploads import receipt_uploads_due
from syncs.send import sync_send
from tests.codat.conftest import FakeTime
from tests.factories import ReceiptFactory
from tests.integration.sandbox_company import control, onboard
from tests.integration.test_push_pipeline import _approved, _ledger

pytestmark = pytest.mark.django_db(transaction=True)

FAULTS = {"error_rate": 0.2, "error_status": 503, "rate_limit_every": 10, "retry_after_s": 1}


def _faults(**faults):
    control("DELETE", "faults")  # the call counter starts again
    control("PUT", "faults", faults)


def _sync_now(*args, clock=None):
    """Run the command; its output and, when it failed, its error."""
    clock = clock or FakeTime()
    out = StringIO()
    try:
        call_command(Command(clock=clock.clock, sleep=clock.sleep), *args, stdout=out)
    except CommandError as error:
        return out.getvalue().splitlines(), str(error)
    return out.getvalue().splitlines(), None


def _statuses(books):
    return set(Expense.objects.filter(company=books.company).values_list("status", flat=True))


def _with_receipts(books, count):
    for expense in Expense.objects.filter(company=books.company).order_by("pk")[:count]:
        ReceiptFactory(expense=expense)


def test_sync_now_wait_rides_out_503s_and_429s_and_ends_every_sync(sandbox):
    companies = [
        onboard(Platform.XERO, name="Alder Bakery"),
        onboard(Platform.QUICKBOOKS_ONLINE, name="Birch Studio"),
        onboard(Platform.NETSUITE, name="Cedar Tools"),
    ]
    for books in companies:
        expenses_bulk(company=books.company, count=120)
        _with_receipts(books, 4)
    _faults(**FAULTS, seed=11)
    clock = FakeTime()

    lines, error = _sync_now("--wait", clock=clock)

    assert error is None, lines
    assert len(lines) == len(companies)
    uploaded = {}
    for line, books in zip(lines, companies, strict=True):
        # Receipts turned away are left to the worker: the command does not wait out their
        # backoff.
        match = re.fullmatch(
            rf"{books.company.name}: pushed 120, synced 120, failed 0, receipts uploaded (\d)"
            r"(?: \((\d) more left for the worker to send\))?",
            line,
        )
        assert match, line
        uploaded[books.company.name] = int(match[1])
        assert int(match[1]) + int(match[2] or 0) == 4
    assert not Expense.objects.filter(
        status__in=[ExpenseStatus.APPROVED, ExpenseStatus.PUSHING, ExpenseStatus.SYNCING]
    ).exists()
    assert not Sync.objects.filter(state__in=[SyncState.INITIATING, SyncState.IN_PROGRESS]).exists()
    for books in companies:
        ledger = _ledger(books)
        ids = [record["transactionId"] for record in ledger]
        assert len(ids) == len(set(ids))  # each synced expense exactly once
        assert set(ids) == {
            str(pk)
            for pk in Expense.objects.filter(company=books.company).values_list("pk", flat=True)
        }
        assert sum(record["attachments"] for record in ledger) == uploaded[books.company.name]
    statuses = set(CodatExchange.objects.values_list("status", flat=True))
    assert {429, 503} <= statuses, "the faults must really have been hit"
    assert 0 < sum(clock.sleeps) < WAIT_LIMIT_S  # it waited between tries, within its budget


def test_a_company_codat_will_not_sync_makes_it_exit_non_zero_while_others_complete(sandbox):
    revoked = onboard(Platform.XERO, name="Alder Bakery")
    fine = onboard(Platform.QUICKBOOKS_ONLINE, name="Birch Studio")
    expenses_bulk(company=revoked.company, count=60)
    expenses_bulk(company=fine.company, count=60)
    # The customer revoked access in Xero; the portal has not heard of it yet.
    accounting = Connection.objects.get(company=revoked.company, kind=ConnectionKind.ACCOUNTING)
    control(
        "POST",
        f"companies/{revoked.company.codat_company_id}/connections/"
        f"{accounting.codat_connection_id}/deauthorize",
    )

    lines, error = _sync_now("--wait")

    assert error == "Not everything could be pushed for: Alder Bakery (see above)."
    assert re.fullmatch(
        r"Alder Bakery: pushed 0, synced 0, failed 0, receipts uploaded 0; not pushed 60 — "
        r"Codat would not start the sync: .*valid set of data connections.*",
        lines[0],
    )
    assert lines[1] == "Birch Studio: pushed 60, synced 60, failed 0, receipts uploaded 0"
    assert _statuses(revoked) == {ExpenseStatus.APPROVED}  # nothing lost: pushed again later
    assert _statuses(fine) == {ExpenseStatus.SYNCED}
    assert _ledger(revoked) == []


def test_a_company_known_to_be_disconnected_is_named_and_one_with_nothing_approved_is_not(
    sandbox,
):
    disconnected = onboard(Platform.XERO, name="Alder Bakery")
    idle = onboard(Platform.QUICKBOOKS_ONLINE, name="Birch Studio")
    expenses_bulk(company=disconnected.company, count=3)
    Connection.objects.filter(company=disconnected.company, kind=ConnectionKind.ACCOUNTING).update(
        status=ConnectionStatus.DEAUTHORIZED
    )

    lines, error = _sync_now("--wait")

    assert error == "Not everything could be pushed for: Alder Bakery (see above)."
    assert lines[0].startswith(
        "Alder Bakery: pushed 0, synced 0, failed 0, receipts uploaded 0; not pushed 3 — "
        "The Xero connection is deauthorized"
    )
    assert lines[1] == "Birch Studio: nothing approved to push."
    assert _statuses(disconnected) == {ExpenseStatus.APPROVED}
    assert _statuses(idle) == set()


def test_errors_outlasting_the_retries_exit_non_zero_and_a_second_run_finishes_the_push(sandbox):
    books = onboard(Platform.XERO, name="Alder Bakery")
    expenses_bulk(company=books.company, count=60)
    _faults(error_rate=1.0, error_status=503)

    lines, error = _sync_now("--wait")

    assert error == "Not everything could be pushed for: Alder Bakery (see above)."
    assert re.fullmatch(
        r"Alder Bakery: pushed 0, synced 0, failed 0, receipts uploaded 0; not pushed 60 — "
        r"Codat failed 11 turns in a row \(.*status=503.*\)\. Nothing is lost: run it again, "
        r"or let the worker resume it\.",
        lines[0],
    )
    assert _statuses(books) == {ExpenseStatus.PUSHING}
    assert _ledger(books) == []

    control("DELETE", "faults")
    lines, error = _sync_now("--wait")

    assert (lines, error) == (
        ["Alder Bakery: pushed 60, synced 60, failed 0, receipts uploaded 0"],
        None,
    )
    assert len(_ledger(books)) == 60


def test_an_initiate_codat_turned_away_is_tried_again_at_once(sandbox):
    books = onboard(Platform.XERO)
    expenses_bulk(company=books.company, count=60)  # two datasets
    sync = company_push_claim(company=books.company).sync
    sync = sync_send(sync=sync, max_batches=1)
    # The second dataset goes out; the initiate after it is the second call, and is rate limited.
    _faults(rate_limit_every=2, retry_after_s=1)
    with pytest.raises(Exception, match="too many requests"):
        sync_send(sync=Sync.objects.get(pk=sync.pk))
    control("DELETE", "faults")

    # Codat turned the call away: no sync can have started, so none is waited for to adopt.
    sync = sync_send(sync=Sync.objects.get(pk=sync.pk))

    assert sync.state == SyncState.IN_PROGRESS
    from gateway.exchanges import codat_client

    assert len(codat_client().list_syncs(str(books.company.codat_company_id))) == 1


def test_a_receipt_turned_away_is_left_to_the_worker_and_the_line_says_so(sandbox):
    books = onboard(Platform.XERO, name="Alder Bakery")
    expenses_bulk(company=books.company, count=1)
    _with_receipts(books, 1)
    # Post the dataset, initiate, read the status and the results: the fifth call, the
    # receipt, is rate limited.
    _faults(rate_limit_every=5, retry_after_s=1)
    clock = FakeTime()

    lines, error = _sync_now("--wait", clock=clock)

    assert (lines, error) == (
        [
            "Alder Bakery: pushed 1, synced 1, failed 0, receipts uploaded 0 "
            "(1 more left for the worker to send)"
        ],
        None,
    )
    upload = ReceiptUpload.objects.get()
    assert upload.state == UploadState.FAILED
    assert "429" in upload.last_error
    # The worker's sweeper sends it once its backoff is over; the command did not wait for it.
    assert receipt_uploads_due(now=upload.next_attempt_at) == [upload.pk]
    assert sum(clock.sleeps) < 30


def test_sync_now_wait_pushes_a_v1_company_and_a_newer_generation_one_alike(sandbox, settings):
    """Each company is written through its own generation (in the portal and the sandbox
    alike), under the same faults, and reported on the same line."""
    settings.CODAT_EXPENSES_API_DEFAULT = ApiGeneration.V1
    v1 = onboard(Platform.XERO, name="Alder Bakery")
    settings.CODAT_EXPENSES_API_DEFAULT = ApiGeneration.EXPENSES
    newer = onboard(Platform.XERO, name="Birch Studio")
    assert (v1.company.expenses_api, newer.company.expenses_api) == ("v1", "expenses")
    approved = {
        books.company.pk: _approved(books, 40) + _approved(books, 30, type="Refund")
        for books in (v1, newer)
    }
    _faults(**FAULTS, seed=5)

    lines, error = _sync_now("--wait")

    assert (lines, error) == (
        [
            "Alder Bakery: pushed 70, synced 70, failed 0, receipts uploaded 0",
            "Birch Studio: pushed 70, synced 70, failed 0, receipts uploaded 0",
        ],
        None,
    )
    for books in (v1, newer):
        company, expenses = books.company, approved[books.company.pk]
        assert _statuses(books) == {ExpenseStatus.SYNCED}
        ledger = _ledger(books)
        # Each approved expense in the ledger exactly once, written through its generation.
        assert sorted(r["transactionId"] for r in ledger) == sorted(str(e.pk) for e in expenses)
        assert {r["api"] for r in ledger} == {company.expenses_api}
        assert set(Sync.objects.filter(company=company).values_list("expenses_api", "state")) == {
            (company.expenses_api, SyncState.SUCCEEDED)
        }
    # v1: one sync of two datasets; the newer generation: one sync per batch of 50.
    assert Sync.objects.filter(company=v1.company).count() == 1
    assert Sync.objects.filter(company=newer.company).count() == 2
    statuses = set(CodatExchange.objects.values_list("status", flat=True))
    assert {429, 503} <= statuses, "the faults must really have been hit"
