"""Receipts against the sandbox over HTTP: each file of a completed expense lands once on its
ledger record, transient failures are retried later, refusals give up with Codat's words, and
the stored file is never touched."""

import hashlib
from datetime import timedelta

import pytest
from django.utils import timezone

from expenses.models import Receipt
from gateway.models import CodatExchange
from sandbox.models import SandboxSettings
from syncs.models import ReceiptUpload, Sync, UploadState
from syncs.receipt_uploads import (
    MAX_ATTEMPTS,
    receipt_upload_claim,
    receipt_upload_retry,
    receipt_upload_send,
    receipt_uploads_due,
)
from syncs.tasks import push_company, sweep
from tests.factories import ReceiptFactory
from tests.integration.sandbox_company import control, onboard
from tests.integration.test_push_pipeline import _approved

pytestmark = pytest.mark.django_db(transaction=True)

PDF = b"%PDF-1.4 a receipt from Harbour Coffee"


@pytest.fixture
def sandbox(live_server, settings):
    settings.CODAT_BASE_URL = live_server.url + "/codat-sandbox"
    SandboxSettings.objects.update_or_create(
        pk=1, defaults={"sync_delay_ms": 0, "webhook_url": "http://127.0.0.1:9/webhooks/codat/"}
    )
    yield settings.CODAT_BASE_URL
    control("DELETE", "faults")


def _receipt(expense, name="receipt.pdf", data=PDF):
    return ReceiptFactory(
        expense=expense,
        file__filename=name,
        file__data=data,
        original_name=name,
        size=len(data),
        sha256=hashlib.sha256(data + name.encode()).hexdigest(),
    )


def _attachments(books):
    ledger = control("GET", f"companies/{books.company.codat_company_id}/ledger").json()
    return {r["transactionId"]: r["attachments"] for r in ledger}


def _synced_with_upload(books):
    """An expense pushed and synced first, then given a receipt upload waiting to be sent, so
    a test controls each send itself."""
    [expense] = _approved(books, 1)
    push_company.delay(books.company.pk)
    receipt = _receipt(expense)
    upload = ReceiptUpload.objects.create(receipt=receipt, sync=Sync.objects.get())
    return expense, upload


def _attachment_posts():
    return CodatExchange.objects.filter(method="POST", path__endswith="/attachments").count()


def test_receipts_of_completed_expenses_are_attached_to_their_ledger_records(sandbox):
    books = onboard("gbol")
    one, two = _approved(books, 2)
    _receipt(one)
    _receipt(two, name="taxi.png", data=b"\x89PNG taxi")
    _receipt(two, name="parking.pdf", data=PDF + b" parking")

    push_company.delay(books.company.pk)

    uploads = ReceiptUpload.objects.all()
    assert [u.state for u in uploads] == [UploadState.UPLOADED] * 3
    assert all(u.codat_attachment_id and u.attempts == 1 for u in uploads)
    assert _attachments(books) == {str(one.pk): 1, str(two.pk): 2}


def test_the_stored_receipt_is_unchanged_after_its_upload(sandbox):
    books = onboard("gbol")
    [expense] = _approved(books, 1)
    receipt = _receipt(expense)

    push_company.delay(books.company.pk)

    receipt = Receipt.objects.get(pk=receipt.pk)
    assert receipt.uploads.get().state == UploadState.UPLOADED
    assert receipt.file.storage.exists(receipt.file.name)
    with receipt.file.open("rb") as stored:
        assert stored.read() == PDF


def test_a_transient_failure_is_retried_after_its_wait_and_sent_exactly_once(sandbox):
    books = onboard("gbol")
    expense, upload = _synced_with_upload(books)
    control("PUT", "faults", {"error_rate": 1.0, "error_status": 503})
    first_try = timezone.now()

    upload = receipt_upload_send(upload=upload, now=first_try)

    assert upload.state == UploadState.FAILED
    assert upload.attempts == 1
    assert "503" in upload.last_error
    # 30 seconds, up to a fifth shorter at random.
    assert (
        first_try + timedelta(seconds=24)
        <= upload.next_attempt_at
        <= first_try + timedelta(seconds=30)
    )
    control("DELETE", "faults")
    # Not due yet: nothing is sent, whoever asks.
    assert receipt_upload_send(upload=upload, now=first_try).state == UploadState.FAILED
    assert receipt_uploads_due(now=first_try) == []
    assert receipt_uploads_due(now=upload.next_attempt_at) == [upload.pk]

    due = upload.next_attempt_at
    upload = receipt_upload_send(upload=upload, now=due)
    again = receipt_upload_send(upload=upload, now=due + timedelta(hours=1))

    assert (upload.state, upload.attempts, upload.last_error) == (UploadState.UPLOADED, 2, "")
    assert again.state == UploadState.UPLOADED
    assert _attachment_posts() == 2  # the refused one and the one that worked
    assert _attachments(books) == {str(expense.pk): 1}


def test_a_file_the_platform_refuses_gives_up_with_codats_message(sandbox):
    books = onboard("gbol")
    [expense] = _approved(books, 1)
    _receipt(expense, name="receipt.exe", data=b"MZ not a receipt")

    push_company.delay(books.company.pk)

    upload = ReceiptUpload.objects.get()
    assert upload.state == UploadState.GAVE_UP
    assert "Xero does not accept '.exe' files" in upload.last_error
    assert upload.next_attempt_at is None
    assert _attachments(books) == {str(expense.pk): 0}


def test_two_workers_claiming_one_upload_never_both_send_it(sandbox):
    books = onboard("gbol")
    expense, upload = _synced_with_upload(books)
    worker_a = ReceiptUpload.objects.get(pk=upload.pk)
    worker_b = ReceiptUpload.objects.get(pk=upload.pk)
    now = timezone.now()

    assert receipt_upload_claim(upload=worker_a, now=now) is True
    assert receipt_upload_claim(upload=worker_b, now=now) is False
    # Worker B, asked to send the same upload, finds it claimed and sends nothing.
    assert receipt_upload_send(upload=worker_b, now=now).state == UploadState.UPLOADING
    assert _attachment_posts() == 0
    assert _attachments(books) == {str(expense.pk): 0}


def test_after_giving_up_support_can_send_the_file_again(sandbox):
    books = onboard("gbol")
    expense, upload = _synced_with_upload(books)
    control("PUT", "faults", {"error_rate": 1.0, "error_status": 503})
    now = timezone.now()
    for _ in range(MAX_ATTEMPTS):
        upload = receipt_upload_send(upload=upload, now=now)
        now = upload.next_attempt_at or now
    assert upload.state == UploadState.GAVE_UP
    assert f"Gave up after {MAX_ATTEMPTS} attempts" in upload.last_error
    control("DELETE", "faults")

    receipt_upload_retry(upload=upload)

    upload.refresh_from_db()
    assert (upload.state, upload.attempts) == (UploadState.UPLOADED, 1)
    assert _attachments(books) == {str(expense.pk): 1}


def test_support_can_upload_a_file_again_after_it_was_deleted_in_the_ledger(sandbox):
    books = onboard("gbol")
    [expense] = _approved(books, 1)
    _receipt(expense)
    push_company.delay(books.company.pk)
    upload = ReceiptUpload.objects.get()
    first_id = upload.codat_attachment_id

    receipt_upload_retry(upload=upload)

    upload.refresh_from_db()
    assert upload.state == UploadState.UPLOADED
    assert upload.codat_attachment_id != first_id
    assert _attachments(books) == {str(expense.pk): 2}


def test_the_sweeper_resends_an_upload_left_uploading_by_a_dead_worker(sandbox):
    books = onboard("gbol")
    expense, upload = _synced_with_upload(books)
    # A worker claimed it twenty minutes ago and died before sending anything.
    receipt_upload_claim(upload=upload, now=timezone.now() - timedelta(minutes=20))

    sweep.delay()

    upload.refresh_from_db()
    assert (upload.state, upload.attempts) == (UploadState.UPLOADED, 2)
    assert _attachments(books) == {str(expense.pk): 1}


def test_the_sweeper_leaves_an_upload_that_is_still_being_sent(sandbox):
    books = onboard("gbol")
    _, upload = _synced_with_upload(books)
    receipt_upload_claim(upload=upload, now=timezone.now() - timedelta(minutes=5))

    sweep.delay()

    upload.refresh_from_db()
    assert (upload.state, upload.attempts) == (UploadState.UPLOADING, 1)
    assert _attachment_posts() == 0
