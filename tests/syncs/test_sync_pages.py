"""A company's sync list and sync pages: who sees them, what they show, and the retry."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from companies.models import Role
from expenses.models import ExpenseStatus
from tests.factories import MembershipFactory, ReceiptFactory, ReceiptUploadFactory, UserFactory
from tests.syncs.dashboard_data import pushable_company, settled_sync


@pytest.fixture
def books(db):
    return pushable_company(name="Acme Ltd")


@pytest.fixture
def failed_sync(books):
    return settled_sync(
        books,
        at=timezone.now() - timedelta(hours=2),
        completed=1,
        failures=["Account 400 is archived", "Tax rate INPUT2 is archived"],
    )


def _member(client, company, role):
    user = UserFactory()
    MembershipFactory(user=user, company=company, role=role)
    client.force_login(user)
    return user


def test_members_see_the_company_s_syncs_newest_first(client, books, failed_sync):
    newer = settled_sync(books, at=timezone.now(), completed=2)
    _member(client, books.company, Role.VIEWER)

    response = client.get(reverse("sync-list", args=[books.company.pk]))

    assert response.status_code == 200
    assert [s.pk for s in response.context["page"]] == [newer.sync.pk, failed_sync.sync.pk]
    assert str(failed_sync.sync.codat_sync_id) in response.content.decode()


def test_a_sync_page_shows_status_timings_datasets_results_and_configuration(
    client, books, failed_sync
):
    upload = ReceiptUploadFactory(
        sync=failed_sync.sync, receipt=ReceiptFactory(expense=failed_sync.completed[0])
    )
    _member(client, books.company, Role.VIEWER)

    response = client.get(reverse("sync-detail", args=[books.company.pk, failed_sync.sync.pk]))

    html = response.content.decode()
    assert response.status_code == 200
    assert "4000 · Validation error" in html
    assert "took 40 s" in html
    assert str(failed_sync.sync.batches.get().dataset_id) in html
    # Codat's message in plain words, with the fix, and Codat's own words kept.
    assert "was archived in the accounting software — choose another account" in html
    assert "Tax rate INPUT2 cannot be used any more" in html
    assert upload.receipt.original_name in html
    assert "Company card" in html  # the configuration in force
    assert "Bank account" in html
    assert "Retry failed items" not in html  # a viewer cannot retry


def test_another_company_s_sync_is_not_found(client, books, failed_sync):
    other = pushable_company(name="Other Ltd")
    _member(client, other.company, Role.APPROVER)

    through_own = client.get(reverse("sync-detail", args=[other.company.pk, failed_sync.sync.pk]))
    through_theirs = client.get(
        reverse("sync-detail", args=[books.company.pk, failed_sync.sync.pk])
    )
    retry = client.post(reverse("sync-retry", args=[other.company.pk, failed_sync.sync.pk]))

    assert through_own.status_code == 404
    assert through_theirs.status_code == 404
    assert retry.status_code == 404


def test_a_viewer_cannot_retry(client, books, failed_sync):
    _member(client, books.company, Role.VIEWER)

    response = client.post(reverse("sync-retry", args=[books.company.pk, failed_sync.sync.pk]))

    assert response.status_code == 403
    failed_sync.failed[0].refresh_from_db()
    assert failed_sync.failed[0].status == ExpenseStatus.FAILED


def test_an_approver_retries_the_failed_items_and_sees_the_progress(
    client, books, failed_sync, django_capture_on_commit_callbacks
):
    _member(client, books.company, Role.APPROVER)
    failed_sync.failed[1].lines.update(tax_rate=None)  # still needs fixing

    with django_capture_on_commit_callbacks() as queued:
        response = client.post(
            reverse("sync-retry", args=[books.company.pk, failed_sync.sync.pk]),
            headers={"HX-Request": "true"},
        )

    fixed, still = failed_sync.failed
    fixed.refresh_from_db()
    still.refresh_from_db()
    assert fixed.status == ExpenseStatus.APPROVED
    assert still.status == ExpenseStatus.FAILED
    assert len(queued) == 1
    html = response.content.decode()
    assert "1 sent again" in html
    assert "1 still need fixing" in html
    assert "Waiting for a worker: <strong>1</strong>" in html
    assert reverse("sync-progress", args=[books.company.pk, failed_sync.sync.pk]) in html


def test_the_progress_follows_the_expenses_until_nothing_is_in_flight(client, books, failed_sync):
    _member(client, books.company, Role.VIEWER)
    url = reverse("sync-progress", args=[books.company.pk, failed_sync.sync.pk])
    first = failed_sync.failed[0]
    first.status = ExpenseStatus.SYNCING
    first.save()

    moving = client.get(url).content.decode()
    first.status = ExpenseStatus.SYNCED
    first.save()
    done = client.get(url).content.decode()

    assert "Pushing or in sync: <strong>1</strong>" in moving
    assert "every 2s" in moving
    assert "Synced: <strong>2</strong>" in done
    assert "every 2s" not in done


def test_a_retry_without_a_push_possible_says_why(client, books, failed_sync):
    _member(client, books.company, Role.APPROVER)
    books.company.configuration.bank_account = None
    books.company.configuration.save()

    response = client.post(
        reverse("sync-retry", args=[books.company.pk, failed_sync.sync.pk]), follow=True
    )

    assert "Nothing was sent: The company has no default bank account" in (
        response.content.decode()
    )
    failed_sync.failed[0].refresh_from_db()
    assert failed_sync.failed[0].status == ExpenseStatus.FAILED


def test_the_company_pages_link_to_the_syncs(client, books):
    _member(client, books.company, Role.VIEWER)

    page = client.get(reverse("company-detail", args=[books.company.pk])).content.decode()

    assert reverse("sync-list", args=[books.company.pk]) in page
