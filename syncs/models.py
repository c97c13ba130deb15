"""What we sent to Codat and what came back: datasets (push batches), syncs, per-transaction
results, receipt uploads, received webhooks and the workers' heartbeats. The log of every
exchange with Codat is the gateway's (`gateway.models.CodatExchange`)."""

from __future__ import annotations

import uuid

from django.db import models
from django.db.models import Q

from codat.expenses_api import EXPENSE_TRANSACTIONS, TRANSFER_TRANSACTIONS
from companies.models import Company
from companies.platforms import ApiGeneration
from expenses.models import Expense, Receipt
from sfe_portal.db import choices_check

# Codat's batch limit for one expense dataset.
MAX_BATCH_SIZE = 50


class BatchEndpoint(models.TextChoices):
    """The endpoints a batch is written through (v1's datasets are all expense transactions)."""

    EXPENSES = EXPENSE_TRANSACTIONS, "Expense transactions"
    TRANSFER = TRANSFER_TRANSACTIONS, "Transfer (one a batch)"


class BatchState(models.TextChoices):
    PENDING = "pending", "Written, not yet posted"
    POSTED = "posted", "Dataset created in Codat"
    SYNC_REQUESTED = "sync_requested", "Sync initiated"
    DONE = "done", "Results reconciled"
    ABANDONED = "abandoned", "Abandoned"


_B = BatchState
BATCH_TRANSITIONS: dict[str, frozenset[str]] = {
    # Straight to sync requested where sending a batch starts its own sync (no dataset).
    _B.PENDING: frozenset({_B.POSTED, _B.SYNC_REQUESTED, _B.ABANDONED}),
    _B.POSTED: frozenset({_B.SYNC_REQUESTED, _B.ABANDONED}),
    _B.SYNC_REQUESTED: frozenset({_B.DONE}),
    _B.DONE: frozenset(),
    _B.ABANDONED: frozenset(),
}


class PushBatch(models.Model):
    """One batch of ≤ 50 expenses sent to Codat in one call (a v1 dataset, or one call that
    starts its own sync), written locally before any HTTP call."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    company = models.ForeignKey(
        Company, on_delete=models.PROTECT, related_name="push_batches", db_index=False
    )
    expenses: models.ManyToManyField[Expense, PushBatchItem] = models.ManyToManyField(
        Expense, through="PushBatchItem", related_name="push_batches"
    )
    state = models.CharField(max_length=16, choices=BatchState.choices, default=BatchState.PENDING)
    dataset_id = models.UUIDField(null=True, blank=True, unique=True)
    sync = models.ForeignKey(
        "Sync", on_delete=models.SET_NULL, null=True, blank=True, related_name="batches"
    )
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    # The dataset's items as Codat JSON, built while the push was claimed (its expenses were
    # read and checked then, and stay frozen while pushing), so posting reads nothing again.
    # Empty on batches planned before it was kept: those are built from their expenses.
    payload = models.JSONField(null=True, blank=True, editable=False)
    # A worker's claim on the batch; the sweeper re-queues claims older than the task limit.
    claimed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    posted_at = models.DateTimeField(null=True, blank=True)
    # The generation the batch was planned for and is always sent through (its sync's).
    expenses_api = models.CharField(
        "expenses API", max_length=8, choices=ApiGeneration.choices, default=ApiGeneration.V1
    )
    # Where sending the batch writes to the ledger (a generation with one sync per batch): the
    # `Idempotency-Key` it is sent under, written by the claim before any call, and when it was
    # first sent under it. Codat replays the key's first answer for 90 minutes, so a resend
    # within them cannot write twice; past them, or after an answered 5xx, the batch's sync is
    # looked for before the key is replaced. Empty where a send writes nothing (a v1 dataset).
    idempotency_key = models.UUIDField(null=True, blank=True, editable=False)
    key_first_sent_at = models.DateTimeField(null=True, blank=True)
    # Where the batch is written in the newer generation (`codat.expenses_api`): its expenses
    # through create-expense-transactions, or one transfer PUT to create-transfer-transaction.
    # A PUT is answered under no key: its `idempotency_key` only names the attempt, sent at
    # `key_first_sent_at`, that must be looked for before any other (`syncs.idempotency`).
    endpoint = models.CharField(
        max_length=40, default=EXPENSE_TRANSACTIONS, editable=False, choices=BatchEndpoint.choices
    )

    class Meta:
        verbose_name_plural = "push batches"
        ordering = ["-created_at"]
        constraints = [
            choices_check("state", BatchState, "pushbatch_state_valid"),
            choices_check("expenses_api", ApiGeneration, "pushbatch_expenses_api_valid"),
            choices_check("endpoint", BatchEndpoint, "pushbatch_endpoint_valid"),
            models.CheckConstraint(
                condition=~Q(state=_B.POSTED) | Q(dataset_id__isnull=False),
                name="pushbatch_posted_has_dataset",
            ),
            models.CheckConstraint(
                condition=~Q(state__in=[_B.SYNC_REQUESTED, _B.DONE]) | Q(sync__isnull=False),
                name="pushbatch_synced_has_sync",
            ),
        ]
        indexes = [models.Index(fields=["company", "state"], name="pushbatch_company_state_idx")]

    def __str__(self) -> str:
        return f"Batch {self.id} ({self.state})"


class PushBatchItem(models.Model):
    # No index of its own: the unique (batch, expense) index starts with the batch.
    batch = models.ForeignKey(
        PushBatch, on_delete=models.CASCADE, related_name="items", db_index=False
    )
    expense = models.ForeignKey(Expense, on_delete=models.PROTECT, related_name="batch_items")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["batch", "expense"], name="pushbatchitem_unique")
        ]

    def __str__(self) -> str:
        return f"{self.expense_id} in {self.batch_id}"


class SyncKind(models.TextChoices):
    PUSH = "push", "Push of new expenses"
    UPDATE = "update", "Update of a synced expense"


class SyncState(models.TextChoices):
    INITIATING = "initiating", "Initiating"
    IN_PROGRESS = "in_progress", "In progress"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"


_S = SyncState
SYNC_TRANSITIONS: dict[str, frozenset[str]] = {
    # An initiate call that provably never reached Codat fails without a sync id.
    _S.INITIATING: frozenset({_S.IN_PROGRESS, _S.FAILED}),
    _S.IN_PROGRESS: frozenset({_S.SUCCEEDED, _S.FAILED}),
    _S.SUCCEEDED: frozenset(),
    _S.FAILED: frozenset(),
}
SYNC_FINISHED_STATES = frozenset({_S.SUCCEEDED, _S.FAILED})


class Sync(models.Model):
    company = models.ForeignKey(
        Company, on_delete=models.PROTECT, related_name="syncs", db_index=False
    )
    # Recorded as "initiating" before the HTTP call, so a crash can find and adopt the sync.
    codat_sync_id = models.UUIDField(null=True, blank=True, unique=True)
    kind = models.CharField(max_length=8, choices=SyncKind.choices, default=SyncKind.PUSH)
    # The generation the sync was written through: it is followed, corrected and its receipts
    # sent through the same one, whatever the company speaks since. Rows from before the
    # newer generation were all v1.
    expenses_api = models.CharField(
        "expenses API", max_length=8, choices=ApiGeneration.choices, default=ApiGeneration.V1
    )
    # For an update sync: the synced expense it corrects (v1 updates carry no dataset).
    update_of = models.ForeignKey(
        Expense, on_delete=models.PROTECT, null=True, blank=True, related_name="update_syncs"
    )
    state = models.CharField(max_length=12, choices=SyncState.choices, default=SyncState.INITIATING)
    status_code = models.PositiveIntegerField(null=True, blank=True)
    status_text = models.CharField(max_length=100, blank=True)
    error_message = models.TextField(blank=True)
    exception_message = models.TextField(blank=True)
    data_pushed = models.BooleanField(null=True, blank=True)
    is_long_running = models.BooleanField(default=False)
    # The configuration in force when the sync was initiated (bank account, supplier, customer).
    configuration_snapshot = models.JSONField(default=dict, blank=True)
    # The push this sync is part of: every sync one claim makes shares it (a push through a
    # generation that starts a sync per batch is many syncs). None for corrections.
    push_id = models.UUIDField(null=True, blank=True, editable=False)
    requested_at = models.DateTimeField(auto_now_add=True)
    # Written (and committed) just before initiate-sync is sent: after a crash, a sync Codat
    # started after this moment and that we do not know is ours, and is adopted.
    initiate_requested_at = models.DateTimeField(null=True, blank=True)
    # A push's approved expenses are claimed a slice at a time, each slice committed with its
    # batches so they can be posted while the next is claimed. Set until the claim is complete:
    # the sync is initiated only after that, and a claim cut short by a crash is continued.
    claiming = models.BooleanField(default=False)
    codat_sync_utc = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    last_polled_at = models.DateTimeField(null=True, blank=True)
    next_poll_at = models.DateTimeField(null=True, blank=True)
    poll_count = models.PositiveIntegerField(default=0)
    results_fetched_at = models.DateTimeField(null=True, blank=True)
    # Counted once when the results are settled, so the dashboard sums syncs, not results.
    transactions_completed = models.PositiveIntegerField(default=0)
    transactions_failed = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-requested_at"]
        constraints = [
            choices_check("kind", SyncKind, "sync_kind_valid"),
            choices_check("state", SyncState, "sync_state_valid"),
            choices_check("expenses_api", ApiGeneration, "sync_expenses_api_valid"),
            models.CheckConstraint(
                condition=Q(state=_S.INITIATING)
                | Q(state=_S.FAILED)
                | Q(codat_sync_id__isnull=False),
                name="sync_started_has_codat_id",
            ),
            models.CheckConstraint(
                condition=Q(completed_at__isnull=True) | Q(state__in=[_S.SUCCEEDED, _S.FAILED]),
                name="sync_completed_only_when_finished",
            ),
            models.CheckConstraint(
                condition=Q(kind=SyncKind.UPDATE) | Q(update_of__isnull=True),
                name="sync_update_of_only_for_updates",
            ),
        ]
        indexes = [
            models.Index(fields=["company", "-requested_at"], name="sync_company_recent_idx"),
            # The syncs of one push, gathered for the push panel.
            models.Index(
                fields=["push_id"], name="sync_push_idx", condition=Q(push_id__isnull=False)
            ),
            models.Index(fields=["state", "next_poll_at"], name="sync_polling_idx"),
            # The dashboard reads every figure of a date range from this index alone.
            models.Index(
                fields=["requested_at"],
                include=[
                    "company",
                    "state",
                    "status_code",
                    "transactions_completed",
                    "transactions_failed",
                ],
                name="sync_dashboard_idx",
            ),
            models.Index(fields=["status_code", "requested_at"], name="sync_code_idx"),
            models.Index(
                fields=["company", "completed_at"],
                name="sync_company_success_idx",
                condition=Q(state="succeeded"),
            ),
        ]

    def __str__(self) -> str:
        return f"Sync {self.codat_sync_id or '(initiating)'} · {self.company}"

    @property
    def is_finished(self) -> bool:
        return self.state in SYNC_FINISHED_STATES

    @property
    def duration_text(self) -> str:
        """How long the sync took, e.g. "40 s", "3 min 5 s"; empty while it runs."""
        if self.completed_at is None:
            return ""
        seconds = max(0, round((self.completed_at - self.requested_at).total_seconds()))
        hours, rest = divmod(seconds, 3600)
        minutes, seconds = divmod(rest, 60)
        if hours:
            return f"{hours} h {minutes} min"
        return f"{minutes} min {seconds} s" if minutes else f"{seconds} s"


class TransactionStatus(models.TextChoices):
    """Codat's `TransactionStatus` for one transaction of a sync."""

    UNKNOWN = "Unknown", "Unknown"
    PENDING = "Pending", "Pending"
    VALIDATION_ERROR = "ValidationError", "Validation error"
    COMPLETED = "Completed", "Completed"
    PUSH_ERROR = "PushError", "Push error"


FAILED_TRANSACTION_STATUSES = (TransactionStatus.VALIDATION_ERROR, TransactionStatus.PUSH_ERROR)


class SyncTransaction(models.Model):
    sync = models.ForeignKey(
        Sync, on_delete=models.CASCADE, related_name="transactions", db_index=False
    )
    # The sync's company, kept on the row so failures are grouped by cause across companies
    # without joining a million results to their syncs.
    company = models.ForeignKey(
        Company, on_delete=models.CASCADE, null=True, blank=True, db_index=False, related_name="+"
    )
    # Codat reports by transaction id; an id we do not know is kept with no expense.
    transaction_id = models.UUIDField()
    expense = models.ForeignKey(
        Expense,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="sync_transactions",
        db_index=False,
    )
    status = models.CharField(max_length=16, choices=TransactionStatus.choices)
    message = models.TextField(blank=True)
    integration_type = models.CharField(max_length=16, blank=True)
    # The message with ids, amounts and names taken out (syncs.causes), for grouping failures.
    cause = models.CharField(max_length=300, blank=True)
    fetched_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["sync", "transaction_id"]
        constraints = [
            models.UniqueConstraint(
                fields=["sync", "transaction_id"], name="synctransaction_unique"
            ),
            choices_check("status", TransactionStatus, "synctransaction_status_valid"),
        ]
        indexes = [
            models.Index(fields=["expense", "-fetched_at"], name="synctransaction_expense_idx"),
            models.Index(fields=["status", "fetched_at"], name="synctransaction_status_idx"),
            models.Index(
                fields=["cause", "fetched_at"],
                name="synctransaction_cause_idx",
                condition=Q(status__in=["ValidationError", "PushError"]),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.transaction_id}: {self.status}"


class UploadState(models.TextChoices):
    PENDING = "pending", "Waiting"
    UPLOADING = "uploading", "Uploading"
    UPLOADED = "uploaded", "Uploaded"
    FAILED = "failed", "Failed (will retry)"
    GAVE_UP = "gave_up", "Failed (needs attention)"


_U = UploadState
UPLOAD_TRANSITIONS: dict[str, frozenset[str]] = {
    _U.PENDING: frozenset({_U.UPLOADING}),
    _U.UPLOADING: frozenset({_U.UPLOADED, _U.FAILED, _U.GAVE_UP}),
    _U.FAILED: frozenset({_U.UPLOADING, _U.GAVE_UP}),
    # Support can send a file again, e.g. after the accountant deleted it in the ledger.
    _U.GAVE_UP: frozenset({_U.PENDING}),
    _U.UPLOADED: frozenset({_U.PENDING}),
}


class ReceiptUpload(models.Model):
    receipt = models.ForeignKey(
        Receipt, on_delete=models.PROTECT, related_name="uploads", db_index=False
    )
    sync = models.ForeignKey(Sync, on_delete=models.PROTECT, related_name="receipt_uploads")
    state = models.CharField(
        max_length=12, choices=UploadState.choices, default=UploadState.PENDING
    )
    attempts = models.PositiveIntegerField(default=0)
    codat_attachment_id = models.CharField(max_length=200, blank=True)
    last_error = models.TextField(blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    uploaded_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at"]
        constraints = [
            models.UniqueConstraint(fields=["receipt", "sync"], name="receiptupload_unique"),
            choices_check("state", UploadState, "receiptupload_state_valid"),
            models.CheckConstraint(
                condition=~Q(state=_U.UPLOADED) | ~Q(codat_attachment_id=""),
                name="receiptupload_uploaded_has_id",
            ),
        ]
        indexes = [
            models.Index(fields=["state", "next_attempt_at"], name="receiptupload_due_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.receipt} → {self.sync} ({self.state})"


class WebhookEvent(models.Model):
    """A webhook delivery from Codat, recorded once per webhook id whatever the retries."""

    webhook_id = models.CharField(max_length=200, unique=True)
    event_type = models.CharField(max_length=100)
    payload = models.JSONField()
    verified = models.BooleanField(default=False)
    codat_company_id = models.UUIDField(null=True, blank=True)
    codat_sync_id = models.UUIDField(null=True, blank=True)
    received_at = models.DateTimeField(auto_now_add=True)
    processed_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-received_at"]
        indexes = [
            models.Index(fields=["codat_sync_id"], name="webhookevent_sync_idx"),
            models.Index(fields=["-received_at"], name="webhookevent_recent_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.event_type} ({self.webhook_id})"


class WorkerHeartbeat(models.Model):
    """The last task a worker ran on each queue: proof that the workers are alive."""

    queue = models.CharField(max_length=100, unique=True)
    hostname = models.CharField(max_length=200, blank=True)
    last_seen_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.queue} @ {self.last_seen_at:%Y-%m-%d %H:%M:%S}"
