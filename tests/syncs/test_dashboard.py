"""The sync health dashboard: who sees it, its figures, filters, search, causes and retry."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from companies.models import CompanyStatus
from companies.platforms import Platform
from expenses.models import Expense, ExpenseStatus
from syncs.dashboard import DashboardFilters, dashboard_build
from syncs.models import Sync, SyncState, WorkerHeartbeat
from tests.factories import CompanyFactory, SupportFactory, UserFactory
from tests.syncs.dashboard_data import coded_expense, pushable_company, settled_sync

ARCHIVED = "Account 400 is archived"
ARCHIVED_TOO = "Account 7310 is archived"
LOCKED = "The date 2026-10-01 is before the period lock date"


@pytest.fixture
def staff_client(client, db):
    client.force_login(SupportFactory())
    return client


@pytest.fixture
def seeded(db):
    """Two companies on two platforms: one sync all synced, one with three failures."""
    now = timezone.now()
    xero = pushable_company(name="Xero Co", platform=Platform.XERO)
    qbo = pushable_company(name="QBO Co", platform=Platform.QUICKBOOKS_ONLINE)
    good = settled_sync(xero, at=now - timedelta(days=1), completed=3)
    bad = settled_sync(
        qbo, at=now - timedelta(days=2), completed=1, failures=[ARCHIVED, ARCHIVED_TOO, LOCKED]
    )
    settled_sync(xero, at=now - timedelta(days=90), completed=5)  # outside the default range
    return {"xero": xero, "qbo": qbo, "good": good, "bad": bad}


def _board(response):
    return response.context["board"]


def test_anonymous_visitors_are_sent_to_sign_in(client, db):
    response = client.get(reverse("dashboard"))

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_customers_staff_without_the_staff_flag_are_refused(client, db):
    client.force_login(UserFactory())

    assert client.get(reverse("dashboard")).status_code == 403
    assert client.get(reverse("dashboard-cause"), {"cause": "x"}).status_code == 403
    assert client.post(reverse("dashboard-cause-retry"), {"cause": "x"}).status_code == 403


def test_the_figures_count_the_syncs_and_results_of_the_range(staff_client, seeded):
    response = staff_client.get(reverse("dashboard"))

    kpis = _board(response).kpis
    assert (kpis.syncs, kpis.succeeded, kpis.failed_syncs) == (2, 1, 1)
    assert kpis.success_rate == 50.0
    assert kpis.expenses_synced == 4
    assert kpis.failed_transactions == 3
    html = response.content.decode()
    assert "figures computed at" in html
    assert 'id="dashboard-chart-data"' in html
    assert "<script>" not in html.split("</main>")[0].split('<main id="main"')[1]


def test_the_charts_have_a_point_per_day_with_each_outcome(staff_client, seeded):
    chart = _board(staff_client.get(reverse("dashboard"))).chart

    assert len(chart["labels"]) == 30
    assert sum(chart["succeeded"]) == 1
    assert sum(chart["failed"]) == 1
    assert sum(chart["synced"]) == 4
    yesterday = (timezone.localdate() - timedelta(days=1)).isoformat()
    assert chart["succeeded"][chart["labels"].index(yesterday)] == 1
    day_link = chart["day_links"][chart["labels"].index(yesterday)]
    assert day_link.startswith(reverse("admin:syncs_sync_changelist"))
    assert f"requested_at__gte={yesterday}" in day_link


def test_failures_are_grouped_by_cause_across_ids(staff_client, seeded):
    causes = _board(staff_client.get(reverse("dashboard"))).causes

    assert [(c.cause, c.transactions, c.companies) for c in causes] == [
        ("Account <n> is archived", 2, 1),
        ("The date <date> is before the period lock date", 1, 1),
    ]
    assert causes[0].first_seen <= causes[0].last_seen


def test_a_platform_filter_narrows_every_figure(staff_client, seeded):
    response = staff_client.get(reverse("dashboard"), {"platform": Platform.XERO})

    board = _board(response)
    assert board.kpis.syncs == 1
    assert board.kpis.failed_transactions == 0
    assert board.causes == []
    assert [row.company.name for row in board.health_page] == ["Xero Co"]


def test_a_status_code_and_date_filter_narrow_the_syncs(staff_client, seeded):
    by_code = _board(staff_client.get(reverse("dashboard"), {"code": 2000})).kpis
    today = timezone.localdate()
    old = _board(
        staff_client.get(
            reverse("dashboard"),
            {"start": (today - timedelta(days=100)).isoformat(), "end": today.isoformat()},
        )
    ).kpis

    assert by_code.syncs == 1
    assert old.syncs == 3


def test_bad_filters_name_the_field_and_the_fix_and_show_the_default_range(staff_client, seeded):
    response = staff_client.get(
        reverse("dashboard"), {"start": "2026-12-01", "end": "2026-11-01", "code": "abc"}
    )

    html = response.content.decode()
    assert response.status_code == 200
    assert "From: choose a date on or before the To date." in html
    assert "Status code: enter Codat&#x27;s four-digit code" in html
    assert _board(response).kpis.syncs == 2


def test_an_htmx_filter_answers_with_the_body_only(staff_client, seeded):
    response = staff_client.get(
        reverse("dashboard"), {"platform": Platform.XERO}, headers={"HX-Request": "true"}
    )

    html = response.content.decode()
    assert html.lstrip().startswith('<div id="dashboard-body">')
    assert "<html" not in html


def test_search_jumps_to_the_sync_or_the_company(staff_client, seeded):
    sync = seeded["bad"].sync
    company = seeded["qbo"].company

    by_sync = staff_client.get(reverse("dashboard"), {"q": str(sync.codat_sync_id)})
    by_codat_company = staff_client.get(reverse("dashboard"), {"q": str(company.codat_company_id)})
    by_number = staff_client.get(reverse("dashboard"), {"q": f" {company.pk} "})
    nothing = staff_client.get(reverse("dashboard"), {"q": "no-such-thing"})

    assert by_sync["Location"] == reverse("sync-detail", args=[company.pk, sync.pk])
    assert by_codat_company["Location"] == reverse("sync-list", args=[company.pk])
    assert by_number["Location"] == reverse("sync-list", args=[company.pk])
    assert "no sync or company has the id" in nothing.content.decode()


def test_stuck_and_long_running_syncs_are_counted(staff_client, admin_client, seeded):
    company = seeded["xero"].company
    stuck = Sync.objects.create(company=company, state=SyncState.INITIATING)
    Sync.objects.filter(pk=stuck.pk).update(requested_at=timezone.now() - timedelta(minutes=25))
    Sync.objects.create(
        company=company,
        state=SyncState.IN_PROGRESS,
        codat_sync_id="11111111-2222-3333-4444-555555555555",
        status_code=1010,
    )
    Sync.objects.create(
        company=company,
        state=SyncState.IN_PROGRESS,
        codat_sync_id="11111111-2222-3333-4444-666666666666",
        status_code=1000,
    )

    response = staff_client.get(reverse("dashboard"))
    drill = admin_client.get(reverse("admin:syncs_sync_changelist"), {"stuck": "yes"})

    assert _board(response).kpis.stuck == 2
    assert drill.context["cl"].result_count == 2


def test_the_oldest_approved_expense_and_the_backlog_show(staff_client, seeded):
    expense = coded_expense(seeded["qbo"], status=ExpenseStatus.APPROVED)
    two_days_ago = timezone.now() - timedelta(days=2)
    Expense.objects.filter(pk=expense.pk).update(status_changed_at=two_days_ago)

    board = _board(staff_client.get(reverse("dashboard")))

    assert board.kpis.oldest_backlog_at == two_days_ago
    row = next(r for r in board.health_page if r.company.name == "QBO Co")
    assert row.backlog_since == two_days_ago


def test_the_health_table_puts_the_worst_company_first(staff_client, seeded):
    company = seeded["xero"].company
    company.status = CompanyStatus.DISCONNECTED
    company.save()

    worst_first = _board(staff_client.get(reverse("dashboard"))).health_page
    by_name = _board(staff_client.get(reverse("dashboard"), {"sort": "name"})).health_page

    assert [r.company.name for r in worst_first] == ["Xero Co", "QBO Co"]
    assert worst_first[0].score < worst_first[1].score
    assert worst_first[0].last_sync_at is not None
    assert [r.company.name for r in by_name] == ["QBO Co", "Xero Co"]


def test_stale_worker_heartbeats_are_flagged(db):
    now = timezone.now()
    WorkerHeartbeat.objects.create(queue="portal", last_seen_at=now - timedelta(seconds=50))
    WorkerHeartbeat.objects.create(queue="sandbox", last_seen_at=now - timedelta(minutes=9))
    today = timezone.localdate()

    board = dashboard_build(filters=DashboardFilters(start=today, end=today), now=now)

    assert [(b.queue, b.stale) for b in board.heartbeats] == [("portal", False), ("sandbox", True)]


def _queries_for(client, companies: int, assert_max) -> int:
    now = timezone.now()
    for n in range(companies):
        company = CompanyFactory(name=f"Load {n:03}", status=CompanyStatus.READY)
        sync = Sync.objects.create(
            company=company,
            codat_sync_id=None,
            state=SyncState.FAILED,
            transactions_failed=n % 3,
            transactions_completed=2,
        )
        Sync.objects.filter(pk=sync.pk).update(requested_at=now - timedelta(hours=n))
    with assert_max(16), CaptureQueriesContext(connection) as captured:
        response = client.get(reverse("dashboard"), {"per_page": 50})
    assert response.status_code == 200
    assert len(response.context["board"].health_page) == companies
    return len(captured)


@pytest.mark.django_db
def test_the_query_count_does_not_grow_with_the_companies_shown(
    staff_client, django_assert_max_num_queries
):
    few = _queries_for(staff_client, 5, django_assert_max_num_queries)
    Sync.objects.all().delete()
    from companies.models import Company

    Company.objects.all().delete()
    many = _queries_for(staff_client, 50, django_assert_max_num_queries)

    assert few == many


def test_a_cause_lists_its_transactions_only(staff_client, seeded):
    response = staff_client.get(reverse("dashboard-cause"), {"cause": "Account <n> is archived"})

    rows = response.context["transactions"]
    assert sorted(r.message for r in rows) == [ARCHIVED, ARCHIVED_TOO]
    html = response.content.decode()
    assert "QBO Co" in html
    assert reverse("sync-detail", args=[seeded["qbo"].company.pk, seeded["bad"].sync.pk]) in html


def test_retry_once_fixed_sends_again_the_cause_s_valid_expenses(
    staff_client, seeded, django_capture_on_commit_callbacks
):
    archived, archived_too, locked = seeded["bad"].failed

    with django_capture_on_commit_callbacks() as queued:
        response = staff_client.post(
            reverse("dashboard-cause-retry"),
            {"cause": "Account <n> is archived"},
            headers={"HX-Request": "true"},
        )

    for expense in (archived, archived_too, locked):
        expense.refresh_from_db()
    assert (archived.status, archived_too.status) == (ExpenseStatus.APPROVED,) * 2
    assert locked.status == ExpenseStatus.FAILED  # another cause: left alone
    assert len(queued) == 1  # one push for the one company
    html = response.content.decode()
    assert "2 sent again" in html
    assert "Waiting for a worker: <strong>2</strong>" in html
    assert 'hx-trigger="every 2s"' in html


def test_retry_once_fixed_leaves_invalid_expenses_failed_and_says_so(staff_client, seeded):
    archived = seeded["bad"].failed[0]
    archived.lines.update(account=None)

    response = staff_client.post(
        reverse("dashboard-cause-retry"), {"cause": "Account <n> is archived"}, follow=True
    )

    archived.refresh_from_db()
    assert archived.status == ExpenseStatus.FAILED
    assert "1 sent again; 1 still need fixing." in response.content.decode()


def test_the_progress_of_a_cause_stops_polling_when_nothing_is_in_flight(staff_client, seeded):
    response = staff_client.get(
        reverse("dashboard-cause-progress"), {"cause": "Account <n> is archived"}
    )

    html = response.content.decode()
    assert "Still failed: <strong>2</strong>" in html
    assert "every 2s" not in html


def test_settling_a_sync_keeps_its_counts_and_each_failure_s_cause(db):
    import uuid
    from types import SimpleNamespace

    from syncs.models import BatchState, PushBatch, PushBatchItem, SyncTransaction
    from syncs.settle import sync_settle

    books = pushable_company()
    sync = Sync.objects.create(
        company=books.company,
        state=SyncState.IN_PROGRESS,
        codat_sync_id=uuid.uuid4(),
        status_code=4000,
    )
    batch = PushBatch.objects.create(
        company=books.company, sync=sync, state=BatchState.SYNC_REQUESTED, dataset_id=uuid.uuid4()
    )
    written = coded_expense(books, status=ExpenseStatus.SYNCING)
    refused = coded_expense(books, status=ExpenseStatus.SYNCING)
    for expense in (written, refused):
        PushBatchItem.objects.create(batch=batch, expense=expense)

    sync_settle(
        sync=sync,
        results={
            str(written.pk): SimpleNamespace(status="Completed", message="", integration_type=""),
            str(refused.pk): SimpleNamespace(
                status="ValidationError", message="Account 400 is archived", integration_type=""
            ),
        },
    )

    sync.refresh_from_db()
    assert (sync.transactions_completed, sync.transactions_failed) == (1, 1)
    causes = dict(SyncTransaction.objects.filter(sync=sync).values_list("expense_id", "cause"))
    assert causes == {written.pk: "", refused.pk: "Account <n> is archived"}
