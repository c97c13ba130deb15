"""The sandbox's own state: Codat-side companies, connections, cached accounting data, datasets,
syncs, and the records written to each emulated accounting platform.

Every table is prefixed `sandbox_` by the app label. Nothing here refers to the portal's models:
the sandbox and the portal meet only over HTTP.
"""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

from django.db import models


class ExpensesApi(models.TextChoices):
    V1 = "v1", "Sync for Expenses v1"
    EXPENSES = "expenses", "Expenses (the newer generation)"


class SandboxCompany(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.TextField()  # Codat sets no maximum length
    description = models.TextField(blank=True)
    tags = models.JSONField(default=dict)
    created = models.DateTimeField()
    # The company's Sync for Expenses configuration (bankAccount/supplier/customer) once saved.
    configuration = models.JSONField(null=True, blank=True)
    # Which generation of the Expenses API the routes both generations share answer in for this
    # company (mapping options' shape, the rules of an expense update, `products`): the one it
    # last wrote through, or the one set on the control surface. `api.company_api` reads it.
    expenses_api = models.CharField(
        max_length=10, choices=ExpensesApi.choices, default=ExpensesApi.V1
    )

    class Meta:
        ordering = ["created", "id"]
        verbose_name_plural = "sandbox companies"

    def __str__(self) -> str:
        return self.name


class ConnectionStatus(models.TextChoices):
    PENDING_AUTH = "PendingAuth"
    LINKED = "Linked"
    UNLINKED = "Unlinked"
    DEAUTHORIZED = "Deauthorized"


class SandboxConnection(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    company = models.ForeignKey(
        SandboxCompany, on_delete=models.CASCADE, related_name="connections"
    )
    platform_key = models.CharField(max_length=4)
    platform_name = models.CharField(max_length=100)
    source_type = models.CharField(max_length=20)  # Accounting or Expense
    integration_id = models.UUIDField(default=uuid.uuid4)
    source_id = models.UUIDField(default=uuid.uuid4)
    status = models.CharField(max_length=20, choices=ConnectionStatus.choices)
    created = models.DateTimeField()
    last_sync = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created", "id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status__in=ConnectionStatus.values),
                name="sandbox_connection_status_valid",
            )
        ]

    def __str__(self) -> str:
        return f"{self.platform_name} ({self.status})"


class SandboxRecord(models.Model):
    """One record of the company's accounting data (an account, supplier, tax rate…), stored in
    the Codat shape it is served in. Seeded when the accounting connection is authorised."""

    company = models.ForeignKey(
        SandboxCompany, on_delete=models.CASCADE, related_name="records", db_index=False
    )
    data_type = models.CharField(max_length=40)
    record_id = models.CharField(max_length=100)
    position = models.PositiveIntegerField()
    data = models.JSONField()

    class Meta:
        ordering = ["position"]
        constraints = [
            models.UniqueConstraint(
                fields=["company", "data_type", "record_id"], name="sandbox_record_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.data_type} {self.record_id}"


class SandboxDataStatus(models.Model):
    """A refresh of one data type: requested at link time (Codat's "fetch on first link") or by
    `POST data/all`, readable once `available_at` has passed. No row means never requested, and
    reads answer 409 until the first refresh is available."""

    company = models.ForeignKey(
        SandboxCompany,
        on_delete=models.CASCADE,
        related_name="data_status",
        db_index=False,
    )
    data_type = models.CharField(max_length=40)
    requested_at = models.DateTimeField()
    available_at = models.DateTimeField()
    first_available_at = models.DateTimeField()
    latest_sync_id = models.UUIDField(default=uuid.uuid4)

    class Meta:
        verbose_name_plural = "sandbox data statuses"
        constraints = [
            models.UniqueConstraint(
                fields=["company", "data_type"], name="sandbox_datastatus_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.data_type} of {self.company_id}"


class SandboxDataset(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    company = models.ForeignKey(SandboxCompany, on_delete=models.CASCADE, related_name="datasets")
    items = models.JSONField()
    created = models.DateTimeField()
    synced = models.BooleanField(default=False)

    class Meta:
        ordering = ["created"]

    def __str__(self) -> str:
        return str(self.id)


class SyncState(models.TextChoices):
    QUEUED = "queued"
    RUNNING = "running"
    FINISHED = "finished"


class SyncKind(models.TextChoices):
    """What a sync carries. v1 syncs read their datasets (or `update_item`); every other kind
    is one call of the newer API and keeps its transactions in `items`."""

    V1 = "v1", "v1 datasets or update"
    EXPENSES = "expenses", "Expense transactions"
    EXPENSE_UPDATE = "expense-update", "Expense transaction update"
    TRANSFER = "transfer", "Transfer (create or update)"
    ADJUSTMENTS = "adjustments", "Adjustments"
    REIMBURSABLES = "reimbursables", "Reimbursable expenses"
    REIMBURSABLE_UPDATE = "reimbursable-update", "Reimbursable expense update"


class SandboxSync(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    company = models.ForeignKey(SandboxCompany, on_delete=models.CASCADE, related_name="syncs")
    # Monotonic order of initiation: the per-company FIFO sorts on it.
    seq = models.PositiveBigIntegerField(db_index=True)
    state = models.CharField(max_length=10, choices=SyncState.choices, default=SyncState.QUEUED)
    status_code = models.PositiveIntegerField(default=1000)
    status_text = models.CharField(max_length=20, default="NotStarted")
    error_message = models.TextField(blank=True)
    exception_message = models.TextField(blank=True)
    data_pushed = models.BooleanField(default=False)
    dataset_ids = models.JSONField(default=list)
    # An update (PUT) sync carries its one transaction here instead of datasets.
    update_item = models.JSONField(null=True, blank=True)
    kind = models.CharField(max_length=20, choices=SyncKind.choices, default=SyncKind.V1)
    # The newer API's syncs carry their normalised transactions here.
    items = models.JSONField(null=True, blank=True)
    created = models.DateTimeField()
    due_at = models.DateTimeField()
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["seq"]
        indexes = [models.Index(fields=["state", "due_at"], name="sandbox_sync_due")]

    def __str__(self) -> str:
        return f"{self.id} {self.status_code}"


class TxStatus(models.TextChoices):
    PENDING = "Pending"
    COMPLETED = "Completed"
    VALIDATION_ERROR = "ValidationError"
    PUSH_ERROR = "PushError"


class SandboxSyncTransaction(models.Model):
    sync = models.ForeignKey(SandboxSync, on_delete=models.CASCADE, related_name="transactions")
    company = models.ForeignKey(SandboxCompany, on_delete=models.CASCADE, db_index=False)
    transaction_id = models.CharField(max_length=36)
    position = models.PositiveIntegerField()
    status = models.CharField(max_length=20, choices=TxStatus.choices, default=TxStatus.PENDING)
    message = models.TextField(blank=True)
    # Only the type is kept here; the transaction itself stays in its dataset (or the update
    # sync), which keeps the engine's bulk writes small.
    tx_type = models.CharField(max_length=20)

    class Meta:
        ordering = ["position"]
        indexes = [
            models.Index(fields=["company", "transaction_id", "status"], name="sandbox_tx_lookup")
        ]

    def __str__(self) -> str:
        return f"{self.transaction_id} {self.status}"


class RecordKind(models.TextChoices):
    EXPENSE = "expense", "Card expense"
    TRANSFER = "transfer", "Transfer"
    BILL = "bill", "Bill"
    JOURNAL = "journal", "Journal"


class SandboxLedgerRecord(models.Model):
    """What the accounting platform holds after a sync: a direct cost, direct income, transfer,
    bill or journal, with its lines resolved to account names."""

    company = models.ForeignKey(
        SandboxCompany, on_delete=models.CASCADE, related_name="ledger", db_index=False
    )
    sync = models.ForeignKey(SandboxSync, on_delete=models.CASCADE, related_name="ledger_records")
    transaction_id = models.CharField(max_length=36)
    record_type = models.CharField(max_length=30)
    record_ref = models.CharField(max_length=40)
    type = models.CharField(max_length=20)
    issue_date = models.CharField(max_length=40)
    currency = models.CharField(max_length=3)
    currency_rate = models.DecimalField(max_digits=20, decimal_places=9, null=True, blank=True)
    bank_account = models.JSONField(default=dict)
    contact = models.JSONField(null=True, blank=True)
    merchant_name = models.TextField(blank=True)
    notes = models.TextField(blank=True)
    lines = models.JSONField(default=list)
    total = models.DecimalField(max_digits=20, decimal_places=2)
    # The total in the company's base currency: total times currencyRate when the record is booked
    # in another currency (Codat's rate is base units per foreign unit), else the total.
    base_amount = models.DecimalField(max_digits=20, decimal_places=2, null=True, blank=True)
    attachment_count = models.PositiveIntegerField(default=0)
    version = models.PositiveIntegerField(default=1)
    written_at = models.DateTimeField()
    kind = models.CharField(max_length=10, choices=RecordKind.choices, default=RecordKind.EXPENSE)
    # The generation of the API that wrote (or last rewrote) the record.
    api = models.CharField(max_length=10, choices=ExpensesApi.choices, default=ExpensesApi.V1)
    reference = models.TextField(blank=True)
    # Posted as a draft (Dynamics 365's postAsDraft): the accountant still has to post it.
    draft = models.BooleanField(default=False)
    # A bill's due date (reimbursable expenses), as a calendar date.
    due_date = models.CharField(max_length=40, blank=True)
    # A transfer's two sides: {"from": {accountId, accountName, currency, amount}, "to": {…},
    # "description"}; each amount is in its own account's currency.
    transfer = models.JSONField(null=True, blank=True)

    class Meta:
        ordering = ["written_at", "id"]
        constraints = [
            # Duplicate protection, enforced by the database as well as the engine.
            models.UniqueConstraint(
                fields=["company", "transaction_id"], name="sandbox_ledger_one_per_tx"
            )
        ]

    def __str__(self) -> str:
        return f"{self.record_type} {self.transaction_id}"

    @property
    def journal_lines(self) -> list[dict[str, Any]]:
        """A journal's lines with the signed amount split into debit and credit, for the page."""
        out = []
        for line in self.lines:
            amount = Decimal(str(line.get("amount") or 0)).quantize(Decimal("0.01"))
            out.append(
                {
                    **line,
                    "debit": str(amount) if amount > 0 else "",
                    "credit": str(-amount) if amount < 0 else "",
                }
            )
        return out


class SandboxAttachment(models.Model):
    id = models.CharField(primary_key=True, max_length=24)
    record = models.ForeignKey(
        SandboxLedgerRecord, on_delete=models.CASCADE, related_name="attachments"
    )
    file_name = models.CharField(max_length=255)
    content_type = models.CharField(max_length=100, blank=True)
    size = models.PositiveBigIntegerField()
    content = models.BinaryField()
    uploaded_at = models.DateTimeField()

    class Meta:
        ordering = ["uploaded_at", "id"]

    def __str__(self) -> str:
        return self.file_name


class SandboxSettings(models.Model):
    """The one row of runtime knobs the control surface changes (`PUT _sandbox/settings`,
    `PUT _sandbox/faults`). Kept in the database so every process sees the same values."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    sync_delay_ms = models.PositiveIntegerField(default=2000)
    webhook_url = models.CharField(max_length=500, blank=True)
    webhook_secret = models.CharField(max_length=200, blank=True)
    rate_limit_per_minute = models.PositiveIntegerField(default=1000)
    error_rate = models.FloatField(default=0.0)
    error_status = models.PositiveSmallIntegerField(default=500)
    rate_limit_every = models.PositiveIntegerField(default=0)
    retry_after_s = models.PositiveIntegerField(default=1)
    latency_ms = models.PositiveIntegerField(default=0)
    timeout_rate = models.FloatField(default=0.0)
    timeout_stall_ms = models.PositiveIntegerField(default=35_000)
    # The "lost answer": the operation runs and commits, then the answer stalls past the client's
    # timeout (504), so only a retry (with the same Idempotency-Key) can learn what happened.
    lost_answer_rate = models.FloatField(default=0.0)
    request_counter = models.PositiveBigIntegerField(default=0)
    # Off: Sync for Expenses v1 is retired; its own operations answer 410 and every company
    # speaks the newer generation on the routes both share.
    v1_enabled = models.BooleanField(default=True)

    class Meta:
        verbose_name_plural = "sandbox settings"

    def __str__(self) -> str:
        return "Sandbox settings"

    def fault_dict(self) -> dict[str, Any]:
        return {
            "error_rate": self.error_rate,
            "error_status": self.error_status,
            "rate_limit_every": self.rate_limit_every,
            "retry_after_s": self.retry_after_s,
            "latency_ms": self.latency_ms,
            "timeout_rate": self.timeout_rate,
            "timeout_stall_ms": self.timeout_stall_ms,
            "lost_answer_rate": self.lost_answer_rate,
        }


class SandboxRateWindow(models.Model):
    """Requests counted per API key per minute, for the requests-per-minute limit."""

    key_digest = models.CharField(max_length=64)
    window_start = models.DateTimeField()
    count = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["key_digest", "window_start"], name="sandbox_rate_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.window_start} {self.count}"


class DeliveryStatus(models.TextChoices):
    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"


class SandboxWebhookDelivery(models.Model):
    id = models.CharField(primary_key=True, max_length=40)  # the webhook-id, stable across retries
    company = models.ForeignKey(SandboxCompany, on_delete=models.SET_NULL, null=True)
    sync = models.ForeignKey(SandboxSync, on_delete=models.SET_NULL, null=True)
    event_type = models.CharField(max_length=60)
    url = models.CharField(max_length=500)
    secret = models.CharField(max_length=200)
    payload = models.TextField()
    status = models.CharField(
        max_length=10, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING
    )
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    last_status_code = models.PositiveIntegerField(null=True, blank=True)
    # One entry per attempt: {"at", "statusCode", "error"}.
    history = models.JSONField(default=list)
    created = models.DateTimeField()
    next_attempt_at = models.DateTimeField()

    class Meta:
        ordering = ["created"]
        verbose_name_plural = "sandbox webhook deliveries"
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="sandbox_hook_due")]

    def __str__(self) -> str:
        return f"{self.event_type} {self.status}"


class IdempotencyState(models.TextChoices):
    IN_FLIGHT = "in_flight"
    DONE = "done"


class SandboxIdempotencyKey(models.Model):
    """One `Idempotency-Key` a client sent on a POST or PATCH, per company (`scope` is the
    company id of the path, empty for paths outside a company), with the first answer once there
    is one. Kept in the database so every process of the sandbox sees it; rows older than the
    90-minute window are ignored and swept."""

    scope = models.CharField(max_length=100, blank=True)
    key = models.CharField(max_length=100)
    method = models.CharField(max_length=10)
    path = models.CharField(max_length=500)
    body_digest = models.CharField(max_length=64)
    state = models.CharField(
        max_length=10, choices=IdempotencyState.choices, default=IdempotencyState.IN_FLIGHT
    )
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    content_type = models.CharField(max_length=100, blank=True)
    body = models.BinaryField(null=True, blank=True)
    created = models.DateTimeField(db_index=True)
    completed = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "sandbox idempotency key"
        constraints = [
            models.UniqueConstraint(fields=["scope", "key"], name="sandbox_idempotency_unique")
        ]

    def __str__(self) -> str:
        return f"{self.key} ({self.state})"
