"""Django admin works for every model: lists, searches, filters and forms render for support."""

from datetime import timedelta

import pytest
from django.contrib import admin
from django.contrib.auth.models import Group
from django.urls import reverse
from django.utils import timezone

from companies.models import CompanyConfiguration, ExpensesApiSwitch, Invitation
from expenses.ingest import ingest_token_authenticate, ingest_token_create
from expenses.models import CategorizationRule, EventKind, ExpenseEvent
from gateway.call_slots import call_slot_acquire
from gateway.models import CodatExchange
from syncs.models import PushBatchItem, WebhookEvent, WorkerHeartbeat
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
PORTAL_APPS = {"gateway", "companies", "expenses", "syncs"}


def test_every_portal_model_is_in_admin():
    from django.apps import apps

    for app in PORTAL_APPS:
        for model in apps.get_app_config(app).get_models():
            # A lock row with no permissions (the call gate) is nobody's to view; a model's
            # history rows are read through its own admin's History.
            if model._meta.auto_created or not model._meta.default_permissions:
                continue
            if getattr(model, "instance_type", None) is not None:
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
    Group.objects.get_or_create(name="Support")  # made by a migration; kept if flushed
    Invitation.objects.create(
        company=company,
        email="invited@example.com",
        token="t" * 43,
        expires_at=timezone.now() + timedelta(days=7),
    )
    ingest_token_create(name="Card platform", company=None)
    ExpensesApiSwitch.objects.create(
        company=company, from_api="v1", to_api="expenses", via="admin", switched_at=timezone.now()
    )
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
        reverse("admin:expenses_ingesttoken_add"),
        {"name": "Card platform", "all_companies": "on"},
        follow=True,
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


# --- Expenses that have gone out: their money changes only through Codat ----------------------


def _posted_back(response) -> dict:
    """The change form's fields, inlines included, as a browser would post them unchanged."""
    forms = [response.context["adminform"].form]
    data: dict = {}
    for inline in response.context["inline_admin_formsets"]:
        forms += [inline.formset.management_form, *inline.formset.forms]
    for form in forms:
        for field in form:
            value = field.value()
            if value is None or value is False:
                continue
            data[field.html_name] = value
    return data


def _synced_line(**fields):
    from expenses.models import ExpenseStatus

    fields.setdefault("expense__status", ExpenseStatus.SYNCED)
    return ExpenseLineFactory(**fields)


def test_a_synced_expense_shows_its_money_and_lines_read_only_and_says_why(admin_client):
    expense = _synced_line().expense

    response = admin_client.get(reverse("admin:expenses_expense_change", args=[expense.pk]))

    body = response.content.decode()
    for field in ("amount", "currency", "currency_rate", "type", "company", "issue_date"):
        assert f'name="{field}"' not in body, field
    assert 'name="lines-0-net_amount"' not in body
    assert 'name="lines-0-tax_amount"' not in body
    assert 'name="lines-MAX_NUM_FORMS" value="0"' in body  # no line can be added
    assert 'name="merchant_name"' in body  # what is not money stays editable
    assert "cannot change here, and it cannot be deleted" in body
    assert "Correct it from its page in the portal" in body
    assert reverse("admin:expenses_expense_delete", args=[expense.pk]) not in body


def test_saving_a_synced_expense_keeps_its_money_and_lines(admin_client):
    from decimal import Decimal

    line = _synced_line()
    expense = line.expense
    url = reverse("admin:expenses_expense_change", args=[expense.pk])
    data = _posted_back(admin_client.get(url))
    data.update(
        {
            "merchant_name": "Pret (corrected name)",
            "amount": "999.00",
            "currency": "USD",
            "lines-0-net_amount": "900.00",
            "lines-0-DELETE": "on",
            "lines-TOTAL_FORMS": "2",
            "lines-1-net_amount": "5.00",
            "lines-1-tax_amount": "0.00",
            "lines-1-position": "1",
        }
    )

    response = admin_client.post(url, data)

    assert response.status_code == 302, response.context["adminform"].form.errors
    expense.refresh_from_db()
    line.refresh_from_db()
    assert expense.merchant_name == "Pret (corrected name)"
    assert (expense.amount, expense.currency) == (Decimal("12.00"), "GBP")
    assert line.net_amount == Decimal("10.00")
    assert list(expense.lines.all()) == [line]


def test_an_expense_not_yet_pushed_stays_editable_and_deletable(admin_client):
    expense = ExpenseLineFactory().expense

    body = admin_client.get(
        reverse("admin:expenses_expense_change", args=[expense.pk])
    ).content.decode()

    assert 'name="amount"' in body
    assert 'name="lines-0-net_amount"' in body
    assert reverse("admin:expenses_expense_delete", args=[expense.pk]) in body


@pytest.mark.parametrize("status", ["pushing", "syncing", "synced"])
def test_deleting_an_expense_that_has_gone_out_is_refused_with_the_reason(admin_client, status):
    from expenses.models import Expense
    from tests.factories import ExpenseFactory

    expense = ExpenseFactory(status=status)
    url = reverse("admin:expenses_expense_delete", args=[expense.pk])

    asked = admin_client.get(url, follow=True)
    confirmed = admin_client.post(url, {"post": "yes"}, follow=True)

    for response in (asked, confirmed):
        messages = [str(m) for m in response.context["messages"]]
        assert len(messages) == 1, messages
        assert "cannot be deleted" in messages[0]
        assert "from its page in the portal" in messages[0]
    assert Expense.objects.filter(pk=expense.pk).exists()


def test_bulk_delete_refuses_a_selection_holding_a_synced_expense(admin_client):
    from expenses.models import Expense, ExpenseStatus
    from tests.factories import ExpenseFactory

    synced = ExpenseFactory(status=ExpenseStatus.SYNCED, merchant_name="Uber")
    waiting = ExpenseFactory()
    selected = {"action": "delete_selected", "_selected_action": [synced.pk, waiting.pk]}

    asked = admin_client.post(reverse("admin:expenses_expense_changelist"), selected, follow=True)
    confirmed = admin_client.post(
        reverse("admin:expenses_expense_changelist"), {**selected, "post": "yes"}, follow=True
    )

    for response in (asked, confirmed):
        message = next(str(m) for m in response.context["messages"])
        assert message.startswith("Nothing was deleted")
        assert "Uber" in message
        assert "from its page in the portal" in message
    assert Expense.objects.filter(pk__in=[synced.pk, waiting.pk]).count() == 2


def test_bulk_delete_still_deletes_expenses_that_have_not_gone_out(admin_client):
    from expenses.models import Expense
    from tests.factories import ExpenseFactory

    expenses = [ExpenseFactory(), ExpenseFactory(status="failed")]
    selected = {"action": "delete_selected", "_selected_action": [e.pk for e in expenses]}

    asked = admin_client.post(reverse("admin:expenses_expense_changelist"), selected)
    admin_client.post(reverse("admin:expenses_expense_changelist"), {**selected, "post": "yes"})

    assert "admin/delete_selected_confirmation.html" in [t.name for t in asked.templates]
    assert not Expense.objects.filter(pk__in=[e.pk for e in expenses]).exists()


def test_a_synced_expenses_line_is_read_only_on_its_own_admin_page(admin_client):
    from expenses.models import ExpenseLine

    line = _synced_line()
    change = reverse("admin:expenses_expenseline_change", args=[line.pk])

    page = admin_client.get(change).content.decode()
    admin_client.post(change, {"expense": line.expense.pk, "net_amount": "1.00"})
    admin_client.post(reverse("admin:expenses_expenseline_delete", args=[line.pk]), {"post": "y"})
    bulk = admin_client.post(
        reverse("admin:expenses_expenseline_changelist"),
        {"action": "delete_selected", "_selected_action": [line.pk], "post": "yes"},
        follow=True,
    )

    assert 'name="net_amount"' not in page
    assert "cannot change here, and it cannot be deleted" in page
    assert any(str(m).startswith("Nothing was deleted") for m in bulk.context["messages"])
    line.refresh_from_db()
    assert str(line.net_amount) == "10.00"
    assert ExpenseLine.objects.filter(pk=line.pk).exists()


def test_a_line_cannot_be_added_to_a_synced_expense_from_the_line_admin(admin_client):
    from expenses.models import ExpenseStatus
    from tests.factories import ExpenseFactory

    expense = ExpenseFactory(status=ExpenseStatus.SYNCED)

    response = admin_client.post(
        reverse("admin:expenses_expenseline_add"),
        {"expense": expense.pk, "position": "1", "net_amount": "1.00", "tax_amount": "0.00"},
    )

    assert response.status_code == 200
    error = response.context["adminform"].form.errors["expense"][0]
    assert error.startswith("This expense is in the customer's ledger")
    assert not expense.lines.exists()


# --- Names -----------------------------------------------------------------------------------


def test_every_model_reads_with_a_proper_plural_in_the_admin():
    import re

    from django.apps import apps

    # What Django's automatic "add an s" gets wrong: companys, statuss, deliverys, settingss.
    wrong = re.compile(r"([^aeiou]ys|ss|xs|chs|shs|uss)$")
    for model in apps.get_models():
        plural = str(model._meta.verbose_name_plural)
        assert not wrong.search(plural), f"{model._meta.label}: '{plural}'"


def test_sign_in_records_are_named_as_the_readme_names_them(admin_client):
    body = admin_client.get(reverse("admin:index")).content.decode()

    assert "Sign-in lockouts" in body
    assert "TOTP devices" in body


# --- Tracking options --------------------------------------------------------------------------


def _department(company, option):
    department = TrackingCategoryFactory(company=company, name="Departments", has_children=True)
    return TrackingCategoryFactory(company=company, name=option, parent=department)


def _options(response, name):
    import re

    body = response.content.decode()
    select = re.search(rf'<select name="{re.escape(name)}"[^>]*>(.*?)</select>', body, re.S)
    assert select, f"no select named {name}"
    return re.findall(r"<option[^>]*>([^<]*)</option>", select.group(1))


def test_an_expense_lines_tracking_options_are_its_companys_named_with_their_category(
    admin_client,
):
    from tests.factories import CompanyFactory

    line = ExpenseLineFactory()
    sales = _department(line.expense.company, "Sales")
    _department(line.expense.company, "Finance")
    _department(CompanyFactory(name="Other Ltd"), "Marketing")
    line.tracking_categories.add(sales)

    expense_page = admin_client.get(
        reverse("admin:expenses_expense_change", args=[line.expense.pk])
    )
    line_page = admin_client.get(reverse("admin:expenses_expenseline_change", args=[line.pk]))

    for response, name in (
        (expense_page, "lines-0-tracking_categories"),
        (line_page, "tracking_categories"),
    ):
        assert _options(response, name) == ["Departments › Finance", "Departments › Sales"]


def test_tracking_options_cost_the_same_queries_however_many(
    admin_client, django_assert_max_num_queries
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    line = ExpenseLineFactory()
    for n in range(2):
        _department(line.expense.company, f"Team {n}")
    url = reverse("admin:expenses_expenseline_change", args=[line.pk])
    admin_client.get(url)
    with CaptureQueriesContext(connection) as few:
        admin_client.get(url)
    for n in range(2, 30):
        _department(line.expense.company, f"Team {n}")

    with django_assert_max_num_queries(len(few)):
        admin_client.get(url)


def test_a_rules_tracking_options_are_named_with_their_category(admin_client):
    from expenses.models import CategorizationRule

    line = ExpenseLineFactory()
    company = line.expense.company
    _department(company, "Sales")
    rule = CategorizationRule.objects.create(
        company=company, pattern="uber", account=LedgerAccountFactory(company=company)
    )

    response = admin_client.get(reverse("admin:expenses_categorizationrule_change", args=[rule.pk]))

    assert _options(response, "tracking_categories") == ["Departments › Sales"]


def test_on_an_add_page_tracking_options_name_their_company_too(admin_client):
    from tests.factories import CompanyFactory

    _department(CompanyFactory(name="Acme Ltd"), "Sales")

    response = admin_client.get(reverse("admin:expenses_expenseline_add"))

    assert _options(response, "tracking_categories") == ["Acme Ltd · Departments › Sales"]


def test_the_tracking_category_list_names_each_option_with_its_category(admin_client):
    _department(ExpenseLineFactory().expense.company, "Sales")

    body = admin_client.get(reverse("admin:companies_trackingcategory_changelist")).content
    assert "Departments › Sales" in body.decode()


# --- From the portal's expense page to the admin ------------------------------------------------


def _expense_page(client, user, expense):
    client.force_login(user)
    return client.get(reverse("expense-detail", args=[expense.company_id, expense.pk]))


def test_staff_who_may_view_expenses_in_the_admin_get_a_link_to_it(client):
    from django.contrib.auth.models import Permission

    from tests.factories import ExpenseFactory, StaffFactory

    expense = ExpenseFactory()
    staff = StaffFactory()
    staff.user_permissions.add(
        *Permission.objects.filter(codename__in=["view_company", "view_expense"])
    )

    body = _expense_page(client, staff, expense).content.decode()

    assert f'href="{reverse("admin:expenses_expense_change", args=[expense.pk])}"' in body


def test_no_admin_link_for_staff_without_the_permission_nor_for_members(client):
    from django.contrib.auth.models import Permission

    from companies.models import Role
    from tests.factories import ExpenseFactory, StaffFactory

    expense = ExpenseFactory()
    member = MembershipFactory(company=expense.company, role=Role.APPROVER).user
    admin_url = reverse("admin:expenses_expense_change", args=[expense.pk])
    staff = StaffFactory()  # sees every company, not the expenses' admin
    staff.user_permissions.add(Permission.objects.get(codename="view_company"))

    for user in (staff, member):
        response = _expense_page(client, user, expense)
        assert response.status_code == 200
        assert admin_url not in response.content.decode()


def test_a_company_s_expenses_api_generation_is_not_switched_from_its_change_form(admin_client):
    from tests.factories import CompanyFactory

    company = CompanyFactory(name="Harbour Ltd")
    url = reverse("admin:companies_company_change", args=[company.pk])
    page = admin_client.get(url)
    data = _posted_back(page)
    data["expenses_api"] = "expenses"

    response = admin_client.post(url, data)

    assert response.status_code == 302
    company.refresh_from_db()
    assert company.expenses_api == "v1"
    assert "Sync for Expenses v1" in page.content.decode()
