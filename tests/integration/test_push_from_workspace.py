"""Pushing from the workspace and from `sync_now`, with progress read from our own tables."""

from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse

from companies.models import Role
from companies.platforms import Platform
from expenses.models import Expense, ExpenseStatus
from syncs.models import Sync, SyncState
from tests.factories import CompanyFactory, MembershipFactory
from tests.integration.sandbox_company import onboard
from tests.integration.test_push_pipeline import _approved, _ledger

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def sandbox(live_server, settings):
    from sandbox.models import SandboxSettings

    settings.CODAT_BASE_URL = live_server.url + "/codat-sandbox"
    SandboxSettings.objects.update_or_create(
        pk=1, defaults={"sync_delay_ms": 0, "webhook_url": "http://127.0.0.1:9/webhooks/codat/"}
    )


def test_push_button_pushes_and_the_panel_shows_the_result(client, sandbox):
    books = onboard(Platform.XERO)
    _approved(books, 2)
    membership = MembershipFactory(company=books.company, role=Role.APPROVER)
    client.force_login(membership.user)

    queue = client.get(reverse("expense-queue", args=[books.company.pk])).content.decode()
    assert "Push approved (2)" in queue

    response = client.post(
        reverse("push-start", args=[books.company.pk]), headers={"HX-Request": "true"}
    )

    body = response.content.decode()
    assert 'id="push-panel"' in body
    assert set(Expense.objects.filter(company=books.company).values_list("status", flat=True)) == {
        ExpenseStatus.SYNCED
    }
    panel = client.get(reverse("push-progress", args=[books.company.pk])).content.decode()
    assert "Finished" in panel
    assert "2 synced" in panel
    assert 'hx-trigger="every 2s"' not in panel  # nothing left to follow
    assert len(_ledger(books)) == 2


def test_the_panel_polls_while_a_sync_runs(client, db):
    company = CompanyFactory()
    Sync.objects.create(company=company, state=SyncState.INITIATING)
    client.force_login(MembershipFactory(company=company, role=Role.VIEWER).user)

    panel = client.get(reverse("push-progress", args=[company.pk])).content.decode()

    assert 'hx-trigger="every 2s"' in panel
    assert "Sending batches to Codat" in panel
    assert "data-push" not in panel  # viewers see progress, not the button


def test_push_is_refused_in_plain_words_when_the_company_cannot_push(client, db):
    company = CompanyFactory()
    client.force_login(MembershipFactory(company=company, role=Role.APPROVER).user)

    body = client.post(
        reverse("push-start", args=[company.pk]), headers={"HX-Request": "true"}
    ).content.decode()

    assert "no default bank account" in body


@pytest.mark.parametrize("role", [Role.VIEWER, Role.BOOKKEEPER])
def test_only_approvers_push(client, db, role):
    company = CompanyFactory()
    client.force_login(MembershipFactory(company=company, role=role).user)

    assert client.post(reverse("push-start", args=[company.pk])).status_code == 403


def test_sync_now_wait_prints_one_line_per_company(sandbox):
    books = onboard(Platform.QUICKBOOKS_ONLINE, name="Harbour Coffee Ltd")
    _approved(books, 3)
    out = StringIO()

    call_command("sync_now", "--company", "harbour coffee ltd", "--wait", stdout=out)

    assert (
        out.getvalue().strip()
        == "Harbour Coffee Ltd: pushed 3, synced 3, failed 0, receipts uploaded 0"
    )


def test_sync_now_names_an_unknown_company(db):
    with pytest.raises(CommandError, match="No company has the id or name 'nope'"):
        call_command("sync_now", "--company", "nope")
