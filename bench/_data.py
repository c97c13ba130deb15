"""Expenses at scale, written with PostgreSQL's COPY and repeatable from a seed: each expense has
one line whose net amount is its amount, coded (when its status says so) with an account and a
zero tax rate the company's platform accepts for its type."""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

MERCHANTS = [
    "Pret A Manger",
    "Trainline",
    "Amazon Web Services",
    "Uber",
    "Staples",
    "Shell",
    "Premier Inn",
    "British Airways",
    "Costa Coffee",
    "Slack Technologies",
    "Zoom Video",
    "WHSmith",
    "Tesco Express",
    "Hertz",
    "Deliveroo",
]
EMPLOYEES = ["Alice Moreau", "Ben Okafor", "Chloe Tan", "Dev Patel", "Eva Novak", "Femi Adeyemi"]


@dataclass(frozen=True)
class Coding:
    account_ids: list[int]
    tax_rate_id: int


def payment_coding(company: Any) -> Coding:
    """Usable accounts and a zero tax rate for Payments on the company's platform."""
    from companies.models import LedgerAccount, TaxRate

    accounts = [
        a.pk
        for a in LedgerAccount.objects.usable().filter(company=company).order_by("codat_id")
        if a.accepts("Payment") and not a.is_bank_account
    ]
    rate = next(
        t
        for t in TaxRate.objects.usable().filter(company=company).order_by("codat_id")
        if t.effective_rate == 0
        and (not t.valid_transaction_types or "Payment" in t.valid_transaction_types)
    )
    return Coding(account_ids=accounts, tax_rate_id=rate.pk)


def insert_expenses(
    *,
    company: Any,
    statuses: list[tuple[str, float]],
    count: int,
    seed: int,
    approver_id: int | None = None,
) -> int:
    """COPY `count` Payment expenses in the company's currency into the database, statuses drawn
    by weight; coded ones get an account and the zero tax rate. Returns the number written."""
    from django.db import connection

    from expenses.models import Expense, ExpenseLine, merchant_key

    rng = random.Random(seed)
    coding = payment_coding(company)
    names, weights = zip(*statuses, strict=True)
    expense_table = Expense._meta.db_table
    line_table = ExpenseLine._meta.db_table
    now = datetime.now(tz=datetime.now().astimezone().tzinfo)
    start = date(2024, 1, 1)
    expense_columns = (
        "id, company_id, external_id, source, type, issue_date, currency, amount, merchant_name, "
        "merchant_key, "
        "card_label, employee_name, notes, status, status_changed_at, needs_recoding_reason, "
        "failure_message, approved_by_id, approved_at, created_at, updated_at, "
        "currency_rate_to_check"
    )
    line_columns = (
        "expense_id, position, description, net_amount, tax_amount, account_id, tax_rate_id"
    )
    lines: list[tuple[Any, ...]] = []
    with connection.cursor() as cursor:
        raw = cursor.cursor
        with raw.copy(f"COPY {expense_table} ({expense_columns}) FROM STDIN") as copy:
            for i in range(count):
                expense_id = uuid.UUID(int=rng.getrandbits(128), version=4)
                status = rng.choices(names, weights)[0]
                amount = Decimal(rng.randint(100, 250_000)) / 100
                merchant = f"{rng.choice(MERCHANTS)} #{rng.randrange(1, 400)}"
                approved = status in ("approved", "pushing", "syncing", "synced", "failed")
                copy.write_row(
                    (
                        expense_id,
                        company.pk,
                        f"bench-{seed}-{i}",
                        "api",
                        "Payment",
                        start + timedelta(days=rng.randrange(0, 700)),
                        company.base_currency,
                        amount,
                        merchant,
                        merchant_key(merchant),
                        f"Card {rng.randrange(1000, 9999)}",
                        rng.choice(EMPLOYEES),
                        "",
                        status,
                        now,
                        "",
                        "",
                        approver_id if approved else None,
                        now if approved else None,
                        now,
                        now,
                        "",
                    )
                )
                coded = status != "uncategorized"
                lines.append(
                    (
                        expense_id,
                        0,
                        "",
                        amount,
                        Decimal("0.00"),
                        rng.choice(coding.account_ids) if coded else None,
                        coding.tax_rate_id if coded else None,
                    )
                )
        with raw.copy(f"COPY {line_table} ({line_columns}) FROM STDIN") as copy:
            for line in lines:
                copy.write_row(line)
    with connection.cursor() as cursor:
        # As autovacuum would have done by now: statistics, and a visibility map so that
        # counts are index-only scans.
        cursor.execute(f"VACUUM ANALYZE {expense_table}")
        cursor.execute(f"VACUUM ANALYZE {line_table}")
    return count
