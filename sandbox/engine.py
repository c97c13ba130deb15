"""The sync engine: takes queued syncs per company, first in first out, one at a time, validates
each transaction against the platform's rules (API-NOTES §4) and writes what passes to the
platform's ledger.

`process_due_syncs(now=…)` is the whole service. Celery calls it after the configured delay; the
API calls it opportunistically when sync status is read, so a polling client always sees progress
even with no worker. A sync is first claimed (it reads `Started`, and holds its company's queue),
then processed inside one transaction holding the company row's lock, so two workers never run two
syncs of one company at once and a crash leaves nothing half written; a claim left by a dead worker
is taken over after STALE_CLAIM.

Both generations of the API share this engine, the queue, the statuses and the webhooks: a v1
sync reads its datasets (or its update), a sync of the newer API carries its transactions in
`items` and its `kind` (expenses, an update, a transfer, adjustments, reimbursables); the
checkers of `sandbox.checks` apply each platform's rules.

Policies (documented in the README of the sandbox and in the report):
- Duplicate protection: if any transaction of a sync was already `Completed` for the company, the
  whole sync ends 5080 and nothing from it is written, whichever generation wrote it first.
- A sync where some transactions fail validation still writes the ones that pass, and ends
  5120 `ValidateError` (Codat counts a sync with any failed item as failed); a push failure
  (the platform refusing a record in a locked period) ends it 5130 `PushError`.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.db.models import Q

from sandbox.checks import (
    BillChecker,
    ExpenseChecker,
    JournalChecker,
    MasterData,
    TransferChecker,
    base_amount,
    label,
    load_master_data,
)
from sandbox.models import (
    ConnectionStatus,
    ExpensesApi,
    SandboxCompany,
    SandboxConnection,
    SandboxDataset,
    SandboxLedgerRecord,
    SandboxRecord,
    SandboxSync,
    SandboxSyncTransaction,
    SyncKind,
    SyncState,
    TxStatus,
)
from sandbox.platforms import PLATFORMS, TRANSFER, Platform
from sandbox.webhooks import webhook_enqueue_for_sync

# Re-exported: tests and tools import them from the engine.
__all__ = ["base_amount", "load_master_data"]

logger = logging.getLogger(__name__)
LONG_RUNNING = timedelta(minutes=10)
# A claim this old is a dead worker's: its sync is taken over (see claim_next_sync).
STALE_CLAIM = timedelta(minutes=5)
DUPLICATE_TEXT = "One or more transactions have previously been processed: {ids}"


@dataclass(frozen=True)
class Outcome:
    code: int
    text: str
    error: str = ""
    exception: str = ""


def company_base_currency(company: SandboxCompany) -> str:
    info = SandboxRecord.objects.filter(company=company, data_type="company").first()
    return str(info.data.get("baseCurrency", "")) if info is not None else ""


def accounting_connection(company: SandboxCompany) -> SandboxConnection | None:
    """The company's accounting connection: the linked one if any, else the newest."""
    connections = list(
        SandboxConnection.objects.filter(company=company, source_type="Accounting").order_by(
            "-created"
        )
    )
    linked = [c for c in connections if c.status == ConnectionStatus.LINKED]
    chosen = linked or connections
    return chosen[0] if chosen else None


def _config_problem(company: SandboxCompany, data: MasterData) -> str | None:
    config = company.configuration
    if not config:
        return (
            "Company configuration has not been set: save a bank account, supplier and customer "
            f"with POST /companies/{company.id}/sync/expenses/config."
        )
    bank_id = (config.get("bankAccount") or {}).get("id")
    if not bank_id:
        return "Configuration error: no bank account is configured for the company."
    bank = data.accounts.get(bank_id)
    if bank is None or bank.get("metadata", {}).get("isDeleted"):
        return f"Configuration error: the configured bank account {bank_id} does not exist."
    if not bank.get("isBankAccount") or bank.get("status") == "Archived":
        return (
            f"Configuration error: the configured bank account {label(bank)} is not an active "
            "bank or credit-card account."
        )
    for key, records in (("supplier", data.suppliers), ("customer", data.customers)):
        ref_id = (config.get(key) or {}).get("id")
        if ref_id and (
            ref_id not in records or records[ref_id].get("metadata", {}).get("isDeleted")
        ):
            return f"Configuration error: the configured {key} {ref_id} does not exist."
    return None


def sync_items(sync: SandboxSync) -> list[dict[str, Any]]:
    if sync.items is not None:
        return list(sync.items)
    if sync.update_item is not None:
        return [sync.update_item]
    datasets = {str(d.id): d.items for d in SandboxDataset.objects.filter(id__in=sync.dataset_ids)}
    return [item for dataset_id in sync.dataset_ids for item in datasets.get(dataset_id, [])]


def _finish(sync: SandboxSync, outcome: Outcome, now: datetime, pushed: bool) -> None:
    sync.state = SyncState.FINISHED
    sync.status_code = outcome.code
    sync.status_text = outcome.text
    sync.error_message = outcome.error
    sync.exception_message = outcome.exception
    sync.data_pushed = pushed
    sync.finished_at = now
    sync.save(
        update_fields=[
            "state",
            "status_code",
            "status_text",
            "error_message",
            "exception_message",
            "data_pushed",
            "finished_at",
        ]
    )


def _fail_all(
    sync: SandboxSync,
    items: list[dict[str, Any]],
    outcome: Outcome,
    now: datetime,
    messages: dict[str, str] | None = None,
) -> None:
    """A sync stopped before any transaction was tried: every transaction ends with the reason,
    so a client reading statuses never waits on `Pending` forever."""
    SandboxSyncTransaction.objects.bulk_create(
        SandboxSyncTransaction(
            sync=sync,
            company_id=sync.company_id,
            transaction_id=str(item.get("id", "")),
            position=index,
            status=TxStatus.VALIDATION_ERROR,
            message=(messages or {}).get(str(item.get("id")), outcome.error),
            tx_type=str(item.get("type", "")),
        )
        for index, item in enumerate(items)
        if isinstance(item, dict)
    )
    _finish(sync, outcome, now, pushed=False)


_UPDATES = frozenset({SyncKind.EXPENSE_UPDATE, SyncKind.REIMBURSABLE_UPDATE})


def transfer_update_refused(platform: Platform) -> str:
    return (
        f"Transfers cannot be updated in {platform.name}: the transaction id has already been "
        "used for a transfer, and updating one is supported for QuickBooks Online (and "
        "FreeAgent) only."
    )


def _checker(
    sync: SandboxSync, platform: Platform, data: MasterData, config: dict[str, Any]
) -> ExpenseChecker:
    if sync.kind == SyncKind.V1:
        return ExpenseChecker(platform, data, config, api=ExpensesApi.V1)
    kinds: dict[str, type[ExpenseChecker]] = {
        SyncKind.TRANSFER: TransferChecker,
        SyncKind.ADJUSTMENTS: JournalChecker,
        SyncKind.REIMBURSABLES: BillChecker,
        SyncKind.REIMBURSABLE_UPDATE: BillChecker,
    }
    return kinds.get(sync.kind, ExpenseChecker)(platform, data, config, api=ExpensesApi.EXPENSES)


def run_sync(company: SandboxCompany, sync: SandboxSync, now: datetime) -> None:
    """Process one claimed sync of `company` to its end (the caller holds the company lock)."""
    items = sync_items(sync)
    connection = accounting_connection(company)
    if connection is None or connection.status != ConnectionStatus.LINKED:
        state = connection.status if connection else "missing"
        _fail_all(
            sync,
            items,
            Outcome(
                4040,
                "Error",
                f"The company's accounting connection is {state}: the customer must authorize it "
                "again before expenses can be synced.",
            ),
            now,
        )
        return
    platform = PLATFORMS[connection.platform_key]
    data = load_master_data(company)
    if sync.kind == SyncKind.V1:
        problem = _config_problem(company, data)
        if problem:
            _fail_all(sync, items, Outcome(4000, "Error", problem), now)
            return
    is_update = sync.kind in _UPDATES or sync.update_item is not None

    ids = [item["id"] for item in items]
    completed = dict(
        SandboxSyncTransaction.objects.filter(
            company=company, transaction_id__in=set(ids), status=TxStatus.COMPLETED
        ).values_list("transaction_id", "tx_type")
    )
    if sync.kind == SyncKind.TRANSFER and ids and completed.get(ids[0]) == TRANSFER:
        # The same PUT creates or updates: a transfer already written is updated, where the
        # platform allows it (the engine re-checks what the request saw, in case of a race).
        is_update = True
        if not platform.newer.transfer_update:
            _fail_all(
                sync,
                items,
                Outcome(5120, "ValidateError", transfer_update_refused(platform)),
                now,
            )
            return
    done = set() if is_update else set(completed)
    if done:
        duplicates = [i for i in dict.fromkeys(ids) if i in done]
        text = DUPLICATE_TEXT.format(ids=", ".join(duplicates))
        messages = {
            i: DUPLICATE_TEXT.format(ids=i)
            if i in done
            else f"Not processed: the sync was stopped by duplicate protection ({text})."
            for i in ids
        }
        _fail_all(sync, items, Outcome(5080, "Error", text), now, messages)
        return

    checker = _checker(sync, platform, data, company.configuration or {})
    verb = "updated" if is_update and sync.kind != SyncKind.V1 else "created"
    tx_rows: list[SandboxSyncTransaction] = []
    records: list[SandboxLedgerRecord] = []
    seen: set[str] = set()
    push_errors: list[str] = []
    validation_failures = 0
    for index, item in enumerate(items):
        tx_id = item["id"]
        errors, resolved = checker.check(item)
        if not errors and not is_update and tx_id in seen:
            errors = [f"Transaction {tx_id} appears more than once in this sync."]
        status, message = TxStatus.COMPLETED, ""
        if errors:
            status, message = TxStatus.VALIDATION_ERROR, " ".join(errors)
            validation_failures += 1
        elif resolved["issued"] <= data.lock_date:
            status = TxStatus.PUSH_ERROR
            message = (
                f"{platform.name} refused the record: the transaction date {resolved['issued']} "
                f"is on or before the period lock date {data.lock_date}."
            )
            push_errors.append(message)
        else:
            seen.add(tx_id)
            record = checker.record(company, sync, item, resolved, now)
            records.append(record)
            name = record.record_type + (" (draft)" if record.draft else "")
            message = f"{name} {record.record_ref} {verb} in {platform.name}."
        tx_rows.append(
            SandboxSyncTransaction(
                sync=sync,
                company=company,
                transaction_id=tx_id,
                position=index,
                status=status,
                message=message,
                tx_type=item["type"],
            )
        )

    if is_update and records:
        _apply_update(company, records[0])
    else:
        SandboxLedgerRecord.objects.bulk_create(records)
    SandboxSyncTransaction.objects.bulk_create(tx_rows)
    connection.last_sync = now
    connection.save(update_fields=["last_sync"])

    pushed = bool(records)
    if push_errors:
        outcome = Outcome(
            5130,
            "PushError",
            f"An error occurred in a downstream service. Correlation ID: {uuid.uuid4()}. "
            f"Message: {push_errors[0]}",
            push_errors[0],
        )
    elif validation_failures:
        outcome = Outcome(
            5120,
            "ValidateError",
            f"{validation_failures} of {len(items)} transactions failed validation; see the "
            "transaction statuses for each message.",
        )
    elif pushed:
        outcome = Outcome(2000, "Complete")
    else:
        outcome = Outcome(2040, "Complete")
    _finish(sync, outcome, now, pushed)


def _apply_update(company: SandboxCompany, new: SandboxLedgerRecord) -> None:
    existing = SandboxLedgerRecord.objects.get(company=company, transaction_id=new.transaction_id)
    for field in (
        "sync",
        "type",
        "issue_date",
        "currency",
        "currency_rate",
        "bank_account",
        "contact",
        "merchant_name",
        "notes",
        "lines",
        "total",
        "base_amount",
        "written_at",
        "api",
        "reference",
        "draft",
        "due_date",
        "transfer",
    ):
        setattr(existing, field, getattr(new, field))
    existing.version += 1
    existing.save()


def claim_next_sync(*, company_id: uuid.UUID, now: datetime) -> SandboxSync | None:
    """Take the head of the company's queue if it is due, and show it `Started`.

    FIFO is strict: a later sync never overtakes an earlier one that is not due yet, and only
    one sync of a company runs at a time. A claim older than STALE_CLAIM belongs to a worker that
    died mid-sync; since a sync is written in one transaction, nothing of it reached the ledger
    and it is taken over.
    """
    with transaction.atomic():
        company = SandboxCompany.objects.select_for_update().filter(pk=company_id).first()
        if company is None:
            return None
        head = (
            company.syncs.filter(state__in=(SyncState.QUEUED, SyncState.RUNNING))
            .order_by("seq")
            .first()
        )
        if head is None:
            return None
        if head.state == SyncState.RUNNING:
            if head.started_at is not None and now - head.started_at < STALE_CLAIM:
                return None  # another worker is on it
        elif head.due_at > now:
            return None
        head.state, head.status_text, head.started_at = SyncState.RUNNING, "Started", now
        head.save(update_fields=["state", "status_text", "started_at"])
        return head


def run_claimed_sync(*, sync: SandboxSync, now: datetime) -> SandboxSync | None:
    """Process a claimed sync to its end in one transaction, then queue its webhook."""
    with transaction.atomic():
        company = SandboxCompany.objects.select_for_update().get(pk=sync.company_id)
        current = SandboxSync.objects.filter(
            pk=sync.pk, state=SyncState.RUNNING, started_at=sync.started_at
        ).first()
        if current is None:
            return None  # finished or taken over meanwhile
        try:
            with transaction.atomic():
                run_sync(company, current, now)
        except Exception as exc:
            # A sync the engine cannot process must not block the company's queue for ever:
            # it ends with Codat's generic server error and nothing from it is written.
            logger.exception("sandbox sync %s failed", current.id)
            current.refresh_from_db()
            outcome = Outcome(
                5000,
                "Error",
                "There is a problem with our server. Please try again later.",
                f"{type(exc).__name__}: {exc}",
            )
            try:
                items = sync_items(current)
            except Exception:  # the items themselves may be what broke the engine
                items = []
            _fail_all(current, items, outcome, now)
        webhook_enqueue_for_sync(sync=current, now=now)
        return current


def process_next_sync(*, company_id: uuid.UUID, now: datetime) -> SandboxSync | None:
    """Claim the company's next due sync and run it; None when there is nothing to do."""
    claimed = claim_next_sync(company_id=company_id, now=now)
    if claimed is None:
        return None
    return run_claimed_sync(sync=claimed, now=now)


def process_due_syncs(*, now: datetime, company_ids: Iterable[uuid.UUID] | None = None) -> int:
    """Process every sync that is due at `now`; returns how many ran."""
    due = SandboxSync.objects.filter(
        Q(state=SyncState.QUEUED, due_at__lte=now)
        | Q(state=SyncState.RUNNING, started_at__lte=now - STALE_CLAIM)
    )
    if company_ids is not None:
        due = due.filter(company_id__in=list(company_ids))
    processed = 0
    for company_id in list(due.values_list("company_id", flat=True).distinct()):
        while process_next_sync(company_id=company_id, now=now) is not None:
            processed += 1
    return processed


def sync_status_view(sync: SandboxSync, now: datetime) -> tuple[int, str]:
    """Code and text as a reader sees them: a queued sync shows 1010 after ten minutes."""
    if sync.state != SyncState.FINISHED:
        if now - sync.created > LONG_RUNNING:
            return 1010, "Started"
        return 1000, "Started" if sync.state == SyncState.RUNNING else "NotStarted"
    return sync.status_code, sync.status_text
