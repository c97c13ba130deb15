"""Notices recorded and sent from several workers at once (PostgreSQL, where they truly run side
by side): failures announced at the same moment open one dispatch, and a failure joining the
open dispatch holds its sender until it is committed, so it is told, never lost."""

from __future__ import annotations

import threading
import time

import pytest
from django.core import mail
from django.db import connection, connections, transaction

from notices.models import NoticeDispatch, NoticeEvent, NoticeKind
from notices.recording import event_record
from notices.sending import dispatch_send
from tests.notices.conftest import LOCKED, TAX, settle_failures

# Other connections only see what is committed: these tests commit.
pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _postgresql_only():
    if connection.vendor != "postgresql":
        pytest.skip("row locks between connections need PostgreSQL; the PostgreSQL run checks them")


def _failure(cause: str, words: str) -> dict:
    return {"failed": 1, "causes": [[cause, words, 1]]}


def _in_thread(target, *args) -> threading.Thread:
    def run() -> None:
        try:
            target(*args)
        finally:
            connections.close_all()

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def test_failures_announced_at_once_open_one_dispatch(clock, books, people):
    together = threading.Barrier(6, timeout=20)

    def announce(n: int) -> None:
        together.wait()
        event_record(
            key=f"sync-failed:test-{n}",
            company_id=books.company.pk,
            kind=NoticeKind.SYNC_FAILED,
            details=_failure("x", "The tax rate cannot be used any more"),
        )

    threads = [_in_thread(announce, n) for n in range(6)]
    for thread in threads:
        thread.join(timeout=30)

    assert NoticeEvent.objects.count() == 6
    [dispatch] = NoticeDispatch.objects.all()
    assert set(NoticeEvent.objects.values_list("dispatch", flat=True)) == {dispatch.pk}


def _waiting_on_a_lock() -> bool:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        return cursor.fetchone()[0] > 0


def test_a_failure_joining_the_open_dispatch_is_in_the_message_its_sender_sends(
    clock, books, people
):
    settle_failures(books, [TAX])
    dispatch = NoticeDispatch.objects.get()
    clock.advance(minutes=5)
    joined, release = threading.Event(), threading.Event()

    def late_failure() -> None:
        with transaction.atomic():
            event_record(
                key="sync-failed:late",
                company_id=books.company.pk,
                kind=NoticeKind.SYNC_FAILED,
                details=_failure(LOCKED, "The date is in a locked period"),
            )
            joined.set()
            release.wait(20)

    joining = _in_thread(late_failure)
    assert joined.wait(20)
    sender = _in_thread(lambda: dispatch_send(dispatch_id=dispatch.pk))
    # The sender's claim waits for the joining transaction's lock on the dispatch.
    deadline = time.monotonic() + 20
    while not _waiting_on_a_lock():
        assert time.monotonic() < deadline, "the sender never waited for the joining failure"
        time.sleep(0.05)
    assert mail.outbox == []
    release.set()
    joining.join(timeout=20)
    sender.join(timeout=20)

    [message] = mail.outbox
    assert message.subject == "Harbour Coffee Ltd: 2 expenses failed to sync to Xero"
    assert "1 × The date is in a locked period" in message.body
    assert "1 × The tax rate cannot be used any more" in message.body
