"""The workspace's "Push approved": the answer says the push started and disables the button,
the request is in flight until a worker's claim takes it up, and the panel follows the new push
to its end, then gives the button back with the new count."""

from __future__ import annotations

import json
import re
import uuid
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from companies.models import Company, Role
from expenses.models import ExpenseStatus
from syncs.claim import PushRefused, company_push_claim
from syncs.models import BatchState, PushBatch, PushBatchItem, Sync, SyncState
from syncs.push_requests import PUSH_REQUEST_WAIT
from syncs.selectors import push_panel
from tests.factories import ConnectionFactory, MembershipFactory
from tests.syncs.dashboard_data import coded_expense, pushable_company

pytestmark = pytest.mark.django_db
HTMX = {"HX-Request": "true"}


@pytest.fixture
def books(db):
    return pushable_company(name="Acme Ltd")


@pytest.fixture
def approver(client, books):
    client.force_login(MembershipFactory(company=books.company, role=Role.APPROVER).user)
    return client


def _push_button(body: str) -> str:
    [button] = re.findall(r"<button[^>]*data-push[^>]*>[^<]*</button>", body)
    return button


def _sync(books, *, state, at=None, synced=0, failed=0, pushing=0, syncing=0):
    sync = Sync.objects.create(
        company=books.company,
        state=state,
        codat_sync_id=None if state == SyncState.INITIATING else uuid.uuid4(),
    )
    if at is not None:
        Sync.objects.filter(pk=sync.pk).update(requested_at=at)
    batch = PushBatch.objects.create(
        company=books.company, sync=sync, state=BatchState.POSTED, dataset_id=uuid.uuid4()
    )
    statuses = {
        ExpenseStatus.SYNCED: synced,
        ExpenseStatus.FAILED: failed,
        ExpenseStatus.PUSHING: pushing,
        ExpenseStatus.SYNCING: syncing,
    }
    for status, n in statuses.items():
        for _ in range(n):
            PushBatchItem.objects.create(batch=batch, expense=coded_expense(books, status=status))
    return sync


def _progress(client, books, **params):
    return client.get(reverse("push-progress", args=[books.company.pk]), params, headers=HTMX)


def test_push_approved_answers_push_started_with_the_count_and_disables_the_button(
    approver, books, django_capture_on_commit_callbacks
):
    for _ in range(3):
        coded_expense(books, status=ExpenseStatus.APPROVED)
    _sync(books, state=SyncState.SUCCEEDED, at=timezone.now() - timedelta(days=1), synced=2)

    with django_capture_on_commit_callbacks() as queued:
        response = approver.post(reverse("push-start", args=[books.company.pk]), headers=HTMX)

    body = response.content.decode()
    assert "<strong>Push started</strong> · 3 expenses" in body
    assert "waiting for a worker" in body
    assert "disabled" in _push_button(body)
    assert "Finished" not in body  # the previous push's end is not this one's
    # The panel follows the push from here: it polls, saying it follows one in flight.
    assert "?following=1" in body
    assert 'hx-trigger="every 2s"' in body
    assert len(queued) == 1  # the push task, queued once the request is committed
    assert Company.objects.get(pk=books.company.pk).push_requested_at is not None


def test_a_second_push_while_one_is_in_flight_is_refused(
    approver, books, django_capture_on_commit_callbacks
):
    coded_expense(books, status=ExpenseStatus.APPROVED)
    url = reverse("push-start", args=[books.company.pk])
    with django_capture_on_commit_callbacks():
        approver.post(url, headers=HTMX)

    with django_capture_on_commit_callbacks() as queued:
        body = approver.post(url, headers=HTMX).content.decode()

    assert "already under way" in body
    assert "disabled" in _push_button(body)
    assert queued == []


def test_a_requested_push_is_in_flight_before_any_worker_made_its_sync(client, books):
    client.force_login(MembershipFactory(company=books.company, role=Role.APPROVER).user)
    coded_expense(books, status=ExpenseStatus.APPROVED)
    coded_expense(books, status=ExpenseStatus.APPROVED)
    _sync(books, state=SyncState.SUCCEEDED, at=timezone.now() - timedelta(hours=2), synced=4)
    Company.objects.filter(pk=books.company.pk).update(push_requested_at=timezone.now())

    body = _progress(client, books).content.decode()

    assert "<strong>Push started</strong> · 2 expenses · waiting for a worker" in body
    assert "disabled" in _push_button(body)
    assert "Push approved (2)" in body
    assert "?following=1" in body
    assert "Finished" not in body


def test_the_panel_shows_the_new_push_running_with_its_counts(client, books):
    client.force_login(MembershipFactory(company=books.company, role=Role.APPROVER).user)
    _sync(books, state=SyncState.SUCCEEDED, at=timezone.now() - timedelta(days=2), synced=3)
    _sync(books, state=SyncState.IN_PROGRESS, synced=1, syncing=2, pushing=1)

    body = _progress(client, books, following=1).content.decode()

    assert "Codat is writing to the ledger" in body
    assert "1 pushing" in body
    assert "2 syncing" in body
    assert "1 synced" in body
    assert "Finished" not in body
    assert "disabled" in _push_button(body)
    assert 'hx-trigger="every 2s"' in body


def test_the_finished_push_shows_its_result_and_gives_the_button_back(client, books):
    client.force_login(MembershipFactory(company=books.company, role=Role.APPROVER).user)
    _sync(books, state=SyncState.SUCCEEDED, at=timezone.now() - timedelta(days=2), synced=3)
    _sync(books, state=SyncState.SUCCEEDED, synced=2, failed=1)
    coded_expense(books, status=ExpenseStatus.APPROVED)  # approved while the push ran

    response = _progress(client, books, following=1)

    body = response.content.decode()
    lines = re.findall(r'<p class="push-line[^"]*">(.*?)</p>', body, re.S)
    assert len(lines) == 1  # the new push only, not the one of two days ago
    assert "Finished" in lines[0]
    assert "3 expenses" in lines[0]
    assert "2 synced" in lines[0]
    assert "1 failed" in lines[0]
    assert "disabled" not in _push_button(body)
    assert "Push approved (1)" in body
    assert "hx-trigger" not in body.split(">", 1)[0]  # nothing left to follow
    # The page that followed it shows its rows as they now are.
    assert json.loads(response["HX-Trigger"]) == {"push-ended": {}}


def test_the_panel_answer_carries_the_tab_counts_out_of_band(client, books):
    client.force_login(MembershipFactory(company=books.company, role=Role.APPROVER).user)
    _sync(books, state=SyncState.IN_PROGRESS, synced=1, syncing=2)
    coded_expense(books, status=ExpenseStatus.APPROVED)

    body = _progress(client, books).content.decode()

    assert '<span class="count" id="tab-count-insync" hx-swap-oob="true">2</span>' in body
    assert '<span class="count" id="tab-count-synced" hx-swap-oob="true">1</span>' in body
    assert '<span class="count" id="tab-count-ready" hx-swap-oob="true">1</span>' in body


def test_a_request_no_worker_took_up_stops_holding_the_button(client, books):
    client.force_login(MembershipFactory(company=books.company, role=Role.APPROVER).user)
    coded_expense(books, status=ExpenseStatus.APPROVED)
    long_ago = timezone.now() - PUSH_REQUEST_WAIT - timedelta(minutes=1)
    Company.objects.filter(pk=books.company.pk).update(push_requested_at=long_ago)

    body = _progress(client, books).content.decode()

    assert "has not been taken up by a worker yet" in body
    assert "disabled" not in _push_button(body)
    assert "hx-trigger" not in body.split(">", 1)[0]


def test_the_claim_ends_the_request_in_the_commit_that_makes_its_sync(books):
    coded_expense(books, status=ExpenseStatus.APPROVED)
    Company.objects.filter(pk=books.company.pk).update(push_requested_at=timezone.now())
    company = Company.objects.get(pk=books.company.pk)
    assert push_panel(company=company).in_flight

    claim = company_push_claim(company=company)

    company.refresh_from_db()
    assert claim.sync is not None
    assert company.push_requested_at is None
    panel = push_panel(company=company)
    assert panel.in_flight  # now through its sync
    assert [p.sync for p in panel.shown] == [claim.sync]


def test_a_claim_that_finds_nothing_or_is_refused_ends_the_request(books):
    Company.objects.filter(pk=books.company.pk).update(push_requested_at=timezone.now())
    company = Company.objects.get(pk=books.company.pk)

    assert company_push_claim(company=company).sync is None
    company.refresh_from_db()
    assert company.push_requested_at is None
    assert not push_panel(company=company).in_flight

    Company.objects.filter(pk=company.pk).update(push_requested_at=timezone.now())
    company.refresh_from_db()
    company.connections.all().delete()
    ConnectionFactory(company=company, status="Deauthorized")
    with pytest.raises(PushRefused):
        company_push_claim(company=company)
    assert Company.objects.get(pk=company.pk).push_requested_at is None


def test_the_panel_costs_a_fixed_number_of_queries(client, books, django_assert_max_num_queries):
    client.force_login(MembershipFactory(company=books.company, role=Role.APPROVER).user)
    for days in range(4):
        _sync(
            books,
            state=SyncState.SUCCEEDED,
            at=timezone.now() - timedelta(days=days),
            synced=3,
            failed=1,
        )
    Company.objects.filter(pk=books.company.pk).update(push_requested_at=timezone.now())

    # The session, the user, the company with its configuration and connections; then the
    # syncs with their progress, and the tab counts with the approved count.
    with django_assert_max_num_queries(5):
        _progress(client, books, following=1)
