"""HTTP views of the sandbox: the 25 v1 operations, the newer Expenses API's write operations
beside them, the accounting-data reads, the `_sandbox/` control surface, the Link page and the
ledger page. Thin: parse, call a service, shape JSON."""

from __future__ import annotations

import logging
from collections.abc import Callable
from decimal import Decimal
from typing import Any, cast

from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db.models import Count, Prefetch
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from sandbox import expenses_api, services
from sandbox.api import codat_api, json_body, ok, runtime
from sandbox.engine import (
    company_base_currency,
    process_due_syncs,
    sync_items,
    sync_status_view,
)
from sandbox.errors import ApiError, validation_error
from sandbox.models import (
    ConnectionStatus,
    ExpensesApi,
    RecordKind,
    SandboxCompany,
    SandboxConnection,
    SandboxLedgerRecord,
    SandboxSettings,
    SandboxSync,
    SandboxSyncTransaction,
    SyncState,
    TxStatus,
)
from sandbox.paging import envelope, page_request
from sandbox.query import order_by, parse_query
from sandbox.services import iso
from sandbox.webhooks import current_settings, deliver_due_webhooks, webhook_target

logger = logging.getLogger(__name__)

# --- JSON shapes ----------------------------------------------------------------------------------


def connection_json(request: HttpRequest, connection: SandboxConnection) -> dict[str, Any]:
    link = reverse(
        "sandbox:link",
        kwargs={"company_id": connection.company_id, "connection_id": connection.id},
    )
    body: dict[str, Any] = {
        "id": str(connection.id),
        "integrationId": str(connection.integration_id),
        "integrationKey": connection.platform_key,
        "sourceId": str(connection.source_id),
        "sourceType": connection.source_type,
        "platformName": connection.platform_name,
        "linkUrl": request.build_absolute_uri(link),
        "status": connection.status,
        "created": iso(connection.created),
        "dataConnectionErrors": [],
        "connectionInfo": None,
    }
    # Optional fields whose schema is a bare $ref (so `nullable` beside it does not count in
    # OpenAPI 3.0) are left out rather than sent as null.
    if connection.last_sync:
        body["lastSync"] = iso(connection.last_sync)
    return body


def company_json(request: HttpRequest, company: SandboxCompany) -> dict[str, Any]:
    connections = list(company.connections.all())
    last_syncs = [c.last_sync for c in connections if c.last_sync]
    body: dict[str, Any] = {
        "id": str(company.id),
        "name": company.name,
        "redirect": request.build_absolute_uri(
            reverse("sandbox:company-link", kwargs={"company_id": company.id})
        ),
        "created": iso(company.created),
        "createdByUserName": "sandbox",
        "products": services.company_products(company),
        "tags": company.tags,
        "referenceSubsidiaryCompanies": [],
        "dataConnections": [connection_json(request, c) for c in connections],
    }
    # As in connection_json: optional $ref fields are omitted when there is no value.
    if company.description:
        body["description"] = company.description
    if last_syncs:
        body["lastSync"] = iso(max(last_syncs))
    return body


def sync_json(sync: SandboxSync) -> dict[str, Any]:
    code, text = sync_status_view(sync, timezone.now())
    return {
        "companyId": str(sync.company_id),
        "syncId": str(sync.id),
        "syncStatusCode": code,
        "syncStatus": text,
        "errorMessage": sync.error_message,
        "syncExceptionMessage": sync.exception_message,
        "syncUtc": iso(sync.created),
        "dataPushed": sync.data_pushed,
    }


def tx_json(tx: SandboxSyncTransaction) -> dict[str, Any]:
    return {
        "transactionId": tx.transaction_id,
        "status": tx.status,
        "message": tx.message or None,
        "integrationType": "expenses",
    }


def _pending_rows(sync: SandboxSync) -> list[dict[str, Any]]:
    """Before the engine has run, the sync's transactions read as Pending."""
    return [
        {
            "transactionId": item["id"],
            "status": TxStatus.PENDING,
            "message": None,
            "integrationType": "expenses",
        }
        for item in sync_items(sync)
    ]


def api_path(request: HttpRequest) -> str:
    """The request's path as Codat writes it in `_links`: relative to the API root, so that
    `base URL + href` works for the sandbox exactly as for https://api.codat.io."""
    mount = reverse("sandbox:companies")[: -len("companies")]
    return "/" + request.path[len(mount) :] if request.path.startswith(mount) else request.path


def _company(company_id: Any) -> SandboxCompany:
    return services.company_get(company_id)


def _progress(company: SandboxCompany) -> None:
    """Let a polling client see progress without a worker: run whatever is due now. The read
    must answer even if that fails; the sync stays queued (its transaction rolled back) and the
    next read, the worker or the sweep tries again."""
    try:
        process_due_syncs(now=timezone.now(), company_ids=[company.id])
    except Exception:
        logger.exception("processing due syncs of company %s failed", company.id)


def _paged_list(request: HttpRequest, records: list[dict[str, Any]]) -> HttpResponse:
    paging = page_request(request)
    predicate = parse_query(request.GET.get("query"))
    if predicate is not None:
        records = [r for r in records if predicate(r)]
    records = order_by(records, request.GET.get("orderBy"))
    return ok(envelope(request, api_path(request), records, paging))


# --- Companies --------------------------------------------------------------------------------


@codat_api("GET", "POST")
def companies(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        company = services.company_create(body=json_body(request), now=timezone.now())
        return ok(company_json(request, company))
    rows = [
        company_json(request, c) for c in SandboxCompany.objects.prefetch_related("connections")
    ]
    tags = request.GET.get("tags")
    if tags:
        tag_filter = parse_query(tags)
        rows = [r for r in rows if tag_filter is None or tag_filter(r["tags"])]
    return _paged_list(request, rows)


@codat_api("GET", "PUT", "PATCH", "DELETE")
def company(request: HttpRequest, company_id: str) -> HttpResponse:
    company = _company(company_id)
    if request.method == "DELETE":
        company.delete()
        return HttpResponse(status=204)
    if request.method in ("PUT", "PATCH"):
        company = services.company_change(
            company=company, body=json_body(request), partial=request.method == "PATCH"
        )
    return ok(company_json(request, company))


# --- Connections ------------------------------------------------------------------------------


@codat_api("GET", "POST")
def connections(request: HttpRequest, company_id: str) -> HttpResponse:
    company = _company(company_id)
    if request.method == "POST":
        connection = services.connection_create(
            company=company, body=json_body(request), now=timezone.now()
        )
        return ok(connection_json(request, connection))
    return _paged_list(request, [connection_json(request, c) for c in company.connections.all()])


@codat_api("GET", "PATCH", "DELETE")
def connection(request: HttpRequest, company_id: str, connection_id: str) -> HttpResponse:
    company = _company(company_id)
    conn = services.connection_get(company, connection_id)
    if request.method == "DELETE":
        conn.delete()
        return HttpResponse(status=200)
    if request.method == "PATCH":
        conn = services.connection_unlink(connection=conn, body=json_body(request))
    return ok(connection_json(request, conn))


@codat_api("POST")
def partner_expense(request: HttpRequest, company_id: str) -> HttpResponse:
    company = _company(company_id)
    conn = services.partner_expense_connection(company=company, now=timezone.now())
    return ok(connection_json(request, conn))


# --- Accounting data --------------------------------------------------------------------------


@codat_api("GET")
def data_list(request: HttpRequest, company_id: str, endpoint: str) -> HttpResponse:
    company = _company(company_id)
    records = services.data_records(
        company=company, data_type=services.ENDPOINT_TYPES[endpoint], now=timezone.now()
    )
    if endpoint == "info":
        return ok(records[0])
    return _paged_list(request, records)


@codat_api("GET")
def data_one(request: HttpRequest, company_id: str, endpoint: str, record_id: str) -> HttpResponse:
    company = _company(company_id)
    records = services.data_records(
        company=company, data_type=services.ENDPOINT_TYPES[endpoint], now=timezone.now()
    )
    for record in records:
        if str(record["id"]) == record_id:
            return ok(record)
    raise ApiError(404, f"No data available for {endpoint} for ID {record_id}", service="PullApi")


@codat_api("GET")
def bank_accounts(request: HttpRequest, company_id: str, connection_id: str) -> HttpResponse:
    company = _company(company_id)
    services.connection_get(company, connection_id)
    records = services.data_records(company=company, data_type="bankAccounts", now=timezone.now())
    return _paged_list(request, records)


@codat_api("POST")
def data_all(request: HttpRequest, company_id: str) -> HttpResponse:
    services.data_refresh(company=_company(company_id), now=timezone.now())
    return HttpResponse(status=204)


@codat_api("GET")
def data_status(request: HttpRequest, company_id: str) -> HttpResponse:
    return ok(services.data_status(company=_company(company_id), now=timezone.now()))


# --- Sync for Expenses ------------------------------------------------------------------------


@codat_api("GET", "POST")
def config(request: HttpRequest, company_id: str) -> HttpResponse:
    company = _company(company_id)
    if request.method == "POST":
        return ok(services.config_save(company=company, body=json_body(request)))
    return ok(services.config_get(company=company))


@codat_api("GET")
def mapping_options(request: HttpRequest, company_id: str) -> HttpResponse:
    return ok(services.mapping_options(company=_company(company_id), now=timezone.now()))


@codat_api("POST")
def expense_dataset(request: HttpRequest, company_id: str) -> HttpResponse:
    company = _company(company_id)
    dataset = services.dataset_create(company=company, body=json_body(request), now=timezone.now())
    return ok({"datasetId": str(dataset.id)})


@codat_api("POST")
def initiate_sync(request: HttpRequest, company_id: str) -> HttpResponse:
    company = _company(company_id)
    sync = services.sync_initiate(
        company=company, body=json_body(request, required=False), now=timezone.now()
    )
    return ok({"syncId": str(sync.id)}, status=202)


@codat_api("PUT")
def update_expense(request: HttpRequest, company_id: str, transaction_id: str) -> HttpResponse:
    """The same path in both generations: the company's generation decides the rules (v1: Xero
    Payments; the newer one: Payments on Xero, QBO and NetSuite, with `currency` required)."""
    company = _company(company_id)
    update = (
        expenses_api.expense_update
        if services.company_api(company) == ExpensesApi.EXPENSES
        else services.expense_update
    )
    sync = update(
        company=company,
        transaction_id=transaction_id,
        body=json_body(request),
        now=timezone.now(),
    )
    return ok({"syncId": str(sync.id)}, status=202)


# --- The newer Expenses API's writes ----------------------------------------------------------


def _write(
    request: HttpRequest, company_id: str, operation: Callable[..., SandboxSync], **ids: str
) -> HttpResponse:
    """One write of the newer API: its body to `operation`, its sync's id back (200)."""
    sync = operation(
        company=_company(company_id), body=json_body(request), now=timezone.now(), **ids
    )
    return ok({"syncId": str(sync.id)})


@codat_api("POST")
def expense_transactions(request: HttpRequest, company_id: str) -> HttpResponse:
    return _write(request, company_id, expenses_api.expenses_create)


@codat_api("PUT")
def transfer_transaction(
    request: HttpRequest, company_id: str, transaction_id: str
) -> HttpResponse:
    return _write(request, company_id, expenses_api.transfer_put, transaction_id=transaction_id)


@codat_api("POST")
def adjustment_transactions(request: HttpRequest, company_id: str) -> HttpResponse:
    return _write(request, company_id, expenses_api.adjustments_create)


@codat_api("POST")
def reimbursable_transactions(request: HttpRequest, company_id: str) -> HttpResponse:
    return _write(request, company_id, expenses_api.reimbursables_create)


@codat_api("PUT")
def reimbursable_transaction(
    request: HttpRequest, company_id: str, transaction_id: str
) -> HttpResponse:
    return _write(
        request, company_id, expenses_api.reimbursable_update, transaction_id=transaction_id
    )


@codat_api("GET")
def sync_status(request: HttpRequest, company_id: str, which: str) -> HttpResponse:
    company = _company(company_id)
    _progress(company)
    syncs = SandboxSync.objects.filter(company=company)
    if which == "list":
        return ok([sync_json(s) for s in syncs.order_by("seq")])
    if which == "latest":
        found = syncs.order_by("-seq").first()
    else:
        found = (
            syncs.filter(state=SyncState.FINISHED, status_code__in=(2000, 2040))
            .order_by("-seq")
            .first()
        )
    if found is None:
        what = "successful sync" if which == "lastSuccessful" else "sync"
        raise ApiError(
            404, f"No {what} was found for company {company.id}", service="ExpenseSyncApi"
        )
    return ok(sync_json(found))


@codat_api("GET")
def sync_by_id(request: HttpRequest, company_id: str, sync_id: str) -> HttpResponse:
    company = _company(company_id)
    _progress(company)
    return ok(sync_json(services.sync_get(company, sync_id)))


@codat_api("GET")
def sync_transactions(request: HttpRequest, company_id: str, sync_id: str) -> HttpResponse:
    company = _company(company_id)
    _progress(company)
    sync = services.sync_get(company, sync_id)
    paging = page_request(request)
    rows = (
        _pending_rows(sync)
        if sync.state != SyncState.FINISHED
        else [tx_json(t) for t in sync.transactions.all()]
    )
    return ok(envelope(request, api_path(request), rows, paging))


@codat_api("GET")
def sync_transaction(
    request: HttpRequest, company_id: str, sync_id: str, transaction_id: str
) -> HttpResponse:
    company = _company(company_id)
    _progress(company)
    sync = services.sync_get(company, sync_id)
    if sync.state != SyncState.FINISHED:
        rows = [r for r in _pending_rows(sync) if r["transactionId"] == transaction_id]
    else:
        rows = [tx_json(t) for t in sync.transactions.filter(transaction_id=transaction_id)]
    if not rows:
        raise ApiError(
            404,
            f"Transaction {transaction_id} was not found in sync {sync_id}.",
            service="ExpenseSyncApi",
        )
    return ok(rows)


@codat_api("POST")
def upload_attachment(
    request: HttpRequest, company_id: str, sync_id: str, transaction_id: str
) -> HttpResponse:
    company = _company(company_id)
    sync = services.sync_get(company, sync_id)
    # Codat takes the first file part whatever its name (`file`, the SDK's `fileName`, …).
    upload = cast(UploadedFile | None, next(iter(request.FILES.values()), None))
    attachment = services.attachment_upload(
        company=company,
        sync=sync,
        transaction_id=transaction_id,
        upload=upload,
        now=timezone.now(),
    )
    return ok({"companyId": str(company.id), "id": attachment.id, "transactionId": transaction_id})


@codat_api("GET", "POST", "PUT", "PATCH", "DELETE")
def not_found(request: HttpRequest, rest: str = "") -> HttpResponse:
    raise ApiError(404, "Not Found")


# --- Control surface --------------------------------------------------------------------------


@codat_api("POST", control=True)
def control_authorize(request: HttpRequest, company_id: str, connection_id: str) -> HttpResponse:
    conn = services.connection_get(_company(company_id), connection_id)
    conn = services.connection_authorize(connection=conn, now=timezone.now())
    return ok(connection_json(request, conn))


@codat_api("POST", control=True)
def control_deauthorize(request: HttpRequest, company_id: str, connection_id: str) -> HttpResponse:
    conn = services.connection_get(_company(company_id), connection_id)
    conn = services.connection_set_status(connection=conn, status=ConnectionStatus.DEAUTHORIZED)
    return ok(connection_json(request, conn))


def ledger_rows(company: SandboxCompany) -> list[dict[str, Any]]:
    """Every record written, in the order written. Beside the fields every record has, `kind`
    says what it is (expense, transfer, bill, journal); a transfer carries `transfer` (from and
    to, each with its account and its own amount), a bill its `dueDate` and `employee`, a draft
    `draft: true`."""
    return [
        {
            "transactionId": r.transaction_id,
            "kind": r.kind,
            "api": r.api,
            "recordType": r.record_type,
            "recordId": r.record_ref,
            "type": r.type,
            "issueDate": r.issue_date,
            "currency": r.currency,
            "currencyRate": str(r.currency_rate) if r.currency_rate is not None else None,
            "bankAccount": r.bank_account,
            "contact": r.contact,
            "merchantName": r.merchant_name,
            "notes": r.notes,
            "lines": r.lines,
            "total": str(r.total),
            "baseAmount": str(r.base_amount) if r.base_amount is not None else str(r.total),
            "syncId": str(r.sync_id),
            "attachments": r.attachment_count,
            "version": r.version,
            "writtenAt": iso(r.written_at),
            "reference": r.reference or None,
            "draft": r.draft,
            "dueDate": r.due_date or None,
            "employee": r.contact if r.kind == RecordKind.BILL else None,
            "transfer": r.transfer,
        }
        for r in SandboxLedgerRecord.objects.filter(company=company).order_by("written_at", "id")
    ]


@codat_api("GET", control=True)
def control_ledger(request: HttpRequest, company_id: str) -> HttpResponse:
    return ok(ledger_rows(_company(company_id)))


_FAULT_LIMITS: dict[str, tuple[float, float]] = {
    "error_rate": (0.0, 1.0),
    "timeout_rate": (0.0, 1.0),
    "rate_limit_every": (0, 1_000_000),
    "retry_after_s": (0, 86_400),
    "latency_ms": (0, 600_000),
    "timeout_stall_ms": (0, 600_000),
    "lost_answer_rate": (0.0, 1.0),
}


@codat_api("GET", "PUT", "DELETE", control=True)
def control_faults(request: HttpRequest) -> HttpResponse:
    row = current_settings()
    if request.method == "DELETE":
        defaults = SandboxSettings()
        for name in (*_FAULT_LIMITS, "error_status"):
            setattr(row, name, getattr(defaults, name))
        row.request_counter = 0
        row.save()
        return HttpResponse(status=204)
    if request.method == "PUT":
        body = json_body(request)
        if not isinstance(body, dict):
            raise ApiError(400, "Send a JSON object of fault settings.")
        errors = []
        for name, value in body.items():
            if name == "seed":
                runtime.rng.seed(value)
            elif name == "error_status":
                if value not in (500, 502, 503):
                    errors.append(
                        {
                            "itemId": name,
                            "message": "error_status must be 500, 502 or 503.",
                            "validatorName": "Enum",
                        }
                    )
                else:
                    row.error_status = value
            elif name in _FAULT_LIMITS:
                low, high = _FAULT_LIMITS[name]
                if (
                    isinstance(value, bool)
                    or not isinstance(value, int | float | Decimal)
                    or not low <= float(value) <= high
                ):
                    errors.append(
                        {
                            "itemId": name,
                            "message": f"{name} must be between {low:g} and {high:g}.",
                            "validatorName": "Range",
                        }
                    )
                else:
                    setattr(row, name, float(value) if name.endswith("_rate") else int(value))
            else:
                errors.append(
                    {
                        "itemId": name,
                        "message": f"Unknown fault setting {name}.",
                        "validatorName": "Unknown",
                    }
                )
        if errors:
            raise validation_error(errors, service="Sandbox")
        row.request_counter = 0
        row.save()
    return ok(row.fault_dict())


def _settings_json(row: Any) -> dict[str, Any]:
    url, _ = webhook_target(row)
    return {
        "sync_delay_ms": row.sync_delay_ms,
        "webhook_url": url,
        "webhook_secret_set": bool(row.webhook_secret),
        "rate_limit_per_minute": row.rate_limit_per_minute,
        "v1_enabled": row.v1_enabled,
    }


@codat_api("GET", "PUT", control=True)
def control_settings(request: HttpRequest) -> HttpResponse:
    row = current_settings()
    if request.method == "PUT":
        body = json_body(request)
        if not isinstance(body, dict):
            raise ApiError(400, "Send a JSON object of settings.")
        errors = []
        for name, value in body.items():
            if name in ("sync_delay_ms", "rate_limit_per_minute"):
                minimum = 0 if name == "sync_delay_ms" else 1
                if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
                    errors.append(
                        {
                            "itemId": name,
                            "message": f"{name} must be a whole number of at least {minimum}.",
                            "validatorName": "Range",
                        }
                    )
                else:
                    setattr(row, name, value)
            elif name == "webhook_url":
                if not isinstance(value, str) or (
                    value and not value.startswith(("http://", "https://"))
                ):
                    errors.append(
                        {
                            "itemId": name,
                            "message": "webhook_url must be an http(s) URL, or empty for the "
                            "portal's endpoint.",
                            "validatorName": "Url",
                        }
                    )
                else:
                    row.webhook_url = value
            elif name == "v1_enabled":
                if not isinstance(value, bool):
                    errors.append(
                        {
                            "itemId": name,
                            "message": "v1_enabled must be true or false.",
                            "validatorName": "Type",
                        }
                    )
                else:
                    row.v1_enabled = value
            elif name == "webhook_secret":
                if not isinstance(value, str) or (value and not value.startswith("whsec_")):
                    errors.append(
                        {
                            "itemId": name,
                            "message": "webhook_secret must start with whsec_.",
                            "validatorName": "Format",
                        }
                    )
                else:
                    row.webhook_secret = value
            else:
                errors.append(
                    {
                        "itemId": name,
                        "message": f"Unknown setting {name}.",
                        "validatorName": "Unknown",
                    }
                )
        if errors:
            raise validation_error(errors, service="Sandbox")
        row.save()
    return ok(_settings_json(row))


@codat_api("GET", "PUT", control=True)
def control_company_api(request: HttpRequest, company_id: str) -> HttpResponse:
    """Which generation a company speaks on the routes both share (mapping options' shape, the
    rules of an expense update, `products`): moved by its writes, or set here, as Codat would
    when the company moves to the Expenses product."""
    company = _company(company_id)
    if request.method == "PUT":
        body = json_body(request)
        api = body.get("api") if isinstance(body, dict) else None
        if api not in ExpensesApi.values:
            raise validation_error(
                [
                    {
                        "itemId": "api",
                        "message": "api must be v1 or expenses.",
                        "validatorName": "Enum",
                    }
                ],
                service="Sandbox",
            )
        services.company_api_set(company, api)
    return ok(
        {
            "api": services.company_api(company),
            "products": services.company_products(company),
            "v1Enabled": services.v1_enabled(),
        }
    )


@codat_api("POST", control=True)
def control_record_add(request: HttpRequest, company_id: str, data_type: str) -> HttpResponse:
    record = services.record_add(
        company=_company(company_id), data_type=data_type, body=json_body(request)
    )
    return ok(record)


@codat_api("POST", "PATCH", "DELETE", control=True)
def control_record(
    request: HttpRequest, company_id: str, data_type: str, record_id: str
) -> HttpResponse:
    record = services.record_change(
        company=_company(company_id),
        data_type=data_type,
        record_id=record_id,
        changes=None if request.method == "DELETE" else json_body(request),
        delete=request.method == "DELETE",
    )
    return ok(record)


@codat_api("POST", control=True)
def control_process(request: HttpRequest) -> HttpResponse:
    now = timezone.now()
    return ok({"syncs": process_due_syncs(now=now), "webhooks": deliver_due_webhooks(now=now)})


# --- Pages for people -------------------------------------------------------------------------


@login_not_required
@require_http_methods(["GET", "POST"])
def link_page(request: HttpRequest, company_id: str, connection_id: str) -> HttpResponse:
    """The page behind a connection's `linkUrl`: the customer authorises in one click."""
    conn = get_object_or_404(
        SandboxConnection.objects.select_related("company"),
        pk=connection_id,
        company_id=company_id,
    )
    if request.method == "POST" and conn.status != ConnectionStatus.LINKED:
        services.connection_authorize(connection=conn, now=timezone.now())
        return redirect(request.path)
    return render(request, "sandbox/link.html", {"connection": conn, "company": conn.company})


@login_not_required
@require_http_methods(["GET"])
def company_link_page(request: HttpRequest, company_id: str) -> HttpResponse:
    company = get_object_or_404(SandboxCompany, pk=company_id)
    pending = company.connections.filter(source_type="Accounting")
    return render(
        request, "sandbox/company_link.html", {"company": company, "connections": pending}
    )


@login_not_required
@require_http_methods(["GET"])
def ledger_page(request: HttpRequest, company_id: str) -> HttpResponse:
    """What the customer's accountant sees in their software after the syncs."""
    try:
        company = SandboxCompany.objects.get(pk=company_id)
    except (SandboxCompany.DoesNotExist, ValueError, DjangoValidationError):
        raise Http404("No such sandbox company") from None
    records = (
        SandboxLedgerRecord.objects.filter(company=company)
        .select_related("sync")
        .prefetch_related(Prefetch("attachments"))
        .order_by("-written_at", "-id")
    )
    connection = company.connections.filter(source_type="Accounting").first()
    summary = records.aggregate(n=Count("id"))
    return render(
        request,
        "sandbox/ledger.html",
        {
            "company": company,
            "records": records,
            "connection": connection,
            "count": summary["n"],
            "base_currency": company_base_currency(company),
        },
    )
