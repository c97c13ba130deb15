"""A company with members of every kind, syncs that fail as the pipeline leaves them, and the
notices' clock moved by hand."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.utils import timezone

from companies.models import NoticeChoice, Role
from expenses.models import ExpenseStatus
from syncs.models import BatchState, PushBatch, PushBatchItem, Sync, SyncState
from tests.factories import MembershipFactory, StaffFactory, SupportFactory, UserFactory
from tests.fake_clock import FakeClock
from tests.syncs.dashboard_data import coded_expense, pushable_company

BASE = "https://portal.example"
TAX = "Tax rate 'GST on Expenses' is not valid for transaction type Payment."
LOCKED = "The issue date 2026-06-01 is on or before the period lock date 2026-06-30."


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    fake = FakeClock(datetime(2026, 11, 3, 9, 0, tzinfo=UTC))
    monkeypatch.setattr("notices.clock.now", fake)
    return fake


@pytest.fixture(autouse=True)
def _notice_settings(settings: Any) -> None:
    settings.PORTAL_BASE_URL = BASE
    settings.NOTICE_DEBOUNCE_SECONDS = 300
    settings.NOTICE_WEBHOOK_URL = ""
    settings.NOTICE_DIGEST_HOUR = 7
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"


@dataclass
class People:
    approver: User  # hears of every failure (an approver's default)
    quiet_approver: User  # chose nothing
    viewer: User  # a viewer's default: nothing
    digest_reader: User  # a bookkeeper who chose the digest
    support: User  # staff who see every company
    staff_without_permission: User


@pytest.fixture
def books() -> Any:
    return pushable_company(name="Harbour Coffee Ltd")


@pytest.fixture
def people(books: Any) -> People:
    company = books.company

    def member(name: str, role: Role, notices: str = "") -> User:
        user = UserFactory(username=name)
        MembershipFactory(company=company, user=user, role=role, notices=notices)
        return user

    # An approver without an address is skipped, not an error.
    MembershipFactory(
        company=company, user=UserFactory(username="noaddress", email=""), role="approver"
    )
    return People(
        approver=member("ada", Role.APPROVER),
        quiet_approver=member("quinn", Role.APPROVER, NoticeChoice.NONE),
        viewer=member("vic", Role.VIEWER),
        digest_reader=member("dora", Role.BOOKKEEPER, NoticeChoice.DIGEST),
        support=SupportFactory(username="sam"),
        staff_without_permission=StaffFactory(username="flag"),
    )


def _result(status: str, message: str = "") -> SimpleNamespace:
    return SimpleNamespace(status=status, message=message, integration_type="")


def settle_failures(books: Any, messages: list[str], *, completed: int = 0) -> Sync:
    """A sync of the company settled with one failed expense per message (and `completed`
    written), through the pipeline's own settling."""
    from syncs.settle import sync_settle

    sync = Sync.objects.create(
        company=books.company,
        state=SyncState.IN_PROGRESS,
        codat_sync_id=uuid.uuid4(),
        status_code=5120,
        status_text="ValidateError",
        requested_at=timezone.now(),
    )
    batch = PushBatch.objects.create(
        company=books.company, sync=sync, state=BatchState.SYNC_REQUESTED, dataset_id=uuid.uuid4()
    )
    expenses = [
        coded_expense(books, status=ExpenseStatus.SYNCING) for _ in range(len(messages) + completed)
    ]
    PushBatchItem.objects.bulk_create(PushBatchItem(batch=batch, expense=e) for e in expenses)
    results = {
        str(e.pk): _result("ValidationError", message)
        for e, message in zip(expenses, messages, strict=False)
    }
    results |= {str(e.pk): _result("Completed") for e in expenses[len(messages) :]}
    return sync_settle(sync=sync, results=results)


def relative(url: str) -> str:
    """A link of a notice, as the test client asks for it."""
    assert url.startswith(BASE + "/"), url
    return url.removeprefix(BASE)
