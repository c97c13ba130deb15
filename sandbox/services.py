"""The operations behind the sandbox's API: companies, connections, accounting data,
configuration, datasets, syncs, updates and attachments. Views parse HTTP and call these; the
functions raise `ApiError` with Codat's status and text when a request cannot be served."""

from __future__ import annotations

import random
import re
import uuid
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import PurePosixPath
from typing import Any

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.db.models import Max

from sandbox.engine import accounting_connection, sync_items
from sandbox.errors import ApiError, company_not_found, validation_error
from sandbox.models import (
    ConnectionStatus,
    ExpensesApi,
    SandboxAttachment,
    SandboxCompany,
    SandboxConnection,
    SandboxDataset,
    SandboxDataStatus,
    SandboxLedgerRecord,
    SandboxRecord,
    SandboxSync,
    SandboxSyncTransaction,
    SyncKind,
    TxStatus,
)
from sandbox.platforms import (
    ADJUSTMENT,
    ADJUSTMENTS,
    DATA_TYPES,
    PAYMENT,
    PLATFORMS,
    TRANSFER,
    TRANSFERS,
    account_valid_types,
    newer_account_valid_types,
    newer_tax_valid_types,
    public,
    seed_ledger,
    tax_valid_types,
    valid_for,
)
from sandbox.tasks import enqueue, process_syncs_task
from sandbox.validation import validate_dataset, validate_update
from sandbox.webhooks import current_settings

PARTNER_EXPENSE = "Partner Expense"
_NAME_FORBIDDEN = re.compile(r"[^A-Za-z0-9\s\-',&@.?!]")


def _sync_delay() -> timedelta:
    return timedelta(milliseconds=current_settings().sync_delay_ms)


# --- Generations ----------------------------------------------------------------------------------

V1_RETIRED_ON = "2027-05-01"


def v1_enabled() -> bool:
    return current_settings().v1_enabled


def company_api(company: SandboxCompany) -> str:
    """The generation the routes both generations share answer in for this company: the newer
    one once v1 is retired, else the one the company last wrote through (or was set to)."""
    if not v1_enabled():
        return ExpensesApi.EXPENSES
    return company.expenses_api


def company_api_set(company: SandboxCompany, api: str) -> None:
    if company.expenses_api != api:
        company.expenses_api = api
        company.save(update_fields=["expenses_api"])


def company_products(company: SandboxCompany) -> list[str]:
    return ["expenses" if company_api(company) == ExpensesApi.EXPENSES else "expenses-v1"]


def retired(operation: str, instead: str) -> ApiError:
    """What a v1-only operation answers once v1 is switched off (`v1_enabled: false`): 410 Gone,
    in Codat's error body, naming the retirement and the operation to use instead."""
    return ApiError(
        410,
        f"Sync for Expenses v1 was retired on {V1_RETIRED_ON}: {operation} is no longer "
        f"available. Use the Expenses API instead: {instead}.",
        service="ExpenseSyncApi",
        can_be_retried="No",
    )


def require_v1(operation: str, instead: str) -> None:
    if not v1_enabled():
        raise retired(operation, instead)


# --- Companies ----------------------------------------------------------------------------------


def company_get(company_id: Any) -> SandboxCompany:
    try:
        parsed = uuid.UUID(str(company_id))
    except ValueError:
        raise company_not_found(company_id) from None
    company = SandboxCompany.objects.filter(pk=parsed).first()
    if company is None:
        raise company_not_found(company_id)
    return company


def _company_fields(body: Any, *, partial: bool) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise ApiError(400, "The request body must be a JSON object.")
    errors = []
    fields: dict[str, Any] = {}
    if ("name" in body and body["name"] is not None) or not partial:
        name = body.get("name")
        # Codat removes forbidden characters rather than refusing them.
        cleaned = _NAME_FORBIDDEN.sub("", name).strip() if isinstance(name, str) else ""
        if not cleaned:
            errors.append(
                {
                    "itemId": "Name",
                    "message": "The Name field is required.",
                    "validatorName": "Required",
                }
            )
        fields["name"] = cleaned
    if body.get("description") is not None or (not partial and "description" in body):
        description = body.get("description")
        if description is not None and not isinstance(description, str):
            errors.append(
                {
                    "itemId": "Description",
                    "message": "Description must be a string.",
                    "validatorName": "Type",
                }
            )
        fields["description"] = description or ""
    elif not partial:
        fields["description"] = ""
    tags = body.get("tags")
    if tags is not None:
        if not isinstance(tags, dict) or len(tags) > 10:
            errors.append(
                {
                    "itemId": "Tags",
                    "message": "Tags must be an object of at most 10 properties.",
                    "validatorName": "MaxProperties",
                }
            )
        else:
            for key, value in tags.items():
                if not 1 <= len(key) <= 27 or not isinstance(value, str) or len(value) > 100:
                    errors.append(
                        {
                            "itemId": f"Tags.{key}",
                            "message": "Tag keys must be 1-27 characters and values strings of "
                            "at most 100 characters.",
                            "validatorName": "Tags",
                        }
                    )
            fields["tags"] = tags
    elif not partial:
        fields["tags"] = {}
    if errors:
        raise validation_error(errors, service="ClientsApi")
    return fields


def company_create(*, body: Any, now: datetime) -> SandboxCompany:
    # A new company starts on the generation the deployment names for new companies (the
    # portal's CODAT_EXPENSES_API_DEFAULT, v1 unless set); its first write moves it.
    default = getattr(settings, "CODAT_EXPENSES_API_DEFAULT", ExpensesApi.V1)
    api = ExpensesApi.EXPENSES if default == ExpensesApi.EXPENSES else ExpensesApi.V1
    return SandboxCompany.objects.create(
        created=now, expenses_api=api, **_company_fields(body, partial=False)
    )


def company_change(*, company: SandboxCompany, body: Any, partial: bool) -> SandboxCompany:
    for key, value in _company_fields(body, partial=partial).items():
        setattr(company, key, value)
    company.save()
    return company


# --- Connections --------------------------------------------------------------------------------


def connection_get(company: SandboxCompany, connection_id: Any) -> SandboxConnection:
    try:
        parsed = uuid.UUID(str(connection_id))
    except ValueError:
        parsed = None
    connection = (
        SandboxConnection.objects.filter(company=company, pk=parsed).first() if parsed else None
    )
    if connection is None:
        raise ApiError(404, f"Data connection {connection_id} not found", service="ClientsApi")
    return connection


def connection_create(*, company: SandboxCompany, body: Any, now: datetime) -> SandboxConnection:
    key = body.get("platformKey") if isinstance(body, dict) else None
    if not isinstance(key, str) or not re.fullmatch(r"[a-z]{4}", key):
        raise validation_error(
            [
                {
                    "itemId": "PlatformKey",
                    "message": "The PlatformKey field is required and must be four "
                    "lower-case letters.",
                    "validatorName": "Required",
                }
            ],
            service="ClientsApi",
        )
    platform = PLATFORMS.get(key)
    if platform is None:
        supported = ", ".join(f"{p.key} ({p.name})" for p in PLATFORMS.values())
        raise ApiError(
            400,
            f"Integration {key} is not available for Sync for Expenses. Use one of: {supported}.",
            service="ClientsApi",
        )
    return SandboxConnection.objects.create(
        company=company,
        platform_key=key,
        platform_name=platform.name,
        source_type="Accounting",
        status=ConnectionStatus.PENDING_AUTH,
        created=now,
    )


def partner_expense_connection(*, company: SandboxCompany, now: datetime) -> SandboxConnection:
    existing = SandboxConnection.objects.filter(company=company, source_type="Expense").first()
    if existing is not None:
        return existing
    return SandboxConnection.objects.create(
        company=company,
        platform_key="expn",
        platform_name=PARTNER_EXPENSE,
        source_type="Expense",
        status=ConnectionStatus.LINKED,
        created=now,
    )


@transaction.atomic
def connection_authorize(*, connection: SandboxConnection, now: datetime) -> SandboxConnection:
    """The customer authorises in Link: the connection is Linked, the platform's ledger exists
    (seeded once per company, deterministic from its id) and the first fetch of every data type
    is queued, as Codat does for "fetch on first link" types."""
    company = connection.company
    connection.status = ConnectionStatus.LINKED
    connection.save(update_fields=["status"])
    if connection.source_type != "Accounting":
        return connection  # the partner-expense connection has no ledger behind it
    if not SandboxRecord.objects.filter(company=company).exists():
        ledger = seed_ledger(PLATFORMS[connection.platform_key], company.id, company.name)
        SandboxRecord.objects.bulk_create(
            SandboxRecord(
                company=company,
                data_type=data_type,
                record_id=str(record["id"]),
                position=position,
                data=record,
            )
            for data_type, records in ledger.items()
            for position, record in enumerate(records)
        )
        data_refresh(company=company, now=now)
    return connection


def connection_set_status(*, connection: SandboxConnection, status: str) -> SandboxConnection:
    connection.status = status
    connection.save(update_fields=["status"])
    return connection


def connection_unlink(*, connection: SandboxConnection, body: Any) -> SandboxConnection:
    if not isinstance(body, dict) or set(body) - {"status"}:
        raise ApiError(400, "The request body may only contain status.")
    status = body.get("status") or ConnectionStatus.UNLINKED
    if status not in ConnectionStatus.values:
        raise validation_error(
            [
                {
                    "itemId": "Status",
                    "message": f"The value '{status}' is not valid for Status.",
                    "validatorName": "Enum",
                }
            ],
            service="ClientsApi",
        )
    return connection_set_status(connection=connection, status=status)


# --- Accounting data ----------------------------------------------------------------------------

ENDPOINT_TYPES = {
    "accounts": "chartOfAccounts",
    "bankAccounts": "bankAccounts",
    "suppliers": "suppliers",
    "customers": "customers",
    "trackingCategories": "trackingCategories",
    "taxRates": "taxRates",
    "info": "company",
}


def data_refresh(*, company: SandboxCompany, now: datetime) -> None:
    if (
        accounting_connection(company) is None
        or not SandboxRecord.objects.filter(company=company).exists()
    ):
        raise ApiError(
            404,
            f"No linked accounting connection was found for company {company.id}.",
            service="PullApi",
        )
    available = now + _sync_delay()
    for data_type in DATA_TYPES:
        row = SandboxDataStatus.objects.filter(company=company, data_type=data_type).first()
        if row is None:
            SandboxDataStatus.objects.create(
                company=company,
                data_type=data_type,
                requested_at=now,
                available_at=available,
                first_available_at=available,
            )
        else:
            row.requested_at, row.available_at, row.latest_sync_id = now, available, uuid.uuid4()
            row.save()


def data_records(*, company: SandboxCompany, data_type: str, now: datetime) -> list[dict[str, Any]]:
    status = SandboxDataStatus.objects.filter(company=company, data_type=data_type).first()
    if status is None or status.first_available_at > now:
        raise ApiError(409, "The data set has not been requested.", service="PullApi")
    return [
        public(data)
        for data in SandboxRecord.objects.filter(company=company, data_type=data_type)
        .order_by("position")
        .values_list("data", flat=True)
    ]


def data_status(*, company: SandboxCompany, now: datetime) -> dict[str, Any]:
    result = {}
    for row in SandboxDataStatus.objects.filter(company=company):
        done = row.available_at <= now
        last = (
            row.available_at
            if done
            else (row.first_available_at if row.first_available_at <= now else None)
        )
        result[row.data_type] = {
            "dataType": row.data_type,
            "lastSuccessfulSync": _iso(last) if last else None,
            "currentStatus": "Complete" if done else "Queued",
            "latestSyncId": str(row.latest_sync_id),
            "latestSuccessfulSyncId": str(row.latest_sync_id) if done else None,
        }
    return result


def _plain(value: Any) -> Any:
    """JSON as stored records hold it: request decimals become plain numbers."""
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def record_change(
    *, company: SandboxCompany, data_type: str, record_id: str, changes: Any, delete: bool
) -> dict[str, Any]:
    """Control surface: change one record of the company's accounting data, as the customer
    would in their software (archive an account, delete a supplier, move the lock date)."""
    record = SandboxRecord.objects.filter(
        company=company, data_type=data_type, record_id=record_id
    ).first()
    if record is None:
        raise ApiError(404, f"No {data_type} record {record_id} for company {company.id}.")
    data = dict(record.data)
    if delete:
        data["metadata"] = {**data.get("metadata", {}), "isDeleted": True}
    elif isinstance(changes, dict):
        for key, value in _plain(changes).items():
            if key == "id":
                continue
            if isinstance(value, dict) and isinstance(data.get(key), dict):
                data[key] = {**data[key], **value}
            else:
                data[key] = value
    else:
        raise ApiError(400, "Send a JSON object of the fields to change.")
    record.data = data
    record.save(update_fields=["data"])
    return public(data)


def record_add(*, company: SandboxCompany, data_type: str, body: Any) -> dict[str, Any]:
    if (
        data_type not in DATA_TYPES
        or not isinstance(body, dict)
        or not body.get("id")
        or len(str(body["id"])) > 100
    ):
        raise ApiError(
            400, "Send a JSON object with an id (at most 100 characters) for a known data type."
        )
    body = _plain(body)
    position = (
        SandboxRecord.objects.filter(company=company, data_type=data_type).aggregate(
            m=Max("position")
        )["m"]
        or 0
    ) + 1
    record, _ = SandboxRecord.objects.update_or_create(
        company=company,
        data_type=data_type,
        record_id=str(body["id"]),
        defaults={"data": body, "position": position},
    )
    return public(record.data)


def mapping_options(*, company: SandboxCompany, now: datetime) -> dict[str, Any]:
    """Accounts, tracking categories and tax rates a line may use, from the cached data: empty
    lists until the first fetch is available. Archived and deleted records are left out.

    The shape is the company's generation's (`company_api`). Both documents close their mapping
    schemas (`additionalProperties: false`) and disagree on them: v1 accounts carry the eight
    types and no `validFor`, the newer accounts `nominalCode`, `fullyQualifiedCategory`,
    `isBankAccount`, `validFor` and only the four expense types, and v1's tracking categories
    have a `modifiedDate` the newer schema forbids. No one answer satisfies both."""
    newer = company_api(company) == ExpensesApi.EXPENSES
    connection = accounting_connection(company)
    status = SandboxDataStatus.objects.filter(company=company, data_type="chartOfAccounts").first()
    ready = connection is not None and status is not None and status.first_available_at <= now
    options: dict[str, Any] = {
        "expenseProvider": PARTNER_EXPENSE,
        "accounts": [],
        "trackingCategories": [],
        "taxRates": [],
    }
    if not ready or connection is None:
        return options
    platform = PLATFORMS[connection.platform_key]

    def live(record: dict[str, Any]) -> bool:
        return record.get("status") != "Archived" and not record.get("metadata", {}).get(
            "isDeleted"
        )

    rows = SandboxRecord.objects.filter(
        company=company, data_type__in=("chartOfAccounts", "trackingCategories", "taxRates")
    ).order_by("position")
    for row in rows:
        data = row.data
        if not live(data):
            continue
        if row.data_type == "chartOfAccounts" and newer:
            options["accounts"].append(
                {
                    "id": data["id"],
                    "nominalCode": data.get("nominalCode"),
                    "name": data["name"],
                    "currency": data["currency"],
                    "accountType": data["type"],
                    "fullyQualifiedCategory": data["fullyQualifiedCategory"],
                    "isBankAccount": bool(data.get("isBankAccount")),
                    "validTransactionTypes": newer_account_valid_types(data, platform),
                    "validFor": valid_for(data, platform),
                }
            )
        elif row.data_type == "chartOfAccounts":
            options["accounts"].append(
                {
                    "id": data["id"],
                    "name": data["name"],
                    "currency": data["currency"],
                    "accountType": data["type"],
                    "validTransactionTypes": account_valid_types(data, platform),
                }
            )
        elif row.data_type == "trackingCategories":
            category = {
                "id": data["id"],
                "modifiedDate": data["modifiedDate"],
                "name": data["name"],
                "parentId": data["parentId"],
                "hasChildren": data["hasChildren"],
            }
            if newer:
                del category["modifiedDate"]
            options["trackingCategories"].append(category)
        else:
            options["taxRates"].append(
                {
                    "id": data["id"],
                    "name": data["name"],
                    "code": data["code"],
                    "effectiveTaxRate": data["effectiveTaxRate"],
                    "totalTaxRate": data["totalTaxRate"],
                    "validTransactionTypes": (
                        newer_tax_valid_types(data, platform)
                        if newer
                        else tax_valid_types(data, platform)
                    ),
                }
            )
    return options


# --- Configuration ------------------------------------------------------------------------------


def config_save(*, company: SandboxCompany, body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise ApiError(400, "The request body must be a JSON object.", service="ExpenseSyncApi")
    errors = []
    config: dict[str, Any] = {}
    for key in ("bankAccount", "supplier", "customer"):
        value = body.get(key)
        if not isinstance(value, dict):
            errors.append(
                {
                    "itemId": key[0].upper() + key[1:],
                    "message": f"The {key[0].upper() + key[1:]} field is required.",
                    "validatorName": "Required",
                }
            )
            continue
        ref_id = value.get("id")
        config[key] = {"id": str(ref_id)} if ref_id not in (None, "") else {}
    if errors:
        raise validation_error(errors)
    company.configuration = config
    company.save(update_fields=["configuration"])
    return config


def config_get(*, company: SandboxCompany) -> dict[str, Any]:
    if company.configuration is None:
        raise ApiError(
            404,
            f"No configuration has been saved for company {company.id}.",
            service="ExpenseSyncApi",
        )
    return company.configuration


# --- Datasets and syncs -------------------------------------------------------------------------


def dataset_create(*, company: SandboxCompany, body: Any, now: datetime) -> SandboxDataset:
    require_v1(
        "create-expense-dataset",
        f"POST /companies/{company.id}/sync/expenses/expense-transactions, which starts its "
        "own sync",
    )
    items, errors = validate_dataset(body)
    if errors:
        raise validation_error(errors)
    company_api_set(company, ExpensesApi.V1)
    return SandboxDataset.objects.create(company=company, items=items, created=now)


def require_connections(company: SandboxCompany, *, status: int = 422) -> SandboxConnection:
    connection = accounting_connection(company)
    partner = SandboxConnection.objects.filter(
        company=company, source_type="Expense", status=ConnectionStatus.LINKED
    ).exists()
    if connection is None or connection.status != ConnectionStatus.LINKED or not partner:
        raise ApiError(
            status,
            "The specified company does not have a valid set of data connections: it needs a "
            "linked accounting connection and a partner expense connection.",
            service="ExpenseSyncApi",
        )
    return connection


def enqueue_sync(
    company: SandboxCompany,
    now: datetime,
    *,
    dataset_ids: list[str] | None = None,
    update_item: Any = None,
    kind: str = SyncKind.V1,
    items: list[dict[str, Any]] | None = None,
) -> SandboxSync:
    delay = _sync_delay()
    locked = SandboxCompany.objects.select_for_update().get(pk=company.pk)
    seq = (SandboxSync.objects.filter(company=locked).aggregate(m=Max("seq"))["m"] or 0) + 1
    sync = SandboxSync.objects.create(
        company=locked,
        seq=seq,
        dataset_ids=dataset_ids or [],
        update_item=update_item,
        kind=kind,
        items=items,
        created=now,
        due_at=now + delay,
    )
    company_id = str(company.pk)
    transaction.on_commit(
        lambda: enqueue(process_syncs_task, company_id, countdown=delay.total_seconds())
    )
    return sync


@transaction.atomic
def sync_initiate(*, company: SandboxCompany, body: Any, now: datetime) -> SandboxSync:
    require_v1(
        "initiate-sync",
        "the Expenses API's write endpoints start their syncs themselves and answer the syncId",
    )
    if body is None:
        body = {}
    if not isinstance(body, dict) or set(body) - {"datasetIds"}:
        raise ApiError(
            400, "The request body may only contain datasetIds.", service="ExpenseSyncApi"
        )
    raw_ids = body.get("datasetIds")
    if raw_ids is not None:
        if not isinstance(raw_ids, list) or not raw_ids:
            raise validation_error(
                [
                    {
                        "itemId": "DatasetIds",
                        "message": "The field DatasetIds must be a string or array type with a "
                        "minimum length of '1'.",
                        "validatorName": "MinLength",
                    }
                ]
            )
        bad = []
        for index, value in enumerate(raw_ids):
            try:
                uuid.UUID(str(value))
            except ValueError:
                bad.append(
                    {
                        "itemId": f"DatasetIds[{index}]",
                        "message": f"The value '{value}' is not valid.",
                        "validatorName": "Format",
                    }
                )
        if bad:
            raise validation_error(bad)
    require_connections(company)
    if raw_ids is None:
        # Not documented: with no ids, every dataset not yet synced is taken (API-NOTES §12).
        datasets = list(SandboxDataset.objects.filter(company=company, synced=False))
    else:
        wanted = [str(uuid.UUID(str(v))) for v in dict.fromkeys(raw_ids)]
        found = {
            str(d.id): d for d in SandboxDataset.objects.filter(company=company, id__in=wanted)
        }
        missing = [w for w in wanted if w not in found]
        if missing:
            raise ApiError(
                404,
                f"Dataset {missing[0]} was not found for company {company.id}.",
                service="ExpenseSyncApi",
            )
        datasets = [found[w] for w in wanted]
    SandboxDataset.objects.filter(id__in=[d.id for d in datasets]).update(synced=True)
    company_api_set(company, ExpensesApi.V1)
    return enqueue_sync(company, now, dataset_ids=[str(d.id) for d in datasets])


UPDATE_NOT_SUPPORTED = (
    "Expense transaction updates are not supported for platforms other than Xero."
)


@transaction.atomic
def expense_update(
    *, company: SandboxCompany, transaction_id: str, body: Any, now: datetime
) -> SandboxSync:
    changes, errors = validate_update(body)
    if errors:
        raise validation_error(errors)
    connection = require_connections(company)
    if connection.platform_key != "gbol":
        raise ApiError(422, UPDATE_NOT_SUPPORTED, service="ExpenseSyncApi")
    if changes["type"] != PAYMENT:
        raise ApiError(
            422,
            f"Expense transaction updates are only supported for Payment transactions, not "
            f"{changes['type']}.",
            service="ExpenseSyncApi",
        )
    completed = (
        SandboxSyncTransaction.objects.filter(
            company=company, transaction_id=transaction_id, status=TxStatus.COMPLETED
        )
        .order_by("-sync__seq")
        .first()
    )
    if completed is None:
        raise ApiError(
            404,
            f"No synced expense transaction was found with ID {transaction_id}.",
            service="ExpenseSyncApi",
        )
    if completed.tx_type != PAYMENT:
        raise ApiError(
            422,
            f"Transaction {transaction_id} is a {completed.tx_type}: only Payments can be updated.",
            service="ExpenseSyncApi",
        )
    item = dict(next(i for i in sync_items(completed.sync) if i["id"] == transaction_id))
    item.update({k: v for k, v in changes.items() if k != "lines" or body.get("lines") is not None})
    item["id"] = transaction_id
    return enqueue_sync(company, now, dataset_ids=[], update_item=item)


def sync_get(company: SandboxCompany, sync_id: Any) -> SandboxSync:
    try:
        parsed = uuid.UUID(str(sync_id))
    except ValueError:
        parsed = None
    sync = SandboxSync.objects.filter(company=company, pk=parsed).first() if parsed else None
    if sync is None:
        raise ApiError(404, f"No sync was found with ID {sync_id}", service="ExpenseSyncApi")
    return sync


# --- Attachments --------------------------------------------------------------------------------


@transaction.atomic
def attachment_upload(
    *,
    company: SandboxCompany,
    sync: SandboxSync,
    transaction_id: str,
    upload: UploadedFile | None,
    now: datetime,
) -> SandboxAttachment:
    tx = SandboxSyncTransaction.objects.filter(sync=sync, transaction_id=transaction_id).first()
    if tx is None:
        raise ApiError(
            404,
            f"Transaction {transaction_id} was not found in sync {sync.id}.",
            service="ExpenseSyncApi",
        )
    if upload is None:
        raise validation_error(
            [
                {
                    "itemId": "File",
                    "message": "The File field is required.",
                    "validatorName": "Required",
                }
            ]
        )
    if tx.status != TxStatus.COMPLETED:
        raise ApiError(
            400,
            f"Attachments can only be uploaded for Completed transactions; transaction "
            f"{transaction_id} is {tx.status}.",
            service="ExpenseSyncApi",
        )
    tx_type = tx.tx_type
    connection = accounting_connection(company)
    assert connection is not None  # a Completed transaction implies one
    platform = PLATFORMS[connection.platform_key]
    if tx_type in TRANSFERS | ADJUSTMENTS | {TRANSFER, ADJUSTMENT}:
        raise ApiError(
            400,
            f"Attachments are not supported for {tx_type} transactions on any platform.",
            service="ExpenseSyncApi",
        )
    if tx_type not in platform.attachment_types:
        raise ApiError(
            400,
            f"{platform.name} does not support attachments on {tx_type} transactions.",
            service="ExpenseSyncApi",
        )
    name = upload.name or "attachment"
    extension = PurePosixPath(name).suffix.lower().lstrip(".")
    if (
        platform.attachment_extensions is not None
        and extension not in platform.attachment_extensions
    ):
        raise validation_error(
            [
                {
                    "itemId": "File",
                    "message": f"{platform.name} does not accept '.{extension}' files. Accepted "
                    f"types: {', '.join(sorted(platform.attachment_extensions))}.",
                    "validatorName": "FileExtension",
                }
            ]
        )
    size = upload.size or 0
    if size > platform.attachment_max_bytes:
        raise validation_error(
            [
                {
                    "itemId": "File",
                    "message": f"The file is {size} bytes; {platform.name} accepts attachments of "
                    f"at most {platform.attachment_max_bytes // (1024 * 1024)} MB.",
                    "validatorName": "FileSize",
                }
            ]
        )
    record = SandboxLedgerRecord.objects.select_for_update().get(
        company=company, transaction_id=transaction_id
    )
    attachment = SandboxAttachment.objects.create(
        id=str(random.SystemRandom().randint(10**18, 10**19 - 1)),
        record=record,
        file_name=name,
        content_type=upload.content_type or "",
        size=size,
        content=upload.read(),
        uploaded_at=now,
    )
    record.attachment_count += 1
    record.save(update_fields=["attachment_count"])
    return attachment


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def iso(moment: datetime | None) -> str | None:
    return _iso(moment) if moment else None
