"""Hostile form input: HTML/JS in every name and note is shown escaped on every page that
shows it (a parametrised list of pages — add new pages to PAGES), and wrong types, huge values
and unicode posted to every form of the URLconf get an answer, never a server error."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.contrib.auth.models import Permission
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from companies.models import Invitation, Role
from expenses.models import CategorizationRule, ExpenseStatus
from gateway.models import CodatExchange
from syncs.models import SyncState, WebhookEvent
from tests.expenses.conftest import make_books
from tests.factories import (
    ExpenseFactory,
    ExpenseLineFactory,
    MembershipFactory,
    PushBatchFactory,
    ReceiptFactory,
    StaffFactory,
    SupportFactory,
    SyncFactory,
    SyncTransactionFactory,
)
from tests.security.test_url_access import PORTAL_ROUTES, PUBLIC, World, _matches

pytestmark = pytest.mark.django_db

SCRIPT = "<script>alert('xss')</script>"
IMG = '"><img src=x onerror=alert(1)>'
ESCAPED_SCRIPT = "&lt;script&gt;alert("


def hostile(label: str) -> str:
    """A value that would run if rendered raw; `label` says where it was put."""
    return f"{label} {SCRIPT}{IMG}"


@dataclass
class Hostile:
    company: Any
    expense: Any
    failed: Any
    rule: Any
    sync: Any
    exchange: Any
    webhook: Any


@pytest.fixture
def world() -> Hostile:
    books = make_books()
    company = books.company
    company.name = hostile("Company")
    company.save()
    books.travel.name = hostile("Account")
    books.travel.save()
    books.vat.name = hostile("Tax")
    books.vat.save()
    expense = ExpenseFactory(
        company=company,
        merchant_name=hostile("Merchant"),
        employee_name=hostile("Employee"),
        card_label=hostile("Card")[:100],
        notes=hostile("Notes") + " ünïcødé 🧾 \u202eRTL",
        amount=Decimal("12.00"),
    )
    ExpenseLineFactory(
        expense=expense, account=books.travel, tax_rate=books.vat, description=hostile("Line")
    )
    failed = ExpenseFactory(
        company=company,
        merchant_name=hostile("FailedMerchant"),
        status=ExpenseStatus.FAILED,
        failure_message=hostile("Failure"),
    )
    sync = SyncFactory(
        company=company,
        state=SyncState.FAILED,
        status_text=hostile("Status")[:100],
        error_message=hostile("SyncError"),
    )
    SyncTransactionFactory(sync=sync, transaction_id=failed.pk, message=hostile("TxMessage"))
    return Hostile(
        company=company,
        expense=expense,
        failed=failed,
        rule=CategorizationRule.objects.create(
            company=company, pattern=hostile("Rule")[:200], account=books.travel
        ),
        sync=sync,
        exchange=CodatExchange.objects.create(
            company=company,
            method="POST",
            path="/companies/x/sync/expenses/data/expense-transactions",
            status=400,
            duration_ms=5,
            response_body=hostile("Exchange"),
            error=hostile("ExchangeError")[:500],
        ),
        webhook=WebhookEvent.objects.create(
            webhook_id="msg_hostile",
            event_type="expenses.sync.unsuccessful",
            payload={"note": hostile("Webhook")},
            error=hostile("WebhookError"),
        ),
    )


def _admin_change(model: str, pk: Callable[[Hostile], Any]) -> Callable[[Hostile], str]:
    return lambda w: reverse(f"admin:{model}_change", args=[pk(w)])


# (page, how to build its URL, the hostile labels it must show escaped). Add pages here.
PAGES: list[tuple[str, Callable[[Hostile], str], list[str]]] = [
    ("companies list", lambda w: reverse("home"), ["Company"]),
    ("company detail", lambda w: reverse("company-detail", args=[w.company.pk]), ["Company"]),
    ("company settings", lambda w: reverse("company-settings", args=[w.company.pk]), ["Company"]),
    (
        "queue",
        lambda w: reverse("expense-queue", args=[w.company.pk]),
        ["Merchant", "Employee", "Company"],
    ),
    (
        "queue, failed tab",
        lambda w: reverse("expense-queue", args=[w.company.pk]) + "?tab=failed",
        ["FailedMerchant", "Account", "Tax"],
    ),
    (
        "expense detail",
        lambda w: reverse("expense-detail", args=[w.company.pk, w.expense.pk]),
        ["Merchant", "Notes", "Account", "Tax", "Line"],
    ),
    (
        "failed expense detail",
        lambda w: reverse("expense-detail", args=[w.company.pk, w.failed.pk]),
        ["FailedMerchant"],
    ),
    ("rules", lambda w: reverse("rule-list", args=[w.company.pk]), ["Rule", "Account"]),
    (
        "rule edit",
        lambda w: reverse("rule-edit", args=[w.company.pk, w.rule.pk]),
        ["Rule", "Account"],
    ),
    ("sync progress panel", lambda w: reverse("push-progress", args=[w.company.pk]), []),
    ("syncs", lambda w: reverse("sync-list", args=[w.company.pk]), ["Company"]),
    (
        "sync detail",
        lambda w: reverse("sync-detail", args=[w.company.pk, w.sync.pk]),
        ["Company", "SyncError", "TxMessage"],
    ),
    ("dashboard", lambda w: reverse("dashboard"), ["Company"]),
    ("admin expenses", lambda w: reverse("admin:expenses_expense_changelist"), ["Merchant"]),
    (
        "admin expense",
        _admin_change("expenses_expense", lambda w: w.expense.pk),
        ["Merchant", "Notes", "Employee"],
    ),
    ("admin companies", lambda w: reverse("admin:companies_company_changelist"), ["Company"]),
    ("admin company", _admin_change("companies_company", lambda w: w.company.pk), ["Company"]),
    ("admin syncs", lambda w: reverse("admin:syncs_sync_changelist"), ["Company"]),
    (
        "admin sync",
        _admin_change("syncs_sync", lambda w: w.sync.pk),
        ["Status", "SyncError", "TxMessage", "FailedMerchant"],
    ),
    (
        "admin exchange",
        _admin_change("gateway_codatexchange", lambda w: w.exchange.pk),
        ["Exchange"],
    ),
    ("admin webhook", _admin_change("syncs_webhookevent", lambda w: w.webhook.pk), ["Webhook"]),
    (
        "admin rules",
        lambda w: reverse("admin:expenses_categorizationrule_changelist"),
        ["Rule"],
    ),
]


@pytest.mark.parametrize(("page", "url", "labels"), PAGES, ids=[p[0] for p in PAGES])
def test_html_in_names_and_notes_is_shown_escaped(world, page, url, labels):
    client = Client()
    client.force_login(StaffFactory(is_superuser=True))

    response = client.get(url(world))

    assert response.status_code == 200
    body = response.content.decode()
    assert "<script>alert(" not in body
    assert "<img src=x onerror" not in body
    for label in labels:  # the value is on the page, escaped: the check above could fail
        assert f"{label} {ESCAPED_SCRIPT}" in body, f"{page} does not show {label} escaped"


# --- Wrong types, huge values, unicode posted to every form ----------------------------------

FIELD_NAMES = [
    "action",
    "account",
    "tax_rate",
    "tracking",
    "net_amount",
    "tax_amount",
    "description",
    "notes",
    "currency_rate",
    "supplier_override",
    "pattern",
    "match",
    "transaction_type",
    "min_amount",
    "max_amount",
    "priority",
    "is_active",
    "active",
    "direction",
    "role",
    "user",
    "name",
    "platform",
    "bank_account",
    "supplier",
    "customer",
    "ids",
    "all_matching",
    "query",
    "reason",
    "confirm",
    "from",
    "lines-TOTAL_FORMS",
    "lines-INITIAL_FORMS",
    "lines-MAX_NUM_FORMS",
    "lines-0-account",
    "lines-0-tax_rate",
    "lines-0-net_amount",
    "lines-0-tax_amount",
    "lines-0-description",
    "lines-0-tracking",
    "lines-1-net_amount",
]
odd_values = st.one_of(
    st.text(max_size=20),
    st.sampled_from(
        [
            "",
            "0",
            "-1",
            "1e308",
            "NaN",
            "Infinity",
            "9" * 40,
            "12.345",
            "99999999999999999999",
            "-99999999999999999999",
            "1000000",
            "on",
            "up",
            "remove",
            "code",
            "approve",
            "exclude",
            "yes",
            "onboarding",
            "viewer",
            "approver",
            "xero",
            "Payment",
            "contains",
            "tab=all&q=%00&amount_min=1e999",
            "\x00",
            "\ud800".encode("utf-8", "surrogatepass").decode("utf-8", "replace"),
            "ﷺ" * 50,
            "x" * 6000,
            SCRIPT,
            "00000000-0000-0000-0000-000000000000",
        ]
    ),
)
form_data = st.dictionaries(
    st.sampled_from(FIELD_NAMES), st.one_of(odd_values, st.lists(odd_values, max_size=3))
)
POST_ROUTES = [
    r
    for r in PORTAL_ROUTES
    if (r.company_scoped or r.name == "company-connect") and not _matches(r, PUBLIC)
]


@pytest.fixture
def approver_client(world):
    # Support that may do everything the forms offer: an approver's role on every company,
    # connecting companies (company-connect) and managing members.
    user = SupportFactory()
    user.user_permissions.add(
        *Permission.objects.filter(
            content_type__app_label="companies", codename__endswith="_membership"
        )
    )
    client = Client(raise_request_exception=False)
    client.force_login(user)
    # The ids every URL is built from: company A's objects; another member for member pages.
    client.ids = World(
        company=world.company,
        expense=world.expense,
        receipt=ReceiptFactory(expense=world.expense),
        rule=world.rule,
        viewer=None,
        approver=MembershipFactory(company=world.company, role=Role.VIEWER).user,
        outsider=None,
        staff=None,
        sync=world.sync,
        batch=PushBatchFactory(company=world.company),
        invitation=Invitation.objects.create(
            company=world.company,
            email="invited@example.com",
            token="h" * 43,
            expires_at=timezone.now() + timedelta(days=7),
        ),
    )
    return client


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=form_data, htmx=st.booleans())
def test_odd_form_values_get_an_answer_never_a_server_error(world, approver_client, data, htmx):
    ids = approver_client.ids
    headers = {"HX-Request": "true"} if htmx else {}
    problems = []
    for route in POST_ROUTES:
        url = ids.url(route)
        response = approver_client.post(url, data, headers=headers)
        if response.status_code >= 500:
            problems.append(f"POST {url} ({route.label}) {data!r} → {response.status_code}")
        query = approver_client.get(url, data, headers=headers)
        if query.status_code >= 500:
            problems.append(f"GET {url} ({route.label}) {data!r} → {query.status_code}")

    assert problems == []


def test_ids_beyond_64_bits_are_refused_like_any_unknown_id(world, approver_client):
    """SQLite cannot hold the id, which once escaped the choice fields as OverflowError."""
    ids = approver_client.ids
    huge = "9" * 20
    data = {
        "account": huge,
        "tax_rate": huge,
        "tracking": [huge],
        "supplier_override": huge,
        "bank_account": huge,
        "supplier": huge,
        "customer": huge,
        "pattern": "uber",
        "priority": "1",
        "action": "code",
        "ids": [str(world.expense.pk)],
    }
    failures = []
    for route in POST_ROUTES:
        url = ids.url(route)
        response = approver_client.post(url, data)
        if response.status_code >= 500:
            failures.append(f"POST {url} ({route.label}) → {response.status_code}")
    assert failures == []
