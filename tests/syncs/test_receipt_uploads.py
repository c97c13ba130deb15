"""Receipt upload bookkeeping without Codat: backoff, claims, the sweeper's choices, and the
support actions in the admin."""

import uuid
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from sfe_portal.transitions import IllegalTransition
from syncs.models import ReceiptUpload, SyncState, UploadState
from syncs.receipt_uploads import (
    receipt_upload_claim,
    receipt_upload_retry,
    receipt_uploads_due,
    receipt_uploads_release_stuck,
    upload_backoff,
)
from tests.factories import ReceiptUploadFactory, SyncFactory

pytestmark = pytest.mark.django_db


def test_backoff_doubles_from_thirty_seconds_and_stops_at_an_hour():
    waits = [upload_backoff(n).total_seconds() for n in range(1, 9)]
    longest = [30, 60, 120, 240, 480, 960, 1920, 3600]
    assert all(0.8 * most <= wait <= most for wait, most in zip(waits, longest, strict=True))


@pytest.mark.parametrize("state", [UploadState.UPLOADING, UploadState.UPLOADED])
def test_only_waiting_or_failed_uploads_can_be_claimed(state):
    upload = ReceiptUploadFactory(state=state, codat_attachment_id="att-1")

    assert receipt_upload_claim(upload=upload, now=timezone.now()) is False
    upload.refresh_from_db()
    assert upload.state == state


def test_a_failed_upload_is_not_claimed_before_its_next_attempt():
    now = timezone.now()
    upload = ReceiptUploadFactory(
        state=UploadState.FAILED, attempts=1, next_attempt_at=now + timedelta(seconds=30)
    )

    assert receipt_upload_claim(upload=upload, now=now) is False
    assert receipt_upload_claim(upload=upload, now=now + timedelta(seconds=30)) is True
    assert (upload.state, upload.attempts) == (UploadState.UPLOADING, 2)


def test_a_claim_from_a_copy_read_before_another_attempt_loses():
    now = timezone.now()
    upload = ReceiptUploadFactory(state=UploadState.FAILED, attempts=1, next_attempt_at=now)
    stale = ReceiptUpload.objects.get(pk=upload.pk)
    # Another worker claimed it, failed again, and the row is back to "failed".
    ReceiptUpload.objects.filter(pk=upload.pk).update(attempts=2)

    assert receipt_upload_claim(upload=stale, now=now) is False


def test_stuck_uploads_are_released_only_after_their_lease():
    claimed_at = timezone.now()
    upload = ReceiptUploadFactory()
    receipt_upload_claim(upload=upload, now=claimed_at)

    assert receipt_uploads_release_stuck(now=claimed_at + timedelta(minutes=14)) == 0
    assert receipt_uploads_release_stuck(now=claimed_at + timedelta(minutes=15)) == 1
    upload.refresh_from_db()
    assert upload.state == UploadState.FAILED
    assert "worker stopped" in upload.last_error
    assert receipt_uploads_due(now=claimed_at + timedelta(minutes=15)) == [upload.pk]


def test_an_upload_that_stopped_its_worker_on_every_attempt_gives_up():
    claimed_at = timezone.now()
    upload = ReceiptUploadFactory(state=UploadState.FAILED, attempts=5, next_attempt_at=claimed_at)
    receipt_upload_claim(upload=upload, now=claimed_at)

    receipt_uploads_release_stuck(now=claimed_at + timedelta(minutes=15))

    upload.refresh_from_db()
    assert (upload.state, upload.attempts) == (UploadState.GAVE_UP, 6)
    assert receipt_uploads_due(now=claimed_at + timedelta(hours=1)) == []


def test_pending_uploads_are_due_for_the_sweeper_only_once_their_task_is_clearly_lost():
    upload = ReceiptUploadFactory()
    created = upload.created_at

    assert receipt_uploads_due(now=created + timedelta(seconds=30)) == []
    assert receipt_uploads_due(now=created + timedelta(minutes=3)) == [upload.pk]


def test_an_upload_still_being_tried_cannot_be_sent_again_by_support():
    upload = ReceiptUploadFactory(state=UploadState.FAILED)

    with pytest.raises(IllegalTransition):
        receipt_upload_retry(upload=upload)


def test_upload_again_in_the_admin_queues_given_up_uploads_and_leaves_the_rest(
    admin_client, django_capture_on_commit_callbacks
):
    gave_up = ReceiptUploadFactory(state=UploadState.GAVE_UP, attempts=6, last_error="HTTP 503")
    failed = ReceiptUploadFactory(state=UploadState.FAILED, attempts=2)

    with django_capture_on_commit_callbacks() as callbacks:
        response = admin_client.post(
            reverse("admin:syncs_receiptupload_changelist"),
            {"action": "upload_again", "_selected_action": [gave_up.pk, failed.pk]},
            follow=True,
        )

    assert response.status_code == 200
    gave_up.refresh_from_db()
    failed.refresh_from_db()
    assert (gave_up.state, gave_up.attempts) == (UploadState.PENDING, 0)
    assert failed.state == UploadState.FAILED
    assert len(callbacks) == 1
    assert "1 upload(s) will be sent again." in response.content.decode()


def test_repoll_now_in_the_admin_queues_a_poll_of_syncs_in_progress_only(
    admin_client, django_capture_on_commit_callbacks
):
    running = SyncFactory(state=SyncState.IN_PROGRESS, codat_sync_id=uuid.uuid4())
    finished = SyncFactory(state=SyncState.SUCCEEDED, codat_sync_id=uuid.uuid4())

    with django_capture_on_commit_callbacks() as callbacks:
        response = admin_client.post(
            reverse("admin:syncs_sync_changelist"),
            {"action": "repoll_now", "_selected_action": [running.pk, finished.pk]},
            follow=True,
        )

    assert response.status_code == 200
    assert len(callbacks) == 1
    content = response.content.decode()
    assert "1 sync(s) will be polled now." in content
    assert "1 sync(s) skipped" in content
