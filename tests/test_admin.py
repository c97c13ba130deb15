"""Django admin works for every model: lists, searches, filters and forms render for support."""

import pytest
from django.contrib import admin
from django.contrib.auth.models import Group
from django.urls import reverse
from django.utils import timezone

from companies.models import CompanyConfiguration
from expenses.ingest import ingest_token_authenticate, ingest_token_create
from expenses.models import CategorizationRule, EventKind, ExpenseEvent
from syncs.call_slots import call_slot_acquire
from syncs.models import CodatExchange, PushBatchItem, WebhookEvent, WorkerHeartbeat
from tests.factories import (
    BankAccountFactory,
    ConnectionFactory,
    CustomerFactory,
    ExpenseLineFactory,
    LedgerAccountFactory,
    MembershipFactory,
    PushBatchFactory,
    ReceiptUploadFactory,
    SupplierFactory,
    SyncTransactionFactory,
    TaxRateFactory,
    TrackingCategoryFactory,
)

pytestmark = pytest.mark.django_db

MODELS = sorted(admin.site._registry, key=lambda m: m._meta.label)
# The sandbox's admin has its own tests with its own data (tests/sandbox/test_admin.py).
PORTAL_APPS = {"companies", "expenses", "syncs"}


def test_every_portal_model_is_in_admin():
    from django.apps import apps

    for app in PORTAL_APPS:
        for model in apps.get_app_config(app).get_models():
            if model._meta.auto_created:
                continue
            assert model in admin.site._registry, f"{model._meta.label} has no admin"


@pytest.fixture
def support(admin_client):
    # Enough rows that list columns, inlines and related lookups all have something to render.
    ConnectionFactory()
    MembershipFactory()
    line = ExpenseLineFactory()
    company, expense = line.expense.company, line.expense
    account = LedgerAccountFactory(company=company)
    line.account, line.tax_rate = account, TaxRateFactory(company=company)
    line.save()
    line.tracking_categories.add(TrackingCategoryFactory(company=company))
    CompanyConfiguration.objects.create(
        company=company,
        bank_account=LedgerAccountFactory(company=company, is_bank_account=True),
        supplier=SupplierFactory(company=company),
        customer=CustomerFactory(company=company),
    )
    BankAccountFactory(company=company)
    CategorizationRule.objects.create(company=company, pattern="uber", account=account)
    ExpenseEvent.objects.create(expense=expense, kind=EventKind.CREATED, message="<b>x</b>")
    PushBatchItem.objects.create(batch=PushBatchFactory(company=company), expense=expense)
    SyncTransactionFactory(expense=expense)
    ReceiptUploadFactory()
    WebhookEvent.objects.create(
        webhook_id="msg_1", event_type="expenses.sync.successful", payload={}
    )
    CodatExchange.objects.create(method="GET", path="/companies", status=200)
    WorkerHeartbeat.objects.create(queue="portal", last_seen_at=timezone.now())
    call_slot_acquire(company_id=company.pk, holder="syncs.poll_sync:1@worker")
    Group.objects.create(name="Support")
    ingest_token_create(name="Card platform")
    return admin_client


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m._meta.label)
def test_changelist_search_and_add_render(support, model):
    info = (model._meta.app_label, model._meta.model_name)

    listing = support.get(reverse("admin:{}_{}_changelist".format(*info)))
    search = support.get(reverse("admin:{}_{}_changelist".format(*info)), {"q": "0b7c"})
    add = support.get(reverse("admin:{}_{}_add".format(*info)))

    assert listing.status_code == 200
    assert search.status_code == 200
    assert add.status_code in {200, 403}


@pytest.mark.parametrize(
    "model",
    [m for m in MODELS if m._meta.app_label in PORTAL_APPS | {"auth"}],
    ids=lambda m: m._meta.label,
)
def test_change_page_renders(support, model):
    instance = model._default_manager.first()
    assert instance is not None, f"the fixture must build a {model._meta.label}"
    info = (model._meta.app_label, model._meta.model_name)

    response = support.get(reverse("admin:{}_{}_change".format(*info), args=[instance.pk]))

    assert response.status_code == 200


def test_support_creates_an_ingest_key_and_sees_it_once(admin_client):
    response = admin_client.post(
        reverse("admin:expenses_ingesttoken_add"), {"name": "Card platform"}, follow=True
    )

    message = next(str(m) for m in response.context["messages"])
    raw = message.split(" is ", 1)[1].split(" ", 1)[0]
    token = ingest_token_authenticate(raw=raw)
    assert token is not None
    assert token.name == "Card platform"
    assert raw not in token.key_hash


def test_support_marks_a_failed_expense_as_synced_with_a_trail(admin_client):
    from expenses.models import ExpenseStatus
    from tests.factories import ExpenseFactory

    failed = ExpenseFactory(status=ExpenseStatus.FAILED, approved_at="2026-11-01T10:00Z")
    waiting = ExpenseFactory()

    selected = {"action": "mark_as_synced", "_selected_action": [failed.pk, waiting.pk]}
    asked = admin_client.post(reverse("admin:expenses_expense_changelist"), selected)
    admin_client.post(
        reverse("admin:expenses_expense_changelist"),
        {**selected, "apply": "1", "reason": "entered by hand by the accountant"},
    )

    assert "Reason" in asked.content.decode()
    failed.refresh_from_db()
    waiting.refresh_from_db()
    assert failed.status == ExpenseStatus.SYNCED
    assert failed.events.get(to_status="synced").message == (
        "Marked as synced by support: entered by hand by the accountant"
    )
    assert waiting.status == ExpenseStatus.UNCATEGORIZED


def test_push_now_from_the_admin_says_why_a_company_cannot_push(admin_client):
    from tests.factories import CompanyFactory

    company = CompanyFactory(name="Blocked Ltd")

    response = admin_client.post(
        reverse("admin:companies_company_changelist"),
        {"action": "push_now", "_selected_action": [company.pk]},
        follow=True,
    )

    assert "Blocked Ltd: The company has no default bank account" in response.content.decode()
