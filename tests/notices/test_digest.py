"""The daily digest: once a day, to the members who chose it, what is still failing at their
company; nothing when nothing is; members who chose nothing hear nothing at all."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.core import mail

from companies.models import CompanyStatus, Membership, NoticeChoice
from expenses.models import Expense, ExpenseStatus
from notices.digest import digest_due, digests_start
from notices.models import DispatchState, NoticeDispatch
from notices.sending import dispatch_send
from tests.notices.conftest import BASE, LOCKED, TAX, relative, settle_failures

pytestmark = pytest.mark.django_db


def _send(ids: list[int]) -> list[NoticeDispatch]:
    return [dispatch_send(dispatch_id=pk) for pk in ids]


def test_the_digest_reaches_only_those_who_chose_it_with_what_still_fails(
    clock, books, people, client
):
    settle_failures(books, [TAX, TAX, LOCKED])
    clock.advance(minutes=5)
    _send(list(NoticeDispatch.objects.values_list("pk", flat=True)))
    [as_it_happens] = mail.outbox
    assert as_it_happens.to == [people.approver.email]  # not the digest's reader
    clock.now = clock.now.replace(day=4, hour=7, minute=0)

    [digest] = _send(digests_start())

    assert digest.state == DispatchState.SENT
    [message] = mail.outbox[1:]
    assert message.to == [people.digest_reader.email]
    assert message.subject == "Harbour Coffee Ltd: 3 expenses failed"
    assert message.body.startswith("Harbour Coffee Ltd, still failing on 4 Nov 2026:\n\n")
    assert (
        "3 expenses failed to sync and are not sent again yet — 2 × The tax rate cannot be used "
        "any more; 1 × The date is in a locked period." in message.body
    )
    assert "You get this digest because you chose it" in message.body
    client.force_login(people.digest_reader)
    for link in re.findall(re.escape(BASE) + r"/\S+", message.body):
        assert client.get(relative(link)).status_code == 200, link


def test_the_digest_says_what_else_still_fails(clock, books, people):
    from companies.refresh import company_connection_lost
    from syncs.models import Sync, SyncState

    company_connection_lost(company=books.company, reason="Codat reports the connection unlinked")
    stalled = Sync.objects.create(company=books.company, state=SyncState.INITIATING)
    Sync.objects.filter(pk=stalled.pk).update(requested_at=clock.now - timedelta(hours=2))
    clock.now = clock.now.replace(day=4, hour=7)

    _send(digests_start())

    [message] = [m for m in mail.outbox if m.to == [people.digest_reader.email]]
    assert message.subject == "Harbour Coffee Ltd: disconnected; 1 push stalled"
    since = books.company.status_changed_at
    assert f"Disconnected from Xero since {since.day} {since:%b %Y}: nothing is pushed" in (
        message.body
    )
    assert "1 push has not reached Codat for over an hour" in message.body
    assert f"{BASE}/companies/{books.company.pk}/syncs/{stalled.pk}/" in message.body


def test_no_digest_goes_out_when_nothing_is_failing_any_more(clock, books, people):
    settle_failures(books, [TAX])
    # Fixed and approved again.
    Expense.objects.filter(status=ExpenseStatus.FAILED).update(status=ExpenseStatus.APPROVED)
    mail.outbox.clear()

    [digest] = _send(digests_start())

    assert mail.outbox == []
    assert digest.state == DispatchState.SENT
    assert digest.steps.last().note.startswith("No one to tell")


def test_the_digests_are_made_once_a_day_and_a_missed_hour_is_made_up(clock, books, people):
    clock.now = clock.now.replace(hour=6, minute=59)
    assert digest_due() is False
    clock.advance(minutes=1)
    assert digest_due() is True

    first = digests_start()
    assert digests_start() == []
    assert digest_due() is False
    clock.advance(days=1, hours=3)  # beat was down at seven: the sweep makes them up
    assert digest_due() is True
    second = digests_start()

    assert len(first) == len(second) == 1
    assert NoticeDispatch.objects.filter(kind="digest").count() == 2


def test_members_who_chose_nothing_hear_nothing(clock, books, people):
    from companies.refresh import company_connection_lost

    Membership.objects.filter(company=books.company).update(notices=NoticeChoice.NONE)
    settle_failures(books, [TAX])
    company_connection_lost(company=books.company, reason="Codat reports the connection unlinked")
    clock.advance(minutes=5)
    _send(list(NoticeDispatch.objects.values_list("pk", flat=True)))
    _send(digests_start())

    assert [m.to for m in mail.outbox] == [[people.support.email]]  # support, as support
    assert books.company.status == CompanyStatus.DISCONNECTED
    assert digests_start() == []
