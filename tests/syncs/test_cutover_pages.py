"""Where support runs the cut-over and sees it: the admin action on the companies list (the dry
run of each selected company first, then the move), the staff-only button on the company's
settings page (the dry run, then a confirmed POST; nobody else sees it or may post it), the
record of who moved it and when, and the dashboard's count of companies still on v1 with the
days left until Codat switches v1 off."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.admin.models import LogEntry
from django.urls import reverse

from companies.models import Company, CompanyStatus, ExpensesApiSwitch, Role, SwitchChannel
from companies.platforms import ApiGeneration, Platform
from expenses.models import ExpenseStatus
from syncs import v1_shutdown
from syncs.models import Sync, SyncState
from tests.factories import (
    CompanyFactory,
    MembershipFactory,
    ReadOnlySupportFactory,
    SupportFactory,
)
from tests.fake_clock import FakeClock
from tests.syncs.cutover_data import speaks, status_of, v1_company_with_an_adjustment
from tests.syncs.dashboard_data import pushable_company

pytestmark = pytest.mark.django_db

TODAY = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    fake = FakeClock(TODAY)
    monkeypatch.setattr(v1_shutdown, "clock", fake)
    return fake


@pytest.fixture
def books() -> Any:
    """A Xero company on v1 with an approved payment and an approved AdjustmentIn."""
    return v1_company_with_an_adjustment()


def _signed_in(client: Any, user: Any) -> Any:
    client.force_login(user)
    return client


# --- The admin action ---------------------------------------------------------------------------


def _act(client: Any, companies: list[Company], **extra: str) -> Any:
    return client.post(
        reverse("admin:companies_company_changelist"),
        {
            "action": "move_to_newer_expenses_api",
            ACTION_CHECKBOX_NAME: [str(c.pk) for c in companies],
            **extra,
        },
        follow=True,
    )


def test_the_admin_action_shows_each_company_s_dry_run_first(client, books):
    busy = pushable_company(name="Quayside Bakery Ltd")
    Sync.objects.create(
        company=busy.company, state=SyncState.IN_PROGRESS, codat_sync_id=uuid.uuid4()
    )
    _signed_in(client, SupportFactory())

    response = _act(client, [books.company, busy.company])

    assert response.status_code == 200
    body = response.content.decode()
    assert "Harbour Coffee Ltd can move from Sync for Expenses v1 to the newer Expenses API" in body
    assert "1 expense would go back to coding" in body
    assert "Would not move: Quayside Bakery Ltd still has work in flight with Codat" in body
    assert 'name="apply"' in body
    assert speaks(books.company) == ApiGeneration.V1
    assert not ExpensesApiSwitch.objects.exists()


def test_confirmed_the_admin_action_moves_those_it_can_and_says_why_not_for_the_rest(client, books):
    busy = pushable_company(name="Quayside Bakery Ltd")
    Sync.objects.create(
        company=busy.company, state=SyncState.IN_PROGRESS, codat_sync_id=uuid.uuid4()
    )
    user = SupportFactory(username="support-ben")
    _signed_in(client, user)

    response = _act(client, [books.company, busy.company], apply="1")

    messages = [str(m) for m in response.context["messages"]]
    assert any(m.startswith("Harbour Coffee Ltd moved from Sync for Expenses v1") for m in messages)
    assert any(
        m.startswith("Not moved: Quayside Bakery Ltd still has work in flight") for m in messages
    )
    assert speaks(books.company) == ApiGeneration.EXPENSES
    assert speaks(busy.company) == ApiGeneration.V1
    switch = ExpensesApiSwitch.objects.get()
    assert (switch.company, switch.switched_by, switch.via) == (
        books.company,
        user,
        SwitchChannel.ADMIN,
    )
    assert switch.switched_at == TODAY
    assert status_of(books.adjustment) == ExpenseStatus.UNCATEGORIZED
    entry = LogEntry.objects.get(object_id=str(books.company.pk))
    assert entry.user == user
    assert "moved from Sync for Expenses v1 to the newer Expenses API" in entry.get_change_message()


def test_the_admin_action_needs_the_change_permission(client, books):
    _signed_in(client, ReadOnlySupportFactory())

    response = client.get(reverse("admin:companies_company_changelist"))

    assert response.status_code == 200
    assert "move_to_newer_expenses_api" not in response.content.decode()
    _act(client, [books.company], apply="1")
    assert speaks(books.company) == ApiGeneration.V1


def test_the_company_admin_shows_who_moved_it_and_when(client, books):
    user = SupportFactory(username="support-anna")
    _signed_in(client, user)
    _act(client, [books.company], apply="1")

    page = client.get(reverse("admin:companies_company_change", args=[books.company.pk]))
    listing = client.get(reverse("admin:companies_expensesapiswitch_changelist"))

    assert "support-anna" in page.content.decode()
    assert "Admin action" in page.content.decode()
    assert "Harbour Coffee Ltd" in listing.content.decode()
    assert "support-anna" in listing.content.decode()


# --- The button on the settings page ------------------------------------------------------------


def _settings(client: Any, company: Company) -> str:
    response = client.get(reverse("company-settings", args=[company.pk]))
    assert response.status_code == 200
    return response.content.decode()


def _move_url(company: Company) -> str:
    return reverse("company-expenses-api", args=[company.pk])


def test_support_sees_the_button_and_the_dry_run_before_confirming(client, books):
    _signed_in(client, SupportFactory())

    page = _settings(client, books.company)
    preview = client.get(_move_url(books.company), headers={"HX-Request": "true"})

    assert "Move to the newer Expenses API" in page
    assert f'hx-get="{_move_url(books.company)}"' in page
    body = preview.content.decode()
    assert "<html" not in body  # the partial only
    assert 'id="expenses-api-move"' in body
    assert "1 expense would go back to coding" in body
    assert "Xero does not accept Adjustment in transactions" in body
    assert f'hx-post="{_move_url(books.company)}"' in body
    assert 'name="to" value="expenses"' in body
    assert speaks(books.company) == ApiGeneration.V1


def test_the_confirmation_moves_the_company_and_records_who(client, books):
    user = SupportFactory(username="support-anna")
    _signed_in(client, user)

    response = client.post(
        _move_url(books.company), {"to": "expenses"}, headers={"HX-Request": "true"}
    )

    assert response.status_code == 200
    body = response.content.decode()
    assert "Harbour Coffee Ltd moved from Sync for Expenses v1 to the newer Expenses API." in body
    assert "1 expense went back to coding" in body
    # What the company speaks, shown above the button, is swapped too.
    assert 'id="expenses-api-speaks" hx-swap-oob="true">Expenses (newer)' in body
    assert speaks(books.company) == ApiGeneration.EXPENSES
    switch = ExpensesApiSwitch.objects.get()
    assert (switch.switched_by, switch.via, switch.switched_at) == (
        user,
        SwitchChannel.PORTAL,
        TODAY,
    )
    # On the settings page from now on, and on the company's admin history as support's write.
    page = _settings(client, books.company)
    assert "Expenses (newer)" in page
    assert "moved from Sync for Expenses v1 on 1 Dec 2026, 09:00 by support-anna" in page
    assert "Move back to Sync for Expenses v1" in page
    assert LogEntry.objects.filter(
        object_id=str(books.company.pk), change_message__startswith="As support, in the portal"
    ).exists()


def test_without_htmx_the_confirmation_goes_back_to_the_settings_saying_what_happened(
    client, books
):
    _signed_in(client, SupportFactory())
    Sync.objects.create(
        company=books.company, state=SyncState.IN_PROGRESS, codat_sync_id=uuid.uuid4()
    )

    response = client.post(_move_url(books.company), {"to": "expenses"}, follow=True)

    assert response.redirect_chain[-1][0] == reverse("company-settings", args=[books.company.pk])
    [message] = [str(m) for m in response.context["messages"]]
    assert message.startswith("Not moved: Harbour Coffee Ltd still has work in flight with Codat")
    assert speaks(books.company) == ApiGeneration.V1


def test_a_generation_that_does_not_exist_is_refused_naming_the_field(client, books):
    _signed_in(client, SupportFactory())

    response = client.post(_move_url(books.company), {"to": "v2"}, follow=True)

    assert [str(m) for m in response.context["messages"]] == [
        "To: choose v1 or expenses (the newer Expenses API)."
    ]
    assert speaks(books.company) == ApiGeneration.V1


@pytest.mark.parametrize("role", [Role.APPROVER, Role.VIEWER])
def test_a_member_never_sees_the_button_and_may_not_use_it(client, books, role):
    member = MembershipFactory(company=books.company, role=role).user
    _signed_in(client, member)

    page = _settings(client, books.company)

    assert "Move to the newer Expenses API" not in page
    assert 'id="expenses-api-move"' not in page
    assert "Sync for Expenses v1" in page  # what the company speaks is no secret
    assert client.get(_move_url(books.company)).status_code == 403
    assert client.post(_move_url(books.company), {"to": "expenses"}).status_code == 403
    assert speaks(books.company) == ApiGeneration.V1


def test_someone_outside_the_company_gets_404(client, books):
    _signed_in(client, MembershipFactory(role=Role.APPROVER).user)

    assert client.post(_move_url(books.company), {"to": "expenses"}).status_code == 404
    assert speaks(books.company) == ApiGeneration.V1


def test_staff_who_may_only_view_see_no_button_and_may_not_post(client, books):
    _signed_in(client, ReadOnlySupportFactory())

    assert "Move to the newer Expenses API" not in _settings(client, books.company)
    assert client.post(_move_url(books.company), {"to": "expenses"}).status_code == 403
    assert speaks(books.company) == ApiGeneration.V1


def test_the_company_page_says_which_api_the_companyspeaks(client, books):
    _signed_in(client, MembershipFactory(company=books.company, role=Role.VIEWER).user)

    body = client.get(reverse("company-detail", args=[books.company.pk])).content.decode()

    assert "Codat expenses API: Sync for Expenses v1" in body


# --- The dashboard ----------------------------------------------------------------------------


def test_the_dashboard_counts_the_companies_still_on_v1_and_the_days_left(client, clock):
    for name in ("A Ltd", "B Ltd"):
        CompanyFactory(name=name, status=CompanyStatus.READY)
    CompanyFactory(name="Moved Ltd", status=CompanyStatus.READY, expenses_api="expenses")
    CompanyFactory(name="Gone Ltd", status=CompanyStatus.ARCHIVED)  # never pushes again
    CompanyFactory(name="Books Inc", status=CompanyStatus.READY, platform=Platform.NETSUITE)
    _signed_in(client, SupportFactory())

    response = client.get(reverse("dashboard"))

    board = response.context["board"]
    assert (board.v1.companies, board.v1.days_left) == (3, 151)
    body = response.content.decode()
    assert "3</span>" in body
    assert "companies still on Sync for Expenses v1 · 151 days left, until 1 May 2027" in body
    link = response.context["links"]["still_on_v1"]
    assert link == reverse("admin:companies_company_changelist") + "?to_move=v1"
    listed = client.get(link).context["cl"].result_list
    assert sorted(c.name for c in listed) == ["A Ltd", "B Ltd", "Books Inc"]
    # The platform filter counts that platform's companies, and its link lists those.
    netsuite = client.get(reverse("dashboard"), {"platform": Platform.NETSUITE})
    assert netsuite.context["board"].v1.companies == 1
    assert "platform__exact=akxx" in netsuite.context["links"]["still_on_v1"]


def test_the_countdown_runs_on_the_clock_and_ends_on_the_shutdown_day(client, clock):
    CompanyFactory(status=CompanyStatus.READY)
    _signed_in(client, SupportFactory())
    clock.now = datetime(2027, 4, 30, 23, 0, tzinfo=UTC)

    last_day = client.get(reverse("dashboard"))
    clock.advance(hours=1)
    switched_off = client.get(reverse("dashboard"))

    assert last_day.context["board"].v1.days_left == 1
    assert ">company still on Sync for Expenses v1 · 1 day left, until 1 May 2027<" in (
        last_day.content.decode()
    )
    assert switched_off.context["board"].v1.switched_off
    assert "Codat switched it off on 1 May 2027" in switched_off.content.decode()


def test_a_shutdown_date_set_otherwise_is_the_one_counted_down_to(client, settings):
    settings.CODAT_V1_SHUTDOWN_DATE = (TODAY + timedelta(days=10)).date()
    _signed_in(client, SupportFactory())

    assert client.get(reverse("dashboard")).context["board"].v1.days_left == 10
