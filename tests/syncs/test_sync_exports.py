"""A sync's per-transaction results as CSV, from its page and from the admin; expenses from the
admin. Every download goes through expenses.export: streamed, formulas neutralised."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from django.http import StreamingHttpResponse
from django.urls import reverse
from django.utils import timezone

from companies.models import Role
from expenses.models import Expense
from expenses.selectors import EXPENSE_EXPORT_COLUMNS
from syncs.models import SyncTransaction
from syncs.selectors import SYNC_RESULT_EXPORT_COLUMNS
from tests.factories import ExpenseFactory, MembershipFactory, UserFactory
from tests.syncs.dashboard_data import pushable_company, settled_sync

pytestmark = pytest.mark.django_db


@pytest.fixture
def books(db):
    return pushable_company(name="Acme Ltd")


@pytest.fixture
def failed_sync(books):
    return settled_sync(
        books,
        at=timezone.now() - timedelta(hours=2),
        completed=1,
        failures=["Account 400 is archived"],
    )


def _rows(response):
    assert response.status_code == 200
    assert isinstance(response, StreamingHttpResponse)
    text = b"".join(response.streaming_content).decode()
    return list(csv.reader(io.StringIO(text.removeprefix("\ufeff"))))


def _viewer(client, company):
    user = UserFactory()
    MembershipFactory(user=user, company=company, role=Role.VIEWER)
    client.force_login(user)


def test_a_sync_s_results_download_as_csv_with_plain_words(client, books, failed_sync):
    Expense.objects.filter(pk=failed_sync.failed[0].pk).update(merchant_name="=cmd|' /C calc'!A0")
    _viewer(client, books.company)

    page = client.get(reverse("sync-detail", args=[books.company.pk, failed_sync.sync.pk]))
    url = reverse("sync-results-csv", args=[books.company.pk, failed_sync.sync.pk])
    rows = _rows(client.get(url))

    assert f'href="{url}"' in page.content.decode()
    assert rows[0] == list(SYNC_RESULT_EXPORT_COLUMNS)
    by_id = {row[1]: row for row in rows[1:]}
    assert set(by_id) == {
        str(t) for t in failed_sync.sync.transactions.values_list("transaction_id", flat=True)
    }
    failed = by_id[str(failed_sync.failed[0].pk)]
    assert failed[2] == "Validation error"
    assert "was archived in the accounting software" in failed[3]
    assert failed[5] == "'=cmd|' /C calc'!A0"
    assert by_id[str(failed_sync.completed[0].pk)][2] == "Completed"


def test_another_company_s_sync_results_are_not_found(client, books, failed_sync):
    other = pushable_company(name="Other Ltd")
    _viewer(client, other.company)

    url = reverse("sync-results-csv", args=[books.company.pk, failed_sync.sync.pk])
    mine = reverse("sync-results-csv", args=[other.company.pk, failed_sync.sync.pk])

    assert client.get(url).status_code == 404
    assert client.get(mine).status_code == 404


def test_admin_exports_selected_expenses_as_csv(admin_client, books):
    chosen = ExpenseFactory(company=books.company, merchant_name="@evil")
    ExpenseFactory(company=books.company, merchant_name="Not chosen")

    response = admin_client.post(
        reverse("admin:expenses_expense_changelist"),
        {"action": "export_csv", "_selected_action": [chosen.pk]},
    )

    rows = _rows(response)
    assert rows[0] == list(EXPENSE_EXPORT_COLUMNS)
    assert [(row[1], row[14]) for row in rows[1:]] == [("'@evil", str(chosen.pk))]


def test_admin_exports_selected_sync_results_and_the_results_of_selected_syncs(
    admin_client, books, failed_sync
):
    one = SyncTransaction.objects.filter(sync=failed_sync.sync).order_by("transaction_id")[0]

    selected = admin_client.post(
        reverse("admin:syncs_synctransaction_changelist"),
        {"action": "export_csv", "_selected_action": [one.pk]},
    )
    of_syncs = admin_client.post(
        reverse("admin:syncs_sync_changelist"),
        {"action": "export_results_csv", "_selected_action": [failed_sync.sync.pk]},
    )

    assert [row[1] for row in _rows(selected)[1:]] == [str(one.transaction_id)]
    assert len(_rows(of_syncs)) == 1 + failed_sync.sync.transactions.count()
