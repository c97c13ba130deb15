"""The sync engine: takes queued syncs per company, first in first out, one at a time, validates
each transaction against the platform's rules (API-NOTES §4) and writes what passes to the
platform's ledger.

`process_due_syncs(now=…)` is the whole service. Celery calls it after the configured delay; the
API calls it opportunistically when sync status is read, so a polling client always sees progress
even with no worker. A sync is first claimed (it reads `Started`, and holds its company's queue),
then processed inside one transaction holding the company row's lock, so two workers never run two
syncs of one company at once and a crash leaves nothing half written; a claim left by a dead worker
is taken over after STALE_CLAIM.

Policies (documented in the README of the sandbox and in the report):
- Duplicate protection: if any transaction of a sync was already `Completed` for the company, the
  whole sync ends 5080 and nothing from it is written.
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
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.db import transaction
from django.db.models import Q

from sandbox.models import (
    ConnectionStatus,
    SandboxCompany,
    SandboxConnection,
    SandboxDataset,
    SandboxLedgerRecord,
    SandboxRecord,
    SandboxSync,
    SandboxSyncTransaction,
    SyncState,
    TxStatus,
)
from sandbox.platforms import (
    LEDGER_LOCK_DATE,
    PLATFORMS,
    TRANSFERS,
    Platform,
    account_valid_types,
    tax_valid_types,
)
from sandbox.validation import parse_issue_date
from sandbox.webhooks import webhook_enqueue_for_sync

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


@dataclass
class MasterData:
    accounts: dict[str, dict[str, Any]]
    tax_rates: dict[str, dict[str, Any]]
    tracking: dict[str, dict[str, Any]]
    suppliers: dict[str, dict[str, Any]]
    customers: dict[str, dict[str, Any]]
    base_currency: str
    lock_date: str


def load_master_data(company: SandboxCompany) -> MasterData:
    by_type: dict[str, dict[str, dict[str, Any]]] = {}
    for data_type, record_id, data in SandboxRecord.objects.filter(company=company).values_list(
        "data_type", "record_id", "data"
    ):
        by_type.setdefault(data_type, {})[record_id] = data
    info = next(iter(by_type.get("company", {}).values()), {})
    return MasterData(
        accounts=by_type.get("chartOfAccounts", {}),
        tax_rates=by_type.get("taxRates", {}),
        tracking=by_type.get("trackingCategories", {}),
        suppliers=by_type.get("suppliers", {}),
        customers=by_type.get("customers", {}),
        base_currency=info.get("baseCurrency", ""),
        lock_date=(info.get("ledgerLockDate") or LEDGER_LOCK_DATE)[:10],
    )


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


def _active(record: dict[str, Any]) -> bool:
    return record.get("status") != "Archived" and not record.get("metadata", {}).get("isDeleted")


def _label(record: dict[str, Any], name_key: str = "name") -> str:
    return f"{record.get(name_key)} ({record['id']})"


class _Checker:
    """Validates one transaction; keeps the messages and what the ledger record needs."""

    def __init__(self, platform: Platform, data: MasterData, config: dict[str, Any]) -> None:
        self.platform = platform
        self.data = data
        self.config = config
        self.bank = data.accounts[config["bankAccount"]["id"]]

    def check(self, item: dict[str, Any]) -> tuple[list[str], dict[str, Any]]:
        p, data = self.platform, self.data
        errors: list[str] = []
        tx_type = item["type"]
        if tx_type not in p.supported_types:
            return [f"{tx_type} transactions are not supported by {p.name}."], {}

        bank_ccy = self.bank["currency"]
        txn_ccy = item.get("currency") or bank_ccy
        problem = p.currency_problem(base=data.base_currency, bank=bank_ccy, txn=txn_ccy)
        if problem:
            errors.append(problem)
        booked = p.booked_currency(bank=bank_ccy, txn=txn_ccy)
        if booked != data.base_currency and item.get("currencyRate") is None:
            errors.append(
                f"A currencyRate is required: the transaction is recorded in {booked} and the "
                f"company's base currency is {data.base_currency}."
            )

        lines_out: list[dict[str, Any]] = []
        # What the platform books per line: a 0% rate books no tax whatever taxAmount says.
        booked_lines: list[tuple[Decimal, Decimal]] = []
        first_account: dict[str, Any] | None = None
        for number, line in enumerate(item["lines"], start=1):
            account_id = line["accountRef"]["id"]
            account = data.accounts.get(account_id)
            resolved: dict[str, Any] = {
                "accountId": account_id,
                "netAmount": line["netAmount"],
                "taxAmount": line["taxAmount"],
            }
            if account is None or account.get("metadata", {}).get("isDeleted"):
                errors.append(f"Account {account_id} does not exist in {p.name}.")
            elif account.get("status") == "Archived":
                errors.append(f"Account {_label(account)} is archived in {p.name}.")
            elif tx_type not in account_valid_types(account, p):
                errors.append(f"Account {account_id} is not valid for transaction type {tx_type}.")
            else:
                first_account = first_account or account
                resolved.update(accountName=account["name"], nominalCode=account.get("nominalCode"))
                if tx_type in TRANSFERS and account_id == self.bank["id"]:
                    errors.append(
                        f"Account {_label(account)} is the company's configured bank account; a "
                        "transfer needs a different bank or credit-card account."
                    )

            tax_ref = line.get("taxRateRef")
            if tx_type in TRANSFERS:
                if Decimal(line["taxAmount"]) != 0:
                    errors.append(
                        f"Transfers cannot carry tax: line {number} has a tax amount of "
                        f"{line['taxAmount']}."
                    )
            elif tax_ref is None:
                errors.append(
                    f"A tax rate is required on line {number} for {tx_type} transactions; "
                    f"use {p.no_tax_code} for no tax in {p.name}."
                )
            else:
                rate = data.tax_rates.get(tax_ref["id"])
                if rate is None or rate.get("metadata", {}).get("isDeleted"):
                    errors.append(f"Tax rate {tax_ref['id']} does not exist in {p.name}.")
                elif rate.get("status") == "Archived":
                    errors.append(f"Tax rate {_label(rate)} is archived in {p.name}.")
                elif tx_type not in tax_valid_types(rate, p):
                    errors.append(
                        f"Tax rate {_label(rate)} is not valid for transaction type {tx_type}."
                    )
                else:
                    resolved.update(taxRateId=rate["id"], taxRateName=rate["name"])
                    if Decimal(str(rate.get("effectiveTaxRate") or 0)) == 0:
                        booked_lines.append((Decimal(line["netAmount"]), Decimal(0)))
                    else:
                        booked_lines.append(
                            (Decimal(line["netAmount"]), Decimal(line["taxAmount"]))
                        )

            tracking_out = []
            for ref in line.get("trackingRefs") or []:
                category = data.tracking.get(ref["id"])
                if category is None or category.get("metadata", {}).get("isDeleted"):
                    errors.append(f"Tracking category {ref['id']} does not exist in {p.name}.")
                elif category.get("status") == "Archived":
                    errors.append(f"Tracking category {_label(category)} is archived in {p.name}.")
                elif category.get("hasChildren"):
                    errors.append(
                        f"Tracking category {_label(category)} is a parent category; use one of "
                        "its options."
                    )
                else:
                    parent = data.tracking.get(category.get("parentId") or "")
                    tracking_out.append(
                        {
                            "id": category["id"],
                            "name": category["name"],
                            "category": parent["name"] if parent else None,
                        }
                    )
            resolved["tracking"] = tracking_out
            lines_out.append(resolved)

        contact = self._contact(
            item, tx_type, bool(first_account and first_account["isBankAccount"]), booked, errors
        )
        if booked_lines and len(booked_lines) == len(item["lines"]):
            sent = sum(
                (Decimal(ln["netAmount"]) + Decimal(ln["taxAmount"]) for ln in item["lines"]),
                Decimal(0),
            )
            platform_total = sum((net + tax for net, tax in booked_lines), Decimal(0))
            if platform_total != sent:
                parts = " + ".join(f"({_money(n)} + {_money(t)})" for n, t in booked_lines)
                errors.append(
                    f"The line item total {_money(platform_total)}({parts}) must equal the "
                    f"transaction total {_money(sent)}"
                )

        issued = parse_issue_date(item["issueDate"])
        return errors, {
            "lines": lines_out,
            "contact": contact,
            "booked": booked,
            "issued": issued.date().isoformat() if issued else item["issueDate"],
        }

    def _contact(
        self,
        item: dict[str, Any],
        tx_type: str,
        account_is_bank: bool,
        booked: str,
        errors: list[str],
    ) -> dict[str, Any] | None:
        p = self.platform
        kind = p.contact_kind(tx_type, account_is_bank)
        override = item.get("contactRef")
        if override and not p.supplier_per_transaction:
            errors.append(
                f"{p.name} cannot take a supplier per transaction: it always uses the company's "
                "default supplier. Remove contactRef."
            )
            return None
        if kind == "Customer":
            # Customers cannot be overridden per transaction: the configuration decides.
            customer_id = (self.config.get("customer") or {}).get("id")
            if not customer_id:
                errors.append(
                    f"{p.name} records {tx_type} transactions against a customer: set a default "
                    "customer in the company configuration."
                )
                return None
            customer = self.data.customers.get(customer_id)
            if customer is None or not _active(customer):
                errors.append(f"Customer {customer_id} is not in an Active state in {p.name}.")
                return None
            return {"kind": "Customer", "id": customer_id, "name": customer["customerName"]}
        if kind is None:
            return None
        supplier_id = (override or {}).get("id") or (self.config.get("supplier") or {}).get("id")
        if not supplier_id:
            errors.append(
                f"{p.name} records {tx_type} transactions against a supplier: set contactRef on "
                "the transaction or a default supplier in the company configuration."
            )
            return None
        supplier = self.data.suppliers.get(supplier_id)
        if supplier is None or supplier.get("metadata", {}).get("isDeleted"):
            errors.append(f"Supplier {supplier_id} does not exist in {p.name}.")
            return None
        if supplier.get("status") == "Archived":
            errors.append(f"Supplier {_label(supplier, 'supplierName')} is not in an Active state.")
            return None
        if supplier.get("defaultCurrency") and supplier["defaultCurrency"] != booked:
            errors.append(
                f"Supplier {_label(supplier, 'supplierName')} trades in "
                f"{supplier['defaultCurrency']} only; the transaction is in {booked}."
            )
            return None
        return {"kind": "Supplier", "id": supplier_id, "name": supplier["supplierName"]}


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
            f"Configuration error: the configured bank account {_label(bank)} is not an active "
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
    problem = _config_problem(company, data)
    if problem:
        _fail_all(sync, items, Outcome(4000, "Error", problem), now)
        return

    is_update = sync.update_item is not None
    if not is_update:
        ids = [item["id"] for item in items]
        done = set(
            SandboxSyncTransaction.objects.filter(
                company=company, transaction_id__in=set(ids), status=TxStatus.COMPLETED
            ).values_list("transaction_id", flat=True)
        )
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

    assert company.configuration is not None  # checked by _config_problem
    checker = _Checker(platform, data, company.configuration)
    bank = checker.bank
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
            record = _ledger_record(
                company, sync, platform, item, resolved, bank, now, base=data.base_currency
            )
            records.append(record)
            label = platform.record_label(item["type"])
            message = f"{label} {record.record_ref} created in {platform.name}."
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


def _money(value: Decimal) -> str:
    return str(value.quantize(Decimal("0.01")))


def _ledger_record(
    company: SandboxCompany,
    sync: SandboxSync,
    platform: Platform,
    item: dict[str, Any],
    resolved: dict[str, Any],
    bank: dict[str, Any],
    now: datetime,
    *,
    base: str,
) -> SandboxLedgerRecord:
    total = sum(
        (Decimal(line["netAmount"]) + Decimal(line["taxAmount"]) for line in item["lines"]),
        Decimal(0),
    )
    rate = item.get("currencyRate")
    booked = resolved["booked"]
    return SandboxLedgerRecord(
        company=company,
        sync=sync,
        transaction_id=item["id"],
        record_type=platform.record_label(item["type"]),
        record_ref=str(uuid.uuid4()),
        type=item["type"],
        issue_date=resolved["issued"],
        currency=resolved["booked"],
        currency_rate=Decimal(rate) if rate is not None else None,
        bank_account={"id": bank["id"], "name": bank["name"], "currency": bank["currency"]},
        contact=resolved["contact"],
        merchant_name=item.get("merchantName", ""),
        notes=item.get("notes", ""),
        lines=resolved["lines"],
        total=Decimal(_money(total)),
        base_amount=base_amount(total, booked=booked, base=base, rate=rate),
        written_at=now,
    )


def base_amount(total: Decimal, *, booked: str, base: str, rate: Any) -> Decimal:
    """What the record is worth in the company's base currency: Codat's `currencyRate` is
    base units per one unit of the booked currency, so the base amount is total times the rate."""
    if booked == base or rate is None:
        return Decimal(_money(total))
    return (total * Decimal(str(rate))).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


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
