"""Master data refresh: ask Codat to fetch the ledger again, follow `dataStatus`, then pull every
page of every data type the portal codes against and upsert it by Codat id.

The work is split into steps so no step ever sleeps: `company_refresh_start` asks Codat for a
fetch, `company_refresh_poll` reads `dataStatus` once and says whether to look again, and
`company_refresh_pull` reads the data, writes it in one transaction and announces it
(`companies.signals.master_data_pulled`: the expenses app rechecks the expenses coded against it).
The tasks chain them with countdowns; tests call the steps directly.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Any, TypeVar

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from codat import CodatError
from codat import types as codat_types
from companies.models import (
    AccountType,
    BankAccount,
    BankAccountType,
    Company,
    CompanyStatus,
    Connection,
    ConnectionKind,
    ConnectionStatus,
    Customer,
    LedgerAccount,
    MasterData,
    SourceStatus,
    Supplier,
    TaxRate,
    TrackingCategory,
)
from companies.services import (
    company_clear_error,
    company_record_error,
    company_transition,
    connection_set_status,
)
from companies.signals import company_disconnected, master_data_pulled
from gateway.exchanges import codat_client

logger = logging.getLogger(__name__)

# The data types the portal reads, as `dataStatus` keys them.
REFRESH_DATA_TYPES = (
    "company",
    "chartOfAccounts",
    "bankAccounts",
    "suppliers",
    "customers",
    "trackingCategories",
    "taxRates",
)
# How long the poll waits for Codat to finish fetching before pulling what it has: data already
# fetched stays readable while a refresh runs, so a slow platform still gives us a usable pull.
REFRESH_POLL_LIMIT = timedelta(minutes=15)
STEP_REFRESH = "refresh"


class PollOutcome(StrEnum):
    WAIT = "wait"
    PULL = "pull"
    STOPPED = "stopped"


def _accounting_connection(company: Company) -> Connection | None:
    return Connection.objects.filter(
        company=company, kind=ConnectionKind.ACCOUNTING, deleted_at__isnull=True
    ).first()


def connection_check(*, connection: Connection) -> Connection:
    """Ask Codat for the connection's status and record it (a status change moves the company:
    a connection that is no longer linked disconnects it)."""
    client = codat_client(company_id=connection.company_id)
    remote = client.get_connection(
        str(connection.company.codat_company_id), str(connection.codat_connection_id)
    )
    status = _connection_status(remote.status)
    connection = connection_set_status(connection=connection, status=status)
    if connection.kind == ConnectionKind.ACCOUNTING and status in (
        ConnectionStatus.UNLINKED,
        ConnectionStatus.DEAUTHORIZED,
    ):
        company_connection_lost(
            company=connection.company,
            reason=f"Codat reports the connection {status.label.lower()}",
        )
    return connection


def _connection_status(value: str | None) -> ConnectionStatus:
    try:
        return ConnectionStatus(value or "")
    except ValueError:
        return ConnectionStatus.PENDING_AUTH


def company_connection_lost(*, company: Company, reason: str) -> Company:
    """The accounting connection stopped working (seen on a refresh, or a 4040 from a sync):
    the company is disconnected until the customer links it again. The move is announced
    (`companies.signals.company_disconnected`, with `reason` in plain words) in its own
    transaction."""
    company.refresh_from_db(fields=["status"])
    if CompanyStatus.DISCONNECTED in _next(company):
        with transaction.atomic():
            company_transition(company=company, to=CompanyStatus.DISCONNECTED)
            company_disconnected.send(sender=Company, company=company, reason=reason)
    return company


def _next(company: Company) -> frozenset[str]:
    from companies.services import COMPANY_TRANSITIONS

    return COMPANY_TRANSITIONS[company.status]


def company_refresh_start(*, company: Company, now: datetime | None = None) -> bool:
    """Check the accounting connection and ask Codat to fetch every data type again.

    Returns False (with the reason recorded on the company) when there is nothing to refresh
    from: no Codat company, no connection, or a connection that is no longer linked.
    """
    now = now or timezone.now()
    connection = _accounting_connection(company)
    if company.codat_company_id is None or connection is None:
        company_record_error(
            company=company,
            step=STEP_REFRESH,
            message="The company is not connected to Codat yet; connect it first.",
        )
        return False
    try:
        connection = connection_check(connection=connection)
        if not connection.is_linked:
            company_record_error(
                company=company,
                step=STEP_REFRESH,
                message=(
                    f"The {company.platform_label} connection is "
                    f"{connection.get_status_display().lower()}: send the customer the link "
                    "again from the company settings so they can re-authorize it."
                ),
            )
            return False
        codat_client(company_id=company.pk).refresh_all_data(str(company.codat_company_id))
    except CodatError as error:
        company_record_error(company=company, step=STEP_REFRESH, message=error_in_words(error))
        raise
    Company.objects.filter(pk=company.pk).update(refresh_started_at=now)
    company.refresh_started_at = now
    if company.status == CompanyStatus.DISCONNECTED:
        company_transition(company=company, to=CompanyStatus.PULLING)
    return True


def company_refresh_poll(*, company: Company, now: datetime | None = None) -> PollOutcome:
    """Read `dataStatus` once: PULL when every data type is fetched (or we waited long enough),
    WAIT to look again later, STOPPED when no refresh is under way."""
    now = now or timezone.now()
    if company.refresh_started_at is None:
        return PollOutcome.STOPPED
    try:
        statuses = codat_client(company_id=company.pk).get_data_status(
            str(company.codat_company_id)
        )
    except CodatError as error:
        company_record_error(company=company, step=STEP_REFRESH, message=error_in_words(error))
        raise
    fetched = all(
        key in statuses and statuses[key].current_status == "Complete" for key in REFRESH_DATA_TYPES
    )
    if fetched or now - company.refresh_started_at >= REFRESH_POLL_LIMIT:
        return PollOutcome.PULL
    return PollOutcome.WAIT


@dataclass(frozen=True)
class Pulled:
    """Everything one refresh read from Codat, before it is written."""

    info: codat_types.CompanyInfo
    accounts: list[codat_types.Account]
    mapping: codat_types.MappingOptions
    bank_accounts: list[codat_types.BankAccount]
    suppliers: list[codat_types.Supplier]
    customers: list[codat_types.Customer]
    tracking_categories: list[codat_types.TrackingCategory]
    tax_rates: list[codat_types.TaxRate]


def company_refresh_pull(*, company: Company, now: datetime | None = None) -> Company:
    """Read every page of every data type, then write it all in one transaction.

    Once it is written, `master_data_pulled` is sent: the layer above rechecks the expenses
    coded against what changed (`companies/signals.py`)."""
    now = now or timezone.now()
    connection = _accounting_connection(company)
    if company.codat_company_id is None or connection is None:
        raise ValueError(f"company {company.pk} has no Codat company or connection")
    codat_id = str(company.codat_company_id)
    client = codat_client(company_id=company.pk)
    try:
        # All reads happen before the transaction opens: no database lock is held over HTTP.
        pulled = Pulled(
            info=client.get_company_info(codat_id),
            accounts=list(client.iter_accounts(codat_id)),
            mapping=client.get_mapping_options(codat_id),
            bank_accounts=list(
                client.iter_bank_accounts(codat_id, str(connection.codat_connection_id))
            ),
            suppliers=list(client.iter_suppliers(codat_id)),
            customers=list(client.iter_customers(codat_id)),
            tracking_categories=list(client.iter_tracking_categories(codat_id)),
            tax_rates=list(client.iter_tax_rates(codat_id)),
        )
    except CodatError as error:
        company_record_error(company=company, step=STEP_REFRESH, message=error_in_words(error))
        raise
    company = master_data_store(company=company, pulled=pulled, now=now)
    master_data_pulled.send(sender=Company, company=company)
    return company


@transaction.atomic
def master_data_store(*, company: Company, pulled: Pulled, now: datetime) -> Company:
    """Upsert every record by Codat id; mark what vanished, never delete it."""
    account_types = {
        option.id: list(option.valid_transaction_types)
        for option in pulled.mapping.accounts
        if option.id
    }
    # The newer generation's `validFor`; none when the options came in v1's shape.
    account_valid_for = {
        option.id: list(option.valid_for)
        for option in pulled.mapping.accounts
        if option.id and option.valid_for is not None
    }
    tax_types = {
        option.id: list(option.valid_transaction_types)
        for option in pulled.mapping.tax_rates
        if option.id
    }
    _upsert(
        LedgerAccount,
        company,
        now,
        (
            (
                a.id,
                {
                    "name": (a.name or a.fully_qualified_name or a.id)[:300],
                    "nominal_code": (a.nominal_code or "")[:50],
                    "full_name": (a.fully_qualified_name or "")[:500],
                    "account_type": _choice(AccountType, a.type, AccountType.UNKNOWN),
                    "currency": (a.currency or "")[:3],
                    "is_bank_account": a.is_bank_account,
                    # An account missing from mapping options accepts no type at all.
                    "valid_transaction_types": account_types.get(a.id, []),
                    "valid_for": account_valid_for.get(a.id, [] if account_valid_for else None),
                    **_state(a.status, a.is_deleted),
                },
            )
            for a in pulled.accounts
        ),
    )
    _upsert(
        TaxRate,
        company,
        now,
        (
            (
                t.id,
                {
                    "name": (t.name or t.code or t.id)[:300],
                    "code": (t.code or "")[:100],
                    "effective_rate": _rate(t.effective_tax_rate),
                    "total_rate": _rate(t.total_tax_rate),
                    "valid_transaction_types": tax_types.get(t.id, []),
                    **_state(t.status, t.is_deleted),
                },
            )
            for t in pulled.tax_rates
        ),
    )
    _upsert(
        TrackingCategory,
        company,
        now,
        (
            (
                c.id,
                {
                    "name": (c.name or c.id)[:300],
                    "has_children": c.has_children,
                    **_state(c.status, c.is_deleted),
                },
            )
            for c in pulled.tracking_categories
        ),
    )
    _resolve_parents(company, pulled.tracking_categories)
    _upsert(
        Supplier,
        company,
        now,
        (
            (
                s.id,
                {
                    "name": (s.supplier_name or s.id)[:300],
                    "default_currency": (s.default_currency or "")[:3],
                    **_state(s.status, s.is_deleted),
                },
            )
            for s in pulled.suppliers
        ),
    )
    _upsert(
        Customer,
        company,
        now,
        (
            (
                c.id,
                {
                    "name": (c.customer_name or c.id)[:300],
                    "default_currency": (c.default_currency or "")[:3],
                    **_state(c.status, c.is_deleted),
                },
            )
            for c in pulled.customers
        ),
    )
    _upsert(
        BankAccount,
        company,
        now,
        (
            (
                b.id,
                {
                    "name": (b.account_name or b.id)[:300],
                    "account_type": _choice(
                        BankAccountType, b.account_type, BankAccountType.UNKNOWN
                    ),
                    "nominal_code": (b.nominal_code or "")[:50],
                    "currency": (b.currency or "")[:3],
                    **_state(b.status, b.is_deleted),
                },
            )
            for b in pulled.bank_accounts
        ),
    )
    base_currency = (pulled.info.base_currency or "").upper()
    changes: dict[str, Any] = {
        "master_data_version": uuid.uuid4(),
        "master_data_refreshed_at": now,
        "refresh_started_at": None,
        "updated_at": now,
    }
    if len(base_currency) == 3 and base_currency.isalpha():
        changes["base_currency"] = base_currency
        company.base_currency = base_currency
    Company.objects.filter(pk=company.pk).update(**changes)
    company.master_data_refreshed_at, company.refresh_started_at = now, None
    company.master_data_version = changes["master_data_version"]
    company_clear_error(company=company, step=STEP_REFRESH)
    company.refresh_from_db(fields=["status"])
    if company.status == CompanyStatus.PULLING:
        from companies.models import CompanyConfiguration

        configured = CompanyConfiguration.objects.filter(
            company=company, bank_account__isnull=False, saved_to_codat_at__isnull=False
        ).exists()
        company_transition(
            company=company,
            to=CompanyStatus.READY if configured else CompanyStatus.NEEDS_CONFIGURATION,
        )
    return company


_MD = TypeVar("_MD", bound=MasterData)


def _upsert(
    model: type[_MD],
    company: Company,
    now: datetime,
    rows: Iterable[tuple[str, dict[str, Any]]],
) -> None:
    existing: dict[str, _MD] = {
        record.codat_id: record for record in model._default_manager.filter(company=company)
    }
    seen: set[str] = set()
    to_create: list[_MD] = []
    to_update: list[_MD] = []
    fields: set[str] = {"refreshed_at", "missing_since"}
    for codat_id, values in rows:
        if not codat_id or codat_id in seen:
            continue
        seen.add(codat_id)
        record = existing.get(codat_id)
        if record is None:
            to_create.append(
                model(
                    company=company,
                    codat_id=codat_id,
                    refreshed_at=now,
                    missing_since=None,
                    **values,
                )
            )
            continue
        for name, value in values.items():
            setattr(record, name, value)
        fields.update(values)
        record.refreshed_at, record.missing_since = now, None
        to_update.append(record)
    # Records Codat no longer returns keep their rows (expenses may point at them), marked from
    # the first refresh that missed them.
    for codat_id, record in existing.items():
        if codat_id not in seen and record.missing_since is None:
            record.missing_since = now
            to_update.append(record)
    model._default_manager.bulk_create(to_create, batch_size=500)
    if to_update:
        model._default_manager.bulk_update(to_update, sorted(fields), batch_size=500)


def _resolve_parents(company: Company, categories: Sequence[codat_types.TrackingCategory]) -> None:
    ids = dict(TrackingCategory.objects.filter(company=company).values_list("codat_id", "pk"))
    records = {
        record.codat_id: record for record in TrackingCategory.objects.filter(company=company)
    }
    changed = []
    for category in categories:
        record = records.get(category.id)
        if record is None:
            continue
        parent_pk = ids.get(category.parent_id) if category.parent_id else None
        if parent_pk == record.pk:
            parent_pk = None
        if record.parent_id != parent_pk:
            record.parent_id = parent_pk
            changed.append(record)
    TrackingCategory.objects.bulk_update(changed, ["parent"], batch_size=500)


def _state(status: str | None, is_deleted: bool) -> dict[str, Any]:
    return {
        "status": _choice(SourceStatus, status, SourceStatus.UNKNOWN),
        "is_deleted": is_deleted,
    }


_Choice = TypeVar("_Choice", bound=str)


def _choice(choices: Any, value: str | None, default: _Choice) -> str:
    return str(value) if value in choices.values else str(default)


def _rate(value: Decimal | None) -> Decimal:
    if value is None or value < 0:
        return Decimal(0)
    return min(value, Decimal("999.9999")).quantize(Decimal("0.0001"))


def error_in_words(error: CodatError) -> str:
    """A Codat failure as the page shows it: what happened, and what to do about it."""
    from codat import (
        CodatAuthError,
        CodatNotFoundError,
        CodatNotReadyError,
        CodatRateLimitedError,
        CodatUnavailableError,
    )

    detail = error.message + (
        f" — correlation id {error.correlation_id}" if error.correlation_id else ""
    )
    if isinstance(error, CodatAuthError):
        return f"Codat refused our API key ({detail}). Support must check CODAT_API_KEY."
    if isinstance(error, CodatNotFoundError):
        return f"Codat no longer knows this company or connection ({detail})."
    if isinstance(error, CodatNotReadyError):
        return "Codat has not finished fetching the data yet. Try again in a minute."
    if isinstance(error, CodatRateLimitedError):
        return "Codat asked us to slow down. It will be retried shortly."
    if isinstance(error, CodatUnavailableError):
        return f"Codat could not be reached ({detail}). It will be retried; or retry now."
    return f"Codat answered with an error: {detail}"


def company_refresh_due(*, now: datetime | None = None) -> list[int]:
    """The companies the daily refresh covers: connected ones with no refresh under way (or one
    stuck for longer than the poll limit)."""
    now = now or timezone.now()
    return list(
        Company.objects.filter(
            status__in=[CompanyStatus.NEEDS_CONFIGURATION, CompanyStatus.READY],
            codat_company_id__isnull=False,
        )
        .filter(
            Q(refresh_started_at__isnull=True)
            | Q(refresh_started_at__lt=now - REFRESH_POLL_LIMIT * 2)
        )
        .values_list("pk", flat=True)
    )


def company_refresh_request(*, company: Company) -> None:
    """ "Refresh now": queue a refresh after commit; the page follows it through our tables."""
    from companies import tasks

    company_id = company.pk
    transaction.on_commit(lambda: tasks.refresh.delay(company_id))
