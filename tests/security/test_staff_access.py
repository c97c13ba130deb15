"""Staff access follows permissions (companies/staff.py), never the staff flag alone.

The issue's scenario, one write at a time: a staff account with view-only permissions — whom
the admin refuses — tried to approve and push another company's expenses, create a rule and a
company, run the dashboard's bulk retry across all companies and make an ordinary user approver
of a third company. Each is refused and changes nothing; support with the permission does
exactly what it allows, and each of its writes is on the trail as made by support.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.contrib.admin.models import ADDITION, LogEntry
from django.contrib.auth.models import Group, Permission
from django.urls import reverse
from django.utils import timezone

from accounts.models import SignInLockout
from companies.models import Company, Membership, Role
from companies.staff import SUPPORT_APPS, SUPPORT_GROUPS
from expenses.models import CategorizationRule, ExpenseEvent, ExpenseStatus
from tests.factories import (
    MembershipFactory,
    ReadOnlySupportFactory,
    StaffFactory,
    SupportFactory,
    UserFactory,
)
from tests.syncs.dashboard_data import coded_expense, pushable_company, settled_sync

pytestmark = pytest.mark.django_db

ARCHIVED = "Account 400 is archived"


@pytest.fixture
def books() -> Any:
    return pushable_company(name="Acme Ltd")


@pytest.fixture
def failed(books: Any) -> Any:
    return settled_sync(books, at=timezone.now() - timedelta(hours=1), failures=[ARCHIVED])


def _categorized(books: Any) -> Any:
    """A coded expense ready to approve."""
    expense = coded_expense(books, status=ExpenseStatus.UNCATEGORIZED)
    expense.status = ExpenseStatus.CATEGORIZED
    expense.save(update_fields=["status"])
    return expense


def _signed_in(client: Any, user: Any) -> Any:
    client.force_login(user)
    return client


def _rule_form(books: Any) -> dict[str, Any]:
    return {
        "match": "contains",
        "pattern": "uber",
        "account": books.travel.pk,
        "tax_rate": books.vat.pk,
        "priority": "100",
        "is_active": "on",
    }


def _every_write(client: Any, books: Any, categorized: Any, third: Any, ordinary: Any) -> list[int]:
    """The issue's writes, in its order; the status of each answer."""
    company = books.company
    return [
        client.post(reverse("expense-approve", args=[company.pk, categorized.pk])).status_code,
        client.post(reverse("push-start", args=[company.pk])).status_code,
        client.post(reverse("rule-create", args=[company.pk]), _rule_form(books)).status_code,
        client.post(
            reverse("company-connect"), {"name": "Sneaky Ltd", "platform": "gbol"}
        ).status_code,
        client.post(
            reverse("dashboard-cause-retry"), {"cause": "Account <n> is archived"}
        ).status_code,
        client.post(
            reverse("company-member-change", args=[third.pk, ordinary.pk]),
            {"action": "role", "role": "approver"},
        ).status_code,
        client.post(
            reverse("company-invite", args=[third.pk]),
            {"email": "someone@example.com", "role": "approver"},
        ).status_code,
    ]


def _state(books: Any, third: Any, ordinary: Any) -> list[Any]:
    company = books.company
    return [
        list(company.expenses.order_by("pk").values_list("pk", "status")),
        company.push_requested_at,
        CategorizationRule.objects.count(),
        Company.objects.count(),
        Membership.objects.get(company=third, user=ordinary).role,
        third.invitations.count(),
        ExpenseEvent.objects.count(),
    ]


@pytest.mark.parametrize(
    "persona", [ReadOnlySupportFactory, StaffFactory], ids=["view-only staff", "staff flag"]
)
def test_staff_without_the_permissions_are_refused_every_write_of_the_issue(
    client, books, failed, persona
):
    third = pushable_company(name="Third Ltd").company
    ordinary = MembershipFactory(company=third, role=Role.VIEWER).user
    staff = persona()
    categorized = _categorized(books)
    before = _state(books, third, ordinary)

    statuses = _every_write(_signed_in(client, staff), books, categorized, third, ordinary)

    # View-only staff see the companies and are told what to ask for (403); the flag alone sees
    # no company at all (404), and no staff page (403).
    assert set(statuses) <= {403, 404}, statuses
    books.company.refresh_from_db()
    assert _state(books, third, ordinary) == before
    assert not LogEntry.objects.exists()


def test_the_refusal_names_the_permission_to_ask_for(client, books):
    expense = _categorized(books)
    client.force_login(ReadOnlySupportFactory())

    approve = client.post(reverse("expense-approve", args=[books.company.pk, expense.pk]))
    connect = client.get(reverse("company-connect"))

    assert "“Can change company” permission" in approve.content.decode()
    assert "“Can add company” permission" in connect.content.decode()


def test_view_only_staff_read_every_company_and_the_dashboard(client, books, failed):
    client.force_login(ReadOnlySupportFactory())
    company = books.company

    for url in (
        reverse("home"),
        reverse("company-detail", args=[company.pk]),
        reverse("expense-queue", args=[company.pk]),
        reverse("expense-detail", args=[company.pk, failed.failed[0].pk]),
        reverse("company-settings", args=[company.pk]),
        reverse("sync-list", args=[company.pk]),
        reverse("dashboard"),
    ):
        assert client.get(url).status_code == 200, url


def test_view_only_staff_see_they_are_read_only_and_no_button_they_cannot_use(
    client, books, failed
):
    coded_expense(books, status=ExpenseStatus.APPROVED)
    client.force_login(ReadOnlySupportFactory())
    company = books.company

    queue = client.get(reverse("expense-queue", args=[company.pk])).content.decode()
    settings_page = client.get(reverse("company-settings", args=[company.pk])).content.decode()
    cause = client.get(
        reverse("dashboard-cause"), {"cause": "Account <n> is archived"}
    ).content.decode()
    home = client.get(reverse("home")).content.decode()

    assert "You are viewing as support: read-only." in queue
    assert "“Can change company” permission to code, approve and push" in queue
    assert 'value="approve"' not in queue
    assert reverse("push-start", args=[company.pk]) not in queue
    assert 'id="configuration-form"' not in settings_page
    assert reverse("company-invite", args=[company.pk]) not in settings_page
    assert "“Can add membership” to invite members" in settings_page
    assert 'id="retry-refusal"' in cause
    assert reverse("dashboard-cause-retry") not in cause
    assert 'id="connect-company"' not in home
    assert "needs the “Can add company” permission" in home


def test_support_with_the_push_permission_codes_approves_and_pushes_marked_as_support(
    client, books, django_capture_on_commit_callbacks
):
    company = books.company
    categorized = _categorized(books)
    others = [_categorized(books) for _ in range(2)]
    support = SupportFactory(username="sam")
    client.force_login(support)

    queue = client.get(reverse("expense-queue", args=[company.pk])).content.decode()
    approved = client.post(reverse("expense-approve", args=[company.pk, categorized.pk]))
    bulk = client.post(
        reverse("expense-bulk", args=[company.pk]),
        {"action": "approve", "ids": [str(e.pk) for e in others]},
    )
    with django_capture_on_commit_callbacks() as queued:
        pushed = client.post(reverse("push-start", args=[company.pk]))

    assert "You are working as support" in queue
    assert (approved.status_code, bulk.status_code) == (302, 302)
    assert pushed.status_code < 400
    assert len(queued) == 1
    events = ExpenseEvent.objects.filter(actor=support)
    # One written by save(), two by the bulk move's INSERT … SELECT: all marked.
    assert events.count() == 3
    assert all(e.as_staff for e in events)
    trail = client.get(reverse("expense-detail", args=[company.pk, categorized.pk]))
    assert "sam <span" in trail.content.decode()
    assert "(support)</span>" in trail.content.decode()
    history = LogEntry.objects.filter(user=support, object_id=str(company.pk))
    assert [e.change_message for e in history.order_by("pk")] == [
        f"As support, in the portal: expense-approve (POST "
        f"{reverse('expense-approve', args=[company.pk, categorized.pk])})",
        f"As support, in the portal: expense-bulk (POST "
        f"{reverse('expense-bulk', args=[company.pk])})",
        f"As support, in the portal: push-start (POST {reverse('push-start', args=[company.pk])})",
    ]


def test_members_writes_are_not_marked_as_support(client, books):
    approver = MembershipFactory(company=books.company, role=Role.APPROVER).user
    expense = _categorized(books)
    client.force_login(approver)

    client.post(reverse("expense-approve", args=[books.company.pk, expense.pk]))

    event = ExpenseEvent.objects.get(actor=approver)
    assert not event.as_staff
    assert not LogEntry.objects.exists()


def test_support_creates_a_rule_and_it_is_on_the_company_history(client, books):
    support = SupportFactory()
    client.force_login(support)

    response = client.post(reverse("rule-create", args=[books.company.pk]), _rule_form(books))

    assert response.status_code == 302
    assert CategorizationRule.objects.get().created_by == support
    assert LogEntry.objects.get(user=support).change_message.startswith(
        "As support, in the portal: rule-create"
    )


def test_support_runs_the_bulk_retry_and_each_expense_says_support_sent_it(
    client, failed, django_capture_on_commit_callbacks
):
    support = SupportFactory()
    client.force_login(support)

    with django_capture_on_commit_callbacks() as queued:
        response = client.post(
            reverse("dashboard-cause-retry"), {"cause": "Account <n> is archived"}
        )

    assert response.status_code == 302
    assert len(queued) == 1
    expense = failed.failed[0]
    expense.refresh_from_db()
    assert expense.status == ExpenseStatus.APPROVED
    event = expense.events.get(to_status=ExpenseStatus.APPROVED)
    assert (event.actor, event.as_staff) == (support, True)


def test_support_connects_a_company_only_with_the_permission_and_it_is_on_the_history(client):
    support = SupportFactory()
    client.force_login(support)

    response = client.post(reverse("company-connect"), {"name": "New Ltd", "platform": "gbol"})

    company = Company.objects.get(name="New Ltd")
    assert response.status_code == 302
    entry = LogEntry.objects.get(user=support)
    assert (entry.object_id, entry.action_flag) == (str(company.pk), ADDITION)
    assert entry.change_message == "As support, in the portal: connected"


def test_support_manages_members_only_with_the_membership_permissions(client, books):
    company = books.company
    member = MembershipFactory(company=company, role=Role.VIEWER).user
    support = SupportFactory()
    client.force_login(support)
    change = reverse("company-member-change", args=[company.pk, member.pk])

    refused = client.post(change, {"action": "role", "role": "approver"})
    support.user_permissions.add(Permission.objects.get(codename="change_membership"))
    client.force_login(type(support).objects.get(pk=support.pk))  # permissions read afresh
    page = client.get(reverse("company-settings", args=[company.pk])).content.decode()
    changed = client.post(change, {"action": "role", "role": "bookkeeper"})
    not_removed = client.post(change, {"action": "remove"})

    assert refused.status_code == 403
    assert "“Can change membership” permission" in refused.content.decode()
    assert f'id="role-{member.pk}"' in page  # the role can be changed here …
    assert 'value="remove"' not in page  # … but not removed
    assert changed.status_code == 302
    assert not_removed.status_code == 403
    assert Membership.objects.get(company=company, user=member).role == Role.BOOKKEEPER


def test_the_staff_flag_alone_sees_no_company_and_no_staff_page(client, books):
    client.force_login(StaffFactory())

    home = client.get(reverse("home")).content.decode()

    assert books.company.name not in home
    assert 'id="see-note"' in home
    assert client.get(reverse("company-detail", args=[books.company.pk])).status_code == 404
    assert client.get(reverse("dashboard")).status_code == 403
    assert client.get(reverse("company-connect")).status_code == 403


def test_the_demo_superuser_keeps_everything(client, books):
    admin = UserFactory(username="root", is_staff=True, is_superuser=True)
    expense = _categorized(books)
    client.force_login(admin)

    settings_page = client.get(reverse("company-settings", args=[books.company.pk]))
    approved = client.post(reverse("expense-approve", args=[books.company.pk, expense.pk]))

    assert reverse("company-invite", args=[books.company.pk]) in settings_page.content.decode()
    assert approved.status_code == 302
    assert ExpenseEvent.objects.get(actor=admin).as_staff


# --- The admin follows the same rule -----------------------------------------------------------


def test_the_admins_retry_is_a_push_and_needs_the_push_permission(client, failed):
    staff = StaffFactory()
    staff.user_permissions.add(
        *Permission.objects.filter(codename__in=["view_sync", "change_sync"])
    )
    client.force_login(staff)
    action = {"action": "retry_failed_items", "_selected_action": [failed.sync.pk]}

    client.post(reverse("admin:syncs_sync_changelist"), action)
    failed.failed[0].refresh_from_db()
    refused_status = failed.failed[0].status
    staff.user_permissions.add(Permission.objects.get(codename="change_company"))
    client.force_login(type(staff).objects.get(pk=staff.pk))
    client.post(reverse("admin:syncs_sync_changelist"), action)
    failed.failed[0].refresh_from_db()

    assert refused_status == ExpenseStatus.FAILED
    assert failed.failed[0].status == ExpenseStatus.APPROVED
    assert failed.failed[0].events.get(to_status=ExpenseStatus.APPROVED).as_staff


def test_the_admin_refuses_to_make_a_staff_account_a_member(admin_client, books):
    staff = SupportFactory()

    response = admin_client.post(
        reverse("admin:companies_membership_add"),
        {"user": staff.pk, "company": books.company.pk, "role": "approver"},
    )

    assert response.status_code == 200
    assert "A staff account cannot be a member of a company" in response.content.decode()
    assert not Membership.objects.filter(user=staff).exists()


@pytest.mark.parametrize(
    ("persona", "lifted"), [(ReadOnlySupportFactory, False), (SupportFactory, True)]
)
def test_only_support_that_may_change_lifts_a_sign_in_lock_in_the_admin(client, persona, lifted):
    row = SignInLockout.objects.create(
        username="ada", ip_address="10.0.0.1", user_agent="x", failures_since_start=5
    )
    client.force_login(persona())

    client.post(
        reverse("admin:accounts_signinlockout_changelist"),
        {"action": "lift", "_selected_action": [row.pk]},
    )

    assert SignInLockout.objects.filter(pk=row.pk).exists() is not lifted


def test_the_migration_made_the_support_groups_as_the_code_describes_them():
    for name, extra in SUPPORT_GROUPS.items():
        group = Group.objects.get(name=name)
        codenames = {
            f"{p.content_type.app_label}.{p.codename}"
            for p in group.permissions.select_related("content_type")
        }
        views = {
            f"{p.content_type.app_label}.{p.codename}"
            for p in Permission.objects.filter(
                content_type__app_label__in=SUPPORT_APPS, codename__startswith="view_"
            ).select_related("content_type")
        }
        # A new model's view permission needs a migration that gives it to the groups.
        assert codenames == views | set(extra), name
