"""Two workers on one company with one Codat call slot: every call of the push — datasets,
initiation, polls, receipt uploads — runs alone, and the work still finishes."""

import hashlib
from datetime import timedelta

import pytest

from companies.platforms import Platform
from gateway.models import CodatCallSlot, CodatExchange
from syncs.models import ReceiptUpload, UploadState
from syncs.tasks import push_company
from tests.factories import ReceiptFactory
from tests.integration.conftest import wait_for
from tests.integration.sandbox_company import control, onboard
from tests.integration.test_push_pipeline import _approved
from tests.integration.test_worker_killed import sandbox_env  # noqa: F401 (fixture)

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

PDF = b"%PDF-1.4 receipt"


def _most_calls_at_once(company) -> int:
    """The largest number of the company's Codat exchanges whose time spans overlap."""
    spans = sorted(
        (row.created_at - timedelta(milliseconds=row.duration_ms), row.created_at)
        for row in CodatExchange.objects.filter(company=company)
    )
    most = 0
    for i, (start, _) in enumerate(spans):
        most = max(most, sum(1 for s, e in spans[: i + 1] if s <= start < e))
    return most


def test_one_slot_means_one_call_at_a_time_across_workers(
    sandbox_env,  # noqa: F811
    celery_workers,
    monkeypatch,
    settings,
):
    monkeypatch.setenv("CODAT_MAX_CALLS_PER_COMPANY", "1")
    monkeypatch.setenv("MEDIA_ROOT", str(settings.STORAGES["default"]["OPTIONS"]["location"]))
    books = onboard(Platform.XERO)
    expenses = _approved(books, 60)  # two datasets
    for expense in expenses[:8]:
        ReceiptFactory(
            expense=expense,
            file__filename="r.pdf",
            file__data=PDF,
            original_name="r.pdf",
            size=len(PDF),
            sha256=hashlib.sha256(PDF + str(expense.pk).encode()).hexdigest(),
        )
    control("PUT", "faults", {"latency_ms": 150})  # long enough calls to overlap if allowed
    calls_before = CodatExchange.objects.filter(company=books.company).count()
    first, _second = celery_workers(), celery_workers("second")

    push_company.apply_async((books.company.pk,), queue=first.queue)

    wait_for(
        lambda: ReceiptUpload.objects.filter(state=UploadState.UPLOADED).count() == 8,
        timeout=180,
        what="every receipt to be uploaded",
        worker=first,
    )
    assert CodatExchange.objects.filter(company=books.company).count() > calls_before + 10
    assert _most_calls_at_once(books.company) == 1
    assert not CodatCallSlot.objects.exists()
