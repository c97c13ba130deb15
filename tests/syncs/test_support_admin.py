"""Support's admin actions: each does what it says, reports it, and is for staff only."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse
from django.utils import timezone

from expenses.models import Expense, ExpenseStatus
from syncs.models import Sync, SyncState, UploadState
from tests.factories import (
    CompanyFactory,
    ReceiptFactory,
    ReceiptUploadFactory,
    StaffFactory,
    UserFactory,
)
from tests.syncs.dashboard_data import pushable_company, settled_sync


def _messages(response):
    return [str(m) for m in response.context["messages"]] if response.context else []


def _act(client, url_name, action, ids, **extra):
    return client.post(
        reverse(url_name),
        {"action": action, "_selected_action": [str(i) for i in ids], **extra},
        follow=True,
    )


@pytest.fixture
def books(db):
    return pushable_company(name="Acme Ltd")


@pytest.fixture
def failed_sync(books):
    return settled_sync(
        books, at=timezone.now() - timedelta(hours=1), completed=1, failures=["Oops 1", "Oops 2"]
    )


# --- Who may act -------------------------------------------------------------------------------

ACTIONS = [
    ("admin:companies_company_changelist", "refresh_master_data", "company"),
    ("admin:companies_company_changelist", "push_now", "company"),
    ("admin:syncs_sync_changelist", "repoll_now", "sync"),
    ("admin:syncs_sync_changelist", "retry_failed_items", "sync"),
    ("admin:syncs_sync_changelist", "reupload_failed_receipts", "sync"),
    ("admin:syncs_receiptupload_changelist", "upload_again", "upload"),
    ("admin:expenses_expense_changelist", "mark_as_synced", "expense"),
    ("admin:expenses_expense_changelist", "not_in_ledger", "expense"),
]


def _target(kind, books, failed_sync):
    upload = ReceiptUploadFactory(
        sync=failed_sync.sync,
        receipt=ReceiptFactory(expense=failed_sync.completed[0]),
        state=UploadState.GAVE_UP,
    )
    return {
        "company": books.company.pk,
        "sync": failed_sync.sync.pk,
        "upload": upload.pk,
        "expense": failed_sync.failed[0].pk,
    }[kind]


@pytest.mark.parametrize(("url_name", "action", "kind"), ACTIONS)
def test_non_staff_are_sent_to_sign_in_and_nothing_changes(
    client, books, failed_sync, url_name, action, kind
):
    client.force_login(UserFactory())
    target = _target(kind, books, failed_sync)

    response = client.post(
        reverse(url_name),
        {"action": action, "_selected_action": [target], "apply": "1", "reason": "r"},
    )

    assert response.status_code == 302
    assert reverse("admin:login") in response["Location"]
    failed_sync.failed[0].refresh_from_db()
    assert failed_sync.failed[0].status == ExpenseStatus.FAILED


@pytest.mark.parametrize(("url_name", "action", "kind"), ACTIONS)
def test_staff_without_the_change_permission_cannot_act(
    client, books, failed_sync, url_name, action, kind
):
    staff = StaffFactory()
    staff.user_permissions.add(*Permission.objects.filter(codename__startswith="view_"))
    client.force_login(staff)
    target = _target(kind, books, failed_sync)

    response = client.post(
        reverse(url_name),
        {"action": action, "_selected_action": [target], "apply": "1", "reason": "r"},
    )

    # The action is not offered to a read-only user: the admin answers with the list again
    # (or refuses the page) and nothing is done.
    assert response.status_code in {200, 302, 403}
    failed_sync.failed[0].refresh_from_db()
    assert failed_sync.failed[0].status == ExpenseStatus.FAILED
    assert Sync.objects.get(pk=failed_sync.sync.pk).state == SyncState.FAILED


# --- What each action does ---------------------------------------------------------------------


def test_refresh_master_data_queues_a_refresh_per_connected_company(
    admin_client, books, django_capture_on_commit_callbacks
):
    unconnected = CompanyFactory(name="New Co", codat_company_id=None)

    with django_capture_on_commit_callbacks() as queued:
        response = _act(
            admin_client,
            "admin:companies_company_changelist",
            "refresh_master_data",
            [books.company.pk, unconnected.pk],
        )

    assert len(queued) == 1
    assert "Refresh queued for 1 companies." in _messages(response)
    assert "1 skipped: not connected to Codat yet (connect them first)." in _messages(response)


def test_push_now_queues_the_push_of_a_company_with_approved_expenses(
    admin_client, books, django_capture_on_commit_callbacks
):
    from tests.syncs.dashboard_data import coded_expense

    coded_expense(books, status=ExpenseStatus.APPROVED)

    with django_capture_on_commit_callbacks() as queued:
        response = _act(
            admin_client, "admin:companies_company_changelist", "push_now", [books.company.pk]
        )

    assert len(queued) == 1
    assert "Acme Ltd: pushing 1 expenses." in _messages(response)


def test_repoll_polls_only_syncs_in_progress(
    admin_client, books, failed_sync, django_capture_on_commit_callbacks
):
    running = Sync.objects.create(
        company=books.company,
        state=SyncState.IN_PROGRESS,
        codat_sync_id="11111111-2222-3333-4444-555555555555",
    )

    with django_capture_on_commit_callbacks() as queued:
        response = _act(
            admin_client,
            "admin:syncs_sync_changelist",
            "repoll_now",
            [running.pk, failed_sync.sync.pk],
        )

    assert len(queued) == 1
    assert "1 sync(s) will be polled now." in _messages(response)
    assert "1 sync(s) skipped: only syncs in progress are polled." in _messages(response)


def test_retry_failed_items_sends_the_valid_ones_again_and_counts_the_rest(
    admin_client, failed_sync, django_capture_on_commit_callbacks
):
    failed_sync.failed[1].lines.update(account=None)

    with django_capture_on_commit_callbacks() as queued:
        response = _act(
            admin_client, "admin:syncs_sync_changelist", "retry_failed_items", [failed_sync.sync.pk]
        )

    first, second = failed_sync.failed
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.status, second.status) == (ExpenseStatus.APPROVED, ExpenseStatus.FAILED)
    assert len(queued) == 1
    assert any("1 sent again; 1 still need fixing" in m for m in _messages(response))


def test_reupload_failed_receipts_sends_again_only_those_given_up(
    admin_client, failed_sync, django_capture_on_commit_callbacks
):
    expense = failed_sync.completed[0]
    gave_up = ReceiptUploadFactory(
        sync=failed_sync.sync, receipt=ReceiptFactory(expense=expense), state=UploadState.GAVE_UP
    )
    retrying = ReceiptUploadFactory(
        sync=failed_sync.sync, receipt=ReceiptFactory(expense=expense), state=UploadState.FAILED
    )

    with django_capture_on_commit_callbacks() as queued:
        response = _act(
            admin_client,
            "admin:syncs_sync_changelist",
            "reupload_failed_receipts",
            [failed_sync.sync.pk],
        )

    gave_up.refresh_from_db()
    retrying.refresh_from_db()
    assert gave_up.state == UploadState.PENDING
    assert retrying.state == UploadState.FAILED
    assert len(queued) == 1
    assert "1 failed receipt upload(s) will be sent again." in _messages(response)


def test_upload_again_from_the_upload_list(
    admin_client, failed_sync, django_capture_on_commit_callbacks
):
    upload = ReceiptUploadFactory(
        sync=failed_sync.sync,
        receipt=ReceiptFactory(expense=failed_sync.completed[0]),
        state=UploadState.GAVE_UP,
    )

    with django_capture_on_commit_callbacks() as queued:
        response = _act(
            admin_client, "admin:syncs_receiptupload_changelist", "upload_again", [upload.pk]
        )

    upload.refresh_from_db()
    assert upload.state == UploadState.PENDING
    assert len(queued) == 1
    assert "1 upload(s) will be sent again." in _messages(response)


def test_mark_as_synced_asks_for_a_reason_and_audits_it(admin_client, failed_sync):
    expense = failed_sync.failed[0]
    synced = failed_sync.completed[0]
    url = "admin:expenses_expense_changelist"

    asked = _act(admin_client, url, "mark_as_synced", [expense.pk, synced.pk])
    refused = _act(admin_client, url, "mark_as_synced", [expense.pk], apply="1", reason=" ")
    done = _act(
        admin_client,
        url,
        "mark_as_synced",
        [expense.pk, synced.pk],
        apply="1",
        reason="entered by hand by the accountant",
    )

    assert "Mark as synced outside the portal" in asked.content.decode()
    assert "Reason: say why these expenses are already in the ledger" in refused.content.decode()
    expense.refresh_from_db()
    assert expense.status == ExpenseStatus.SYNCED
    event = expense.events.get(to_status=ExpenseStatus.SYNCED)
    assert event.message == "Marked as synced by support: entered by hand by the accountant"
    assert event.actor is not None
    assert event.actor.is_staff
    assert "1 expense(s) marked as synced: entered by hand by the accountant" in _messages(done)
    assert (
        "1 skipped: only failed expenses and those that need support can be marked."
        in _messages(done)
    )


def _needs_support(expense):
    Expense.objects.filter(pk=expense.pk).update(status=ExpenseStatus.NEEDS_SUPPORT)


def test_an_expense_that_needs_support_is_marked_synced_once_found_in_the_ledger(
    admin_client, failed_sync
):
    expense = failed_sync.failed[0]
    _needs_support(expense)

    done = _act(
        admin_client,
        "admin:expenses_expense_changelist",
        "mark_as_synced",
        [expense.pk],
        apply="1",
        reason="found in Xero as spend money 1042",
    )

    expense.refresh_from_db()
    assert expense.status == ExpenseStatus.SYNCED
    assert "1 expense(s) marked as synced: found in Xero as spend money 1042" in _messages(done)


def test_an_expense_that_needs_support_not_in_the_ledger_fails_to_be_sent_again(
    admin_client, failed_sync
):
    expense, other = failed_sync.failed
    _needs_support(expense)
    url = "admin:expenses_expense_changelist"

    asked = _act(admin_client, url, "not_in_ledger", [expense.pk])
    done = _act(
        admin_client,
        url,
        "not_in_ledger",
        [expense.pk, other.pk],
        apply="1",
        reason="not in Xero; the accountant checked",
    )

    assert "Not in the ledger" in asked.content.decode()
    expense.refresh_from_db()
    assert expense.status == ExpenseStatus.FAILED
    message = "Checked by support, not in the ledger: not in Xero; the accountant checked"
    assert expense.failure_message == message
    event = expense.events.get(to_status=ExpenseStatus.FAILED)
    assert (event.message, event.actor.is_staff) == (message, True)
    assert "1 skipped: only expenses that need support can be marked." in _messages(done)
    other.refresh_from_db()
    assert other.status == ExpenseStatus.FAILED  # untouched


def test_codat_ids_in_the_admin_lead_to_the_portal_pages(admin_client, books, failed_sync):
    sync_page = reverse("sync-detail", args=[books.company.pk, failed_sync.sync.pk])

    syncs = admin_client.get(reverse("admin:syncs_sync_changelist")).content.decode()
    results = admin_client.get(reverse("admin:syncs_synctransaction_changelist")).content.decode()
    batches = admin_client.get(reverse("admin:syncs_pushbatch_changelist")).content.decode()
    companies = admin_client.get(reverse("admin:companies_company_changelist")).content.decode()

    assert sync_page in syncs
    assert sync_page in results
    assert sync_page in batches
    assert reverse("sync-list", args=[books.company.pk]) in companies
    dataset = str(failed_sync.sync.batches.get().dataset_id)
    assert f'<a href="{sync_page}">{dataset}</a>' in batches
