"""Data for the load and soak runs: a company onboarded against the sandbox through the real
services, thousands of approved expenses written in bulk, and signed-in users."""

from __future__ import annotations

import base64
from datetime import date, timedelta
from decimal import Decimal

import requests
from django.conf import settings
from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from companies.models import (
    Company,
    Connection,
    ConnectionKind,
    Customer,
    LedgerAccount,
    Membership,
    Role,
    Supplier,
    TaxRate,
)
from companies.onboarding import company_configuration_save, company_onboard
from companies.platforms import Platform, TransactionType
from expenses.models import Expense, ExpenseLine, ExpenseSource, ExpenseStatus

# The sandbox refuses anything dated on or before its ledgers' lock date (2020-12-31): every
# expense dated here fails at Codat with a reason, as a locked period does on every platform.
LOCKED_PERIOD_DAY = date(2020, 6, 15)
CHUNK = 1000


def sandbox_control(method: str, path: str, json: object = None) -> requests.Response:
    """A call to the sandbox's control surface (`_sandbox/…`), never faulted."""
    auth = "Basic " + base64.b64encode(settings.CODAT_API_KEY.encode()).decode()
    response = requests.request(
        method,
        f"{settings.CODAT_BASE_URL}/_sandbox/{path}",
        json=json,
        headers={"Authorization": auth},
        timeout=60,
    )
    response.raise_for_status()
    return response


def sandbox_sync_ids(company: Company) -> list[str]:
    """The id of every sync the sandbox started for the company, read through the API (call
    it once the run's faults are off)."""
    auth = "Basic " + base64.b64encode(settings.CODAT_API_KEY.encode()).decode()
    response = requests.get(
        f"{settings.CODAT_BASE_URL}/companies/{company.codat_company_id}"
        "/sync/expenses/syncs/list/status",
        headers={"Authorization": auth},
        timeout=60,
    )
    response.raise_for_status()
    return [str(row["syncId"]) for row in response.json()]


def sandbox_ledger_ids(company: Company) -> list[str]:
    """The transaction id of every record in the company's sandbox ledger (duplicates kept)."""
    rows = sandbox_control("GET", f"companies/{company.codat_company_id}/ledger").json()
    return [str(row["transactionId"]) for row in rows]


def company_linked(*, name: str, platform: Platform) -> Company:
    """Onboard a company the way a customer does (created in Codat, linked, data pulled,
    configured), running the onboarding tasks in this process."""
    from companies import tasks
    from sfe_portal.celery import app

    eager = app.conf.task_always_eager
    app.conf.task_always_eager = True
    try:
        company = company_onboard(name=name, platform=platform)
        company.refresh_from_db()
        accounting = Connection.objects.get(company=company, kind=ConnectionKind.ACCOUNTING)
        sandbox_control(
            "POST",
            f"companies/{company.codat_company_id}/connections/{accounting.codat_connection_id}"
            "/authorize",
        )
        tasks.link_check.delay(company.pk)
        company.refresh_from_db()
        support, _ = User.objects.get_or_create(username="support", defaults={"is_staff": True})
        bank = (
            LedgerAccount.objects.usable()
            .filter(company=company, is_bank_account=True, currency=company.base_currency)
            .order_by("codat_id")
            .first()
        )
        if bank is None:
            raise RuntimeError(f"{company}: the sandbox gave no bank account in the base currency")
        company_configuration_save(
            company=company,
            bank_account=bank,
            supplier=Supplier.objects.usable()
            .filter(company=company, default_currency__in=["", company.base_currency])
            .order_by("codat_id")
            .first(),
            customer=Customer.objects.usable().filter(company=company).order_by("codat_id").first(),
            by=support,
        )
    finally:
        app.conf.task_always_eager = eager
    company.refresh_from_db()
    return company


def payment_coding(company: Company) -> tuple[LedgerAccount, TaxRate]:
    """An account and a tax rate the platform accepts for a card payment."""
    account = (
        LedgerAccount.objects.usable()
        .filter(company=company, is_bank_account=False)
        .order_by("codat_id")
    )
    chosen = next(a for a in account if TransactionType.PAYMENT in a.valid_transaction_types)
    rate = next(
        t
        for t in TaxRate.objects.usable().filter(company=company).order_by("codat_id")
        if not t.valid_transaction_types or TransactionType.PAYMENT in t.valid_transaction_types
    )
    return chosen, rate


def _split(gross: Decimal, rate: TaxRate) -> tuple[Decimal, Decimal]:
    if not rate.effective_rate:
        return gross, Decimal("0.00")
    tax = (gross * rate.effective_rate / (100 + rate.effective_rate)).quantize(Decimal("0.01"))
    return gross - tax, tax


def expenses_bulk(
    *,
    company: Company,
    count: int,
    status: str = ExpenseStatus.APPROVED,
    approver: User | None = None,
    locked_every: int = 0,
    prefix: str = "bulk",
) -> int:
    """Write `count` coded card payments in bulk (one INSERT per thousand rows). Approved ones
    carry their approver; with `locked_every`, every n-th is dated in the ledger's locked
    period so the platform refuses it."""
    account, rate = payment_coding(company)
    now = timezone.now()
    approved = status == ExpenseStatus.APPROVED
    coded = status != ExpenseStatus.UNCATEGORIZED
    written = 0
    for start in range(0, count, CHUNK):
        expenses = []
        for i in range(start, min(count, start + CHUNK)):
            locked = bool(locked_every) and i % locked_every == locked_every - 1
            expenses.append(
                Expense(
                    company=company,
                    external_id=f"{prefix}-{i:06d}",
                    source=ExpenseSource.API,
                    type=TransactionType.PAYMENT,
                    issue_date=LOCKED_PERIOD_DAY
                    if locked
                    else date(2026, 11, 1) - timedelta(days=i % 60),
                    currency=company.base_currency,
                    amount=Decimal(10 + i % 90) + Decimal("0.50"),
                    merchant_name=f"Merchant {i % 250}",
                    employee_name=f"Cardholder {i % 40}",
                    status=status,
                    approved_by=approver if approved else None,
                    approved_at=now if approved else None,
                )
            )
        with transaction.atomic():
            Expense.objects.bulk_create(expenses)
            lines = []
            for expense in expenses:
                net, tax = _split(expense.amount, rate)
                lines.append(
                    ExpenseLine(
                        expense=expense,
                        position=0,
                        net_amount=net if coded else expense.amount,
                        tax_amount=tax if coded else Decimal("0.00"),
                        account=account if coded else None,
                        tax_rate=rate if coded else None,
                    )
                )
            ExpenseLine.objects.bulk_create(lines)
        written += len(expenses)
    return written


def users_bulk(*, count: int, companies: list[Company], password: str) -> list[str]:
    """`count` approvers of every one of `companies`; returns their usernames."""
    names = [f"load-user-{i:03d}" for i in range(count)]
    template = User(username="template")
    template.set_password(password)  # one hash for all: hashing 50 times costs seconds of CPU
    User.objects.bulk_create(
        [User(username=name, password=template.password) for name in names],
        ignore_conflicts=True,
    )
    users = User.objects.filter(username__in=names)
    Membership.objects.bulk_create(
        [Membership(user=u, company=c, role=Role.APPROVER) for u in users for c in companies],
        ignore_conflicts=True,
    )
    return names
