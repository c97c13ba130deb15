"""The database itself refuses what the sync pipeline forbids."""

import uuid

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from syncs.models import BatchState, SyncState, UploadState, WebhookEvent
from tests.factories import (
    PushBatchFactory,
    ReceiptUploadFactory,
    SyncFactory,
    SyncTransactionFactory,
)

pytestmark = pytest.mark.django_db


def _refused(build):
    with pytest.raises(IntegrityError), transaction.atomic():
        build()


def test_posted_batch_must_carry_its_dataset_id():
    _refused(lambda: PushBatchFactory(state=BatchState.POSTED))
    PushBatchFactory(state=BatchState.POSTED, dataset_id=uuid.uuid4())


def test_batch_with_a_sync_requested_must_point_at_the_sync():
    _refused(lambda: PushBatchFactory(state=BatchState.SYNC_REQUESTED, dataset_id=uuid.uuid4()))


def test_dataset_ids_are_unique():
    dataset_id = uuid.uuid4()
    PushBatchFactory(state=BatchState.POSTED, dataset_id=dataset_id)

    _refused(lambda: PushBatchFactory(state=BatchState.POSTED, dataset_id=dataset_id))


def test_running_sync_must_have_a_codat_id():
    _refused(lambda: SyncFactory(state=SyncState.IN_PROGRESS))
    SyncFactory(state=SyncState.INITIATING)
    SyncFactory(state=SyncState.IN_PROGRESS, codat_sync_id=uuid.uuid4())


def test_only_finished_syncs_have_a_completion_time():
    _refused(
        lambda: SyncFactory(
            state=SyncState.IN_PROGRESS, codat_sync_id=uuid.uuid4(), completed_at=timezone.now()
        )
    )


def test_sync_refuses_unknown_state_and_kind():
    _refused(lambda: SyncFactory(state="paused"))
    _refused(lambda: SyncFactory(kind="pull"))


def test_a_transaction_result_is_stored_once_per_sync():
    result = SyncTransactionFactory()

    _refused(lambda: SyncTransactionFactory(sync=result.sync, transaction_id=result.transaction_id))


def test_transaction_result_refuses_unknown_status():
    _refused(lambda: SyncTransactionFactory(status="Done"))


def test_receipt_is_uploaded_once_per_sync():
    upload = ReceiptUploadFactory()

    _refused(lambda: ReceiptUploadFactory(receipt=upload.receipt, sync=upload.sync))


def test_uploaded_receipt_must_carry_codat_attachment_id():
    _refused(lambda: ReceiptUploadFactory(state=UploadState.UPLOADED))
    ReceiptUploadFactory(state=UploadState.UPLOADED, codat_attachment_id="14000")


def test_webhook_is_recorded_once_per_webhook_id():
    WebhookEvent.objects.create(webhook_id="msg_1", event_type="x", payload={})

    _refused(lambda: WebhookEvent.objects.create(webhook_id="msg_1", event_type="x", payload={}))
