"""The operations of Codat's newer Expenses API (`Codat-Sync-Expenses.json`) beside v1: every write
answers the `syncId` of a sync it queued itself, on the same per-company queue, engine, statuses
and webhooks as a v1 sync.

- `POST …/expense-transactions`: a bare array of 1-50 expenses (four types; transfers and
  adjustments are refused with Codat's 400 texts).
- `PUT …/expense-transactions/{id}`: an update (202) of a Payment already synced, on Xero, QBO
  and NetSuite; 422 elsewhere.
- `PUT …/transfer-transactions/{id}`: one transfer, created or (QBO) updated.
- `POST …/adjustment-transactions`: journals, refused on every platform of the sandbox (see
  `platforms.ADJUSTMENT_PLATFORMS`).
- `POST` and `PUT …/reimbursable-expense-transactions[/{id}]`: bills (QBO, NetSuite).

A write moves the company to the newer generation (`services.company_api`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import transaction

from sandbox.engine import sync_items
from sandbox.errors import ApiError, validation_error
from sandbox.models import (
    ExpensesApi,
    SandboxCompany,
    SandboxConnection,
    SandboxSync,
    SandboxSyncTransaction,
    SyncKind,
    TxStatus,
)
from sandbox.platforms import (
    EXPENSE_TYPES,
    PAYMENT,
    PLATFORMS,
    REIMBURSABLE,
    TRANSFER,
    Platform,
    adjustments_supported,
)
from sandbox.services import company_api_set, enqueue_sync, require_connections
from sandbox.validation import (
    camel_keys,
    retired_type,
    validate_adjustments,
    validate_expense_update,
    validate_expenses,
    validate_reimbursable_update,
    validate_reimbursables,
    validate_transfer,
)

SERVICE = "ExpenseSyncApi"


def _retired_types(body: Any) -> None:
    text = retired_type(body)
    if text:
        raise ApiError(400, text, service=SERVICE, can_be_retried="No")


def _platform(company: SandboxCompany) -> tuple[SandboxConnection, Platform]:
    # The newer operations document no 422: a company without its two linked connections gets a
    # 400 with v1's text (initiate-sync answered 422 for the same reason).
    connection = require_connections(company, status=400)
    return connection, PLATFORMS[connection.platform_key]


def not_supported(operation: str, platform: Platform) -> ApiError:
    return ApiError(
        400,
        f"{operation} is not supported for {platform.name}.",
        service=SERVICE,
        can_be_retried="No",
    )


def _submit(company: SandboxCompany, now: datetime, kind: str, items: list[Any]) -> SandboxSync:
    company_api_set(company, ExpensesApi.EXPENSES)
    return enqueue_sync(company, now, kind=kind, items=items)


def _last_completed(
    company: SandboxCompany, transaction_id: str, types: tuple[str, ...]
) -> SandboxSyncTransaction | None:
    return (
        SandboxSyncTransaction.objects.filter(
            company=company,
            transaction_id=transaction_id,
            status=TxStatus.COMPLETED,
            tx_type__in=types,
        )
        .select_related("sync")
        .order_by("-sync__seq")
        .first()
    )


def _written_item(row: SandboxSyncTransaction) -> dict[str, Any]:
    return dict(next(i for i in sync_items(row.sync) if i.get("id") == row.transaction_id))


@transaction.atomic
def expenses_create(*, company: SandboxCompany, body: Any, now: datetime) -> SandboxSync:
    body = camel_keys(body)
    _retired_types(body)
    items, errors = validate_expenses(body)
    if errors:
        raise validation_error(errors)
    _platform(company)
    return _submit(company, now, SyncKind.EXPENSES, items)


UPDATE_NOT_SUPPORTED = "Expense transaction updates are not supported for {platform}."


@transaction.atomic
def expense_update(
    *, company: SandboxCompany, transaction_id: str, body: Any, now: datetime
) -> SandboxSync:
    """update-expense-transaction: Payment only, on the platforms the spec lists (of ours:
    Xero, QuickBooks Online, NetSuite). The transaction may have been written by either
    generation."""
    body = camel_keys(body)
    _retired_types(body)
    changes, errors = validate_expense_update(body)
    if errors:
        raise validation_error(errors)
    _, platform = _platform(company)
    if not platform.newer.updates:
        raise ApiError(422, UPDATE_NOT_SUPPORTED.format(platform=platform.name), service=SERVICE)
    if changes["type"] != PAYMENT:
        raise ApiError(
            422,
            f"Expense transaction updates are only supported for Payment transactions, not "
            f"{changes['type']}.",
            service=SERVICE,
        )
    completed = _last_completed(company, transaction_id, EXPENSE_TYPES)
    if completed is None:
        raise ApiError(
            404,
            f"No synced expense transaction was found with ID {transaction_id}.",
            service=SERVICE,
        )
    if completed.tx_type != PAYMENT:
        raise ApiError(
            422,
            f"Transaction {transaction_id} is a {completed.tx_type}: only Payments can be updated.",
            service=SERVICE,
        )
    item = _written_item(completed)
    item.update(changes)
    item["id"] = transaction_id
    return enqueue_sync(company, now, kind=SyncKind.EXPENSE_UPDATE, items=[item])


@transaction.atomic
def transfer_put(
    *, company: SandboxCompany, transaction_id: str, body: Any, now: datetime
) -> SandboxSync:
    """create-transfer-transaction: the same PUT creates a transfer or updates the one with
    this id. Create: Xero and QBO; update: QBO (of the sandbox's platforms)."""
    item, errors = validate_transfer(camel_keys(body), transaction_id)
    if errors:
        raise validation_error(errors)
    _, platform = _platform(company)
    if not platform.newer.transfer_create:
        raise not_supported("Create transfer transaction", platform)
    if _last_completed(company, transaction_id, (TRANSFER,)) and not platform.newer.transfer_update:
        raise not_supported("Updating a transfer transaction", platform)
    return _submit(company, now, SyncKind.TRANSFER, [item])


@transaction.atomic
def adjustments_create(*, company: SandboxCompany, body: Any, now: datetime) -> SandboxSync:
    items, errors = validate_adjustments(camel_keys(body))
    if errors:
        raise validation_error(errors)
    _, platform = _platform(company)
    if not adjustments_supported(platform):
        raise not_supported("Create adjustment transaction", platform)
    return _submit(company, now, SyncKind.ADJUSTMENTS, items)


@transaction.atomic
def reimbursables_create(*, company: SandboxCompany, body: Any, now: datetime) -> SandboxSync:
    items, errors = validate_reimbursables(camel_keys(body))
    if errors:
        raise validation_error(errors)
    _, platform = _platform(company)
    if not platform.newer.reimbursable_create:
        raise not_supported("Create reimbursable expense transaction", platform)
    return _submit(company, now, SyncKind.REIMBURSABLES, items)


@transaction.atomic
def reimbursable_update(
    *, company: SandboxCompany, transaction_id: str, body: Any, now: datetime
) -> SandboxSync:
    changes, errors = validate_reimbursable_update(camel_keys(body))
    if errors:
        raise validation_error(errors)
    _, platform = _platform(company)
    if not platform.newer.reimbursable_update:
        raise not_supported("Update reimbursable expense transaction", platform)
    completed = _last_completed(company, transaction_id, (REIMBURSABLE,))
    if completed is None:
        raise ApiError(
            404,
            f"No synced reimbursable expense transaction was found with ID {transaction_id}.",
            service=SERVICE,
        )
    item = _written_item(completed)
    item.update(changes)
    item["id"] = transaction_id
    return _submit(company, now, SyncKind.REIMBURSABLE_UPDATE, [item])
