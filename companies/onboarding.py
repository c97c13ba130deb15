"""Connecting a company: the Codat company and its accounting connection, the customer's link,
the partner-expense connection, the first pull of master data and the configuration.

Each step is a service that records its failure on the company in plain words; the tasks in
`companies.tasks` chain them, and `company_onboarding_retry` resumes from wherever it stopped.
"""

from __future__ import annotations

from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from codat import CodatError
from codat import types as codat_types
from companies.models import (
    Company,
    CompanyConfiguration,
    CompanyStatus,
    Connection,
    ConnectionKind,
    ConnectionStatus,
    Customer,
    LedgerAccount,
    Supplier,
)
from companies.platforms import Platform, rules_for
from companies.refresh import connection_check, error_in_words
from companies.services import company_clear_error, company_record_error, company_transition
from gateway.exchanges import codat_client

STEP_CREATE = "create"
# The tag that ties a Codat company to ours (Codat tag keys are at most 27 characters).
_PORTAL_TAG = "portalCompanyId"
STEP_LINK = "link"
STEP_PARTNER = "partner_expense"
STEP_CONFIGURATION = "configuration"


class ConfigurationRefused(Exception):
    """The chosen configuration breaks a rule; the message names the field and the fix."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


@transaction.atomic
def company_onboard(*, name: str, platform: Platform) -> Company:
    """Create the company here and start creating it in Codat once this is committed."""
    company = Company(name=name.strip(), platform=platform, status=CompanyStatus.NEW)
    company.full_clean()
    company.save()
    _enqueue("companies.onboard_create", company)
    return company


def company_codat_create(*, company: Company) -> Company:
    """Create the Codat company and its accounting connection (each only if not done yet)."""
    client = codat_client(company_id=company.pk)
    try:
        if company.codat_company_id is None:
            # A retry after a crash between Codat's answer and our save finds the company it
            # created by its tag instead of creating a second one.
            tag = f"{_PORTAL_TAG}={company.pk}"
            created = next(
                (c for c in client.iter_companies(tags=tag) if c.name == company.name), None
            ) or client.create_company(company.name, tags={_PORTAL_TAG: str(company.pk)})
            Company.objects.filter(pk=company.pk).update(codat_company_id=created.id)
            company.refresh_from_db(fields=["codat_company_id"])
        if not _connection(company, ConnectionKind.ACCOUNTING):
            codat_id = str(company.codat_company_id)
            remote = next(
                (
                    c
                    for c in client.iter_connections(codat_id)
                    if c.integration_key == company.platform
                ),
                None,
            ) or client.create_connection(codat_id, company.platform)
            _store_connection(company, remote, ConnectionKind.ACCOUNTING)
    except CodatError as error:
        company_record_error(company=company, step=STEP_CREATE, message=error_in_words(error))
        raise
    company_clear_error(company=company, step=STEP_CREATE)
    if company.status == CompanyStatus.NEW:
        company_transition(company=company, to=CompanyStatus.AWAITING_LINK)
    return company


def company_link_check(*, company: Company) -> bool:
    """Ask Codat whether the customer linked the accounting connection; once they did, create
    the partner-expense connection and start the first pull. Returns True when linked."""
    connection = _connection(company, ConnectionKind.ACCOUNTING)
    if connection is None:
        return False
    try:
        connection = connection_check(connection=connection)
    except CodatError as error:
        company_record_error(company=company, step=STEP_LINK, message=error_in_words(error))
        raise
    if not connection.is_linked:
        return False
    company_clear_error(company=company, step=STEP_LINK)
    company_partner_expense_ensure(company=company)
    company.refresh_from_db(fields=["status"])
    if company.status in (CompanyStatus.AWAITING_LINK, CompanyStatus.DISCONNECTED):
        company_transition(company=company, to=CompanyStatus.PULLING)
    _enqueue("companies.refresh", company)
    return True


def company_partner_expense_ensure(*, company: Company) -> Connection:
    existing = _connection(company, ConnectionKind.PARTNER_EXPENSE)
    if existing is not None:
        return existing
    try:
        remote = codat_client(company_id=company.pk).create_partner_expense_connection(
            str(company.codat_company_id)
        )
    except CodatError as error:
        company_record_error(company=company, step=STEP_PARTNER, message=error_in_words(error))
        raise
    company_clear_error(company=company, step=STEP_PARTNER)
    return _store_connection(company, remote, ConnectionKind.PARTNER_EXPENSE)


def company_onboarding_retry(*, company: Company) -> str:
    """Resume onboarding from where it stands; returns the task that was queued."""
    if company.codat_company_id is None or not _connection(company, ConnectionKind.ACCOUNTING):
        task = "companies.onboard_create"
    elif company.status in (CompanyStatus.AWAITING_LINK, CompanyStatus.DISCONNECTED):
        task = "companies.link_check"
    elif company.status == CompanyStatus.PULLING:
        task = "companies.refresh"
    else:
        config = CompanyConfiguration.objects.filter(company=company).first()
        task = (
            "companies.configuration_push"
            if config and config.saved_to_codat_at is None
            else "companies.refresh"
        )
    _enqueue(task, company)
    return task


@transaction.atomic
def company_configuration_save(
    *,
    company: Company,
    bank_account: LedgerAccount,
    supplier: Supplier | None,
    customer: Customer | None,
    by: User,
) -> CompanyConfiguration:
    """Save the configuration here and send it to Codat after commit."""
    rules = rules_for(company.platform, company.expenses_api)
    for record in (bank_account, supplier, customer):
        if record is not None and record.company_id != company.pk:
            raise ConfigurationRefused("bank_account", "Choose records of this company.")
    if not (bank_account.is_bank_account and bank_account.is_usable):
        raise ConfigurationRefused(
            "bank_account", "Choose an active bank account of the company's chart of accounts."
        )
    if rules.needs_default_supplier and supplier is None:
        raise ConfigurationRefused(
            "supplier",
            f"{company.platform_label} records every expense against the default supplier: "
            "choose one.",
        )
    for field, record in (("supplier", supplier), ("customer", customer)):
        if record is not None and not record.is_usable:
            raise ConfigurationRefused(field, f"{record.name} {record.unusable_reason}.")
    config, _ = CompanyConfiguration.objects.select_for_update().get_or_create(company=company)
    config.bank_account, config.supplier, config.customer = bank_account, supplier, customer
    config.updated_by = by
    config.saved_to_codat_at = None
    config.save()
    _enqueue("companies.configuration_push", company)
    return config


def company_configuration_push(*, company: Company) -> CompanyConfiguration | None:
    """Send the saved configuration to Codat; the company becomes ready once Codat has it."""
    config = (
        CompanyConfiguration.objects.filter(company=company)
        .select_related("bank_account", "supplier", "customer")
        .first()
    )
    if config is None or config.bank_account is None or company.codat_company_id is None:
        return config
    body = codat_types.CompanyConfiguration(
        bank_account_id=config.bank_account.codat_id,
        supplier_id=config.supplier.codat_id if config.supplier else None,
        customer_id=config.customer.codat_id if config.customer else None,
    )
    try:
        codat_client(company_id=company.pk).save_company_configuration(
            str(company.codat_company_id), body
        )
    except CodatError as error:
        company_record_error(
            company=company, step=STEP_CONFIGURATION, message=error_in_words(error)
        )
        raise
    now = timezone.now()
    # Only the version that was sent is marked saved: an edit made meanwhile is sent again.
    CompanyConfiguration.objects.filter(pk=config.pk, updated_at=config.updated_at).update(
        saved_to_codat_at=now
    )
    config.saved_to_codat_at = now
    company_clear_error(company=company, step=STEP_CONFIGURATION)
    company.refresh_from_db(fields=["status"])
    if company.status == CompanyStatus.NEEDS_CONFIGURATION:
        company_transition(company=company, to=CompanyStatus.READY)
    return config


def _connection(company: Company, kind: ConnectionKind) -> Connection | None:
    return Connection.objects.filter(company=company, kind=kind, deleted_at__isnull=True).first()


def _store_connection(
    company: Company, remote: codat_types.Connection, kind: ConnectionKind
) -> Connection:
    try:
        status = ConnectionStatus(remote.status or "")
    except ValueError:
        status = ConnectionStatus.PENDING_AUTH
    connection, _ = Connection.objects.get_or_create(
        codat_connection_id=remote.id,
        defaults={
            "company": company,
            "kind": kind,
            "platform_key": (remote.integration_key or company.platform)[:4],
            "status": status,
            "link_url": (remote.link_url or "")[:500],
        },
    )
    return connection


def _enqueue(task_name: str, company: Company) -> None:
    from companies import tasks

    task = tasks.BY_NAME[task_name]
    company_id = company.pk
    transaction.on_commit(lambda: task.delay(company_id))


def company_link_wait_expired(*, company: Company) -> Company:
    """The link check gave up (days without the customer linking): say so, with what to do."""
    return company_record_error(
        company=company,
        step=STEP_LINK,
        message=(
            f"The customer has not linked {company.platform_label} yet. Send them the link "
            "again, then choose “Check the connection now”."
        ),
    )


def company_codat_reported_unlinked(*, company: Company) -> Company:
    """For the push pipeline: a sync ended 4040 (the accounting connection is not linked).
    Disconnect the company at once, so pushes stop and the banner shows, and ask Codat for the
    connection's status; a re-link found by that check resumes the company."""
    from companies.refresh import company_connection_lost

    company = company_connection_lost(
        company=company,
        reason="Codat ended a sync saying the accounting connection is not linked",
    )
    _enqueue("companies.link_check", company)
    return company
