"""A sync that ends with failed expenses is told once per company and debounce window, to the
members who chose to hear of every failure, in plain words with links that open; a company's
failures at once (200 batches) make one message; a disconnection and a stalled push also reach
support; the chat webhook hears of everything; each dispatch is claimed by one sender only."""

from __future__ import annotations

import re

import pytest
from django.core import mail

from notices.models import DispatchState, DispatchStep, NoticeDispatch, NoticeEvent, NoticeKind
from notices.recording import on_sync_settled
from notices.sending import dispatch_send, dispatches_sweep
from tests.notices.conftest import BASE, LOCKED, TAX, relative, settle_failures
from tests.notices.receiver import webhook_receiver

pytestmark = pytest.mark.django_db

LINK = re.compile(re.escape(BASE) + r"/\S+")


def _send_due(clock) -> list[NoticeDispatch]:
    """What the dispatches' own tasks do, queued with the window as countdown: each sends its
    dispatch once due (and does nothing before)."""
    waiting = NoticeDispatch.objects.filter(
        state__in=[DispatchState.PENDING, DispatchState.RETRYING]
    ).values_list("pk", flat=True)
    return [dispatch_send(dispatch_id=pk) for pk in waiting]


def test_a_failed_sync_is_told_once_after_the_window_to_those_who_hear_of_every_failure(
    clock, books, people, client
):
    sync = settle_failures(books, [TAX, TAX, LOCKED], completed=2)

    [dispatch] = NoticeDispatch.objects.all()
    assert dispatch_send(dispatch_id=dispatch.pk) is not None
    assert mail.outbox == []  # the window is still open
    clock.advance(seconds=299)
    assert dispatches_sweep() == []
    assert dispatch_send(dispatch_id=dispatch.pk).state == DispatchState.PENDING
    clock.advance(seconds=1)
    dispatch_send(dispatch_id=dispatch.pk)
    dispatch_send(dispatch_id=dispatch.pk)  # again, as a second task would

    [message] = mail.outbox
    assert message.to == [people.approver.email]
    assert message.subject == "Harbour Coffee Ltd: 3 expenses failed to sync to Xero"
    assert (
        "Harbour Coffee Ltd: 3 expenses failed to sync to Xero — 2 × The tax rate cannot be "
        "used any more; 1 × The date is in a locked period." in message.body
    )
    sync_link = f"{BASE}/companies/{books.company.pk}/syncs/{sync.pk}/"
    assert f"See the sync: {sync_link}" in message.body
    dispatch.refresh_from_db()
    assert dispatch.state == DispatchState.SENT
    assert list(DispatchStep.objects.filter(dispatch=dispatch).values_list("state", flat=True)) == [
        "pending",
        "sending",
        "sent",
    ]

    # Every link opens for the approver it was sent to, the cause's with its expenses.
    client.force_login(people.approver)
    links = LINK.findall(message.body)
    assert sync_link in links
    assert len(links) == 4  # the sync, two causes, the settings
    for link in links:
        assert client.get(relative(link)).status_code == 200, link
    [tax_link] = [line.split(": ")[-1] for line in message.body.splitlines() if "2 × " in line[:6]]
    page = client.get(relative(tax_link)).content.decode()
    assert page.count("data-expense=") == 2
    assert "The tax rate cannot be used any more" in page


def test_settling_a_sync_again_records_its_failures_once(clock, books, people):
    sync = settle_failures(books, [TAX])

    on_sync_settled(sender=type(sync), sync=sync)

    assert NoticeEvent.objects.filter(kind=NoticeKind.SYNC_FAILED).count() == 1
    clock.advance(minutes=6)
    _send_due(clock)
    assert len(mail.outbox) == 1


def test_a_sync_without_failures_tells_no_one(clock, books, people):
    settle_failures(books, [], completed=3)

    assert not NoticeEvent.objects.exists()
    assert not NoticeDispatch.objects.exists()


def test_failures_of_200_batches_at_once_make_one_message(clock, books, people):
    for n in range(200):
        settle_failures(books, [TAX if n % 4 else LOCKED])
        clock.advance(seconds=1)
    clock.advance(minutes=5)

    _send_due(clock)

    [message] = mail.outbox
    assert message.subject == "Harbour Coffee Ltd: 200 expenses failed to sync to Xero in 200 syncs"
    assert "150 × The tax rate cannot be used any more; 50 × The date is in a locked period" in (
        message.body
    )
    assert f"See the syncs: {BASE}/companies/{books.company.pk}/syncs/\n" in message.body
    assert NoticeEvent.objects.count() == 200
    assert NoticeDispatch.objects.count() == 1


def test_failures_after_the_message_went_out_wait_for_the_next_window(clock, books, people):
    settle_failures(books, [TAX])
    clock.advance(minutes=5)
    _send_due(clock)

    settle_failures(books, [LOCKED])
    clock.advance(minutes=4)
    _send_due(clock)
    assert len(mail.outbox) == 1
    clock.advance(minutes=1)
    _send_due(clock)

    first, second = mail.outbox
    assert "The tax rate" in first.body
    assert "locked period" not in first.body
    assert "1 × The date is in a locked period" in second.body
    assert "tax rate" not in second.body


def test_a_dispatch_claimed_from_a_stale_copy_is_not_sent_twice(clock, books, people):
    settle_failures(books, [TAX])
    clock.advance(minutes=5)
    dispatch = NoticeDispatch.objects.get()
    stale = NoticeDispatch.objects.get(pk=dispatch.pk)

    from notices.sending import _claim

    assert _claim(dispatch, clock()) is True
    assert _claim(stale, clock()) is False


def test_a_sender_that_died_is_replaced_once_its_lease_ends(clock, books, people):
    from notices.sending import LEASE, _claim

    settle_failures(books, [TAX])
    clock.advance(minutes=5)
    dispatch = NoticeDispatch.objects.get()
    assert _claim(dispatch, clock())  # …and the worker dies before sending

    clock.advance(seconds=LEASE.total_seconds() - 1)
    assert dispatches_sweep() == []
    clock.advance(seconds=1)
    assert dispatches_sweep() == [dispatch.pk]
    _send_due(clock)

    assert len(mail.outbox) == 1
    assert list(DispatchStep.objects.filter(dispatch=dispatch).values_list("state", flat=True)) == [
        "pending",
        "sending",
        "retrying",
        "sending",
        "sent",
    ]


def test_a_lost_task_is_sent_by_the_sweep(clock, settings, books, people):
    from notices.tasks import sweep

    settings.NOTICE_DIGEST_HOUR = 23  # no digest today yet
    settle_failures(books, [TAX])
    clock.advance(minutes=5, seconds=59)
    sweep()  # its own task is given a minute to run
    assert mail.outbox == []
    clock.advance(seconds=1)

    sweep()

    assert len(mail.outbox) == 1


def test_the_webhook_hears_of_everything_once(clock, settings, books, people):
    settle_failures(books, [TAX, LOCKED])
    clock.advance(minutes=5)
    with webhook_receiver() as receiver:
        settings.NOTICE_WEBHOOK_URL = receiver.url
        _send_due(clock)
        _send_due(clock)

    [post] = receiver.posts
    assert post["path"] == "/services/T0/B0/secret"
    assert set(post["json"]) == {"text"}
    text = post["json"]["text"]
    assert text.startswith("*Harbour Coffee Ltd: 2 expenses failed to sync to Xero*\n")
    assert "1 × The date is in a locked period; 1 × The tax rate cannot be used any more" in text
    assert "You hear of every failure" not in text  # the members' own footer
    assert len(mail.outbox) == 1


def test_a_webhook_that_fails_is_tried_again_without_e_mailing_twice(
    clock, settings, books, people
):
    settle_failures(books, [TAX])
    clock.advance(minutes=5)
    with webhook_receiver(statuses=[500]) as receiver:
        settings.NOTICE_WEBHOOK_URL = receiver.url
        [dispatch] = _send_due(clock)
        assert dispatch.state == DispatchState.RETRYING
        assert dispatch.last_error == "webhook: answered HTTP 500"
        assert receiver.url not in dispatch.last_error
        clock.advance(minutes=2)
        [dispatch] = _send_due(clock)

    assert dispatch.state == DispatchState.SENT
    assert len(receiver.posts) == 1
    assert len(mail.outbox) == 1
    assert set(dispatch.deliveries.values_list("channel", flat=True)) == {
        "email:members",
        "webhook",
    }


def test_a_notice_that_keeps_failing_gives_up_and_says_so(clock, settings, books, people):
    from notices.sending import MAX_ATTEMPTS

    settings.NOTICE_WEBHOOK_URL = "http://127.0.0.1:9/nothing-listens-here"
    settle_failures(books, [TAX])
    for _ in range(MAX_ATTEMPTS):
        clock.advance(hours=2)
        [dispatch] = _send_due(clock)

    assert dispatch.state == DispatchState.FAILED
    assert dispatch.attempts == MAX_ATTEMPTS
    assert "webhook: no answer (ConnectionError)" in dispatch.last_error
    assert dispatches_sweep() == []
    assert len(mail.outbox) == 1


def test_a_disconnection_reaches_the_approvers_and_support(clock, books, people):
    from companies.refresh import company_connection_lost

    company_connection_lost(company=books.company, reason="Codat reports the connection unlinked")
    company_connection_lost(company=books.company, reason="seen again")  # already disconnected
    clock.advance(minutes=5)
    _send_due(clock)

    members, support = sorted(mail.outbox, key=lambda m: "Support staff" in m.body)
    assert members.to == [people.approver.email]
    assert support.to == [people.support.email]
    for message in (members, support):
        assert message.subject == "Harbour Coffee Ltd: disconnected from Xero"
        assert (
            "Harbour Coffee Ltd was disconnected from Xero: Codat reports the connection unlinked."
            in message.body
        )
        assert f"{BASE}/companies/{books.company.pk}/settings/" in message.body
    assert NoticeEvent.objects.get().kind == NoticeKind.DISCONNECTED


def test_support_hears_only_of_disconnections_and_stalls_of_a_mixed_window(clock, books, people):
    from companies.refresh import company_connection_lost

    settle_failures(books, [TAX])
    company_connection_lost(company=books.company, reason="Codat reports the connection unlinked")
    clock.advance(minutes=5)
    _send_due(clock)

    by_reader = {tuple(m.to): m for m in mail.outbox}
    assert by_reader[(people.approver.email,)].subject == (
        "Harbour Coffee Ltd: disconnected from Xero; 1 expense failed to sync to Xero"
    )
    assert (
        by_reader[(people.support.email,)].subject == "Harbour Coffee Ltd: disconnected from Xero"
    )
    assert "tax rate" not in by_reader[(people.support.email,)].body


def test_a_stalled_push_reaches_support(clock, monkeypatch, books, people):
    from codat import CodatUnavailableError
    from syncs.models import Sync, SyncState
    from syncs.retries import MAX_RETRIES
    from syncs.tasks import send_batches
    from tests.factories import PushBatchFactory

    sync = Sync.objects.create(company=books.company, state=SyncState.INITIATING)
    PushBatchFactory(company=books.company, sync=sync)

    def codat_down(**_):
        raise CodatUnavailableError("Codat answered 503", status=503)

    monkeypatch.setattr("syncs.tasks.sync_send_turn", codat_down)
    send_batches(sync.pk, stalls=MAX_RETRIES)
    send_batches(sync.pk, stalls=MAX_RETRIES)  # the sweeper's next try stalls again
    clock.advance(minutes=5)
    _send_due(clock)

    readers = sorted(m.to[0] for m in mail.outbox)
    assert readers == sorted([people.approver.email, people.support.email])
    body = mail.outbox[0].body
    assert (
        "Harbour Coffee Ltd: a push to Xero stalled — Codat failed 11 times: Codat answered 503"
        in (body)
    )
    assert f"{BASE}/companies/{books.company.pk}/syncs/{sync.pk}/" in body
    assert NoticeEvent.objects.filter(kind=NoticeKind.PUSH_STALLED).count() == 1


def test_a_receipt_the_ledger_refuses_is_told_to_the_approvers(clock, monkeypatch, books, people):
    from codat import CodatValidationError
    from syncs.models import ReceiptUpload, UploadState
    from syncs.receipt_uploads import receipt_upload_send
    from tests.factories import ReceiptFactory, SyncFactory
    from tests.syncs.dashboard_data import coded_expense

    class Refusing:
        def upload_attachment(self, *args, **kwargs):
            raise CodatValidationError("File type .heic is not supported by Xero", status=400)

    monkeypatch.setattr("syncs.receipt_uploads.codat_client", lambda **_: Refusing())
    sync = SyncFactory(company=books.company)
    expense = coded_expense(books, status="synced")
    upload = ReceiptUpload.objects.create(
        receipt=ReceiptFactory(expense=expense, original_name="lunch.heic"), sync=sync
    )

    upload = receipt_upload_send(upload=upload)
    clock.advance(minutes=5)
    _send_due(clock)

    assert upload.state == UploadState.GAVE_UP
    [message] = mail.outbox
    assert message.to == [people.approver.email]
    assert message.subject == "Harbour Coffee Ltd: 1 receipt not attached"
    assert (
        "1 receipt could not be attached in Xero — 1 × Codat refused the file: File type .heic "
        "is not supported by Xero." in message.body
    )


def test_a_receipt_that_killed_its_worker_every_time_is_told_once(clock, books, people):
    from datetime import timedelta

    from django.utils import timezone

    from syncs.models import UploadState
    from syncs.receipt_uploads import MAX_ATTEMPTS, receipt_uploads_release_stuck
    from tests.factories import ReceiptUploadFactory, SyncFactory

    now = timezone.now()
    ReceiptUploadFactory(
        sync=SyncFactory(company=books.company),
        state=UploadState.UPLOADING,
        attempts=MAX_ATTEMPTS,
        next_attempt_at=now - timedelta(minutes=1),
    )

    assert receipt_uploads_release_stuck(now=now) == 1
    assert receipt_uploads_release_stuck(now=now) == 0
    assert NoticeEvent.objects.filter(kind=NoticeKind.RECEIPT_GAVE_UP).count() == 1


def test_the_webhooks_url_stays_out_of_logs_and_error_pages(settings):
    from sfe_portal.redaction import SecretScrubbingReporterFilter, redact_secrets

    url = "https://hooks.slack.com/services/T0001/B0001/abcdefghijklmnopqrstuvwx"
    settings.NOTICE_WEBHOOK_URL = url

    assert redact_secrets(f"posting to {url} failed") == "posting to [redacted] failed"
    shown = SecretScrubbingReporterFilter().get_safe_settings()["NOTICE_WEBHOOK_URL"]
    assert url not in str(shown)


def test_recording_a_failed_sync_costs_a_few_queries(
    clock, books, people, django_assert_max_num_queries
):
    sync = settle_failures(books, [TAX, LOCKED])
    NoticeEvent.objects.all().delete()
    NoticeDispatch.objects.all().delete()

    # Two reads, the event and its dispatch, and their savepoints: however many expenses failed.
    with django_assert_max_num_queries(13):
        on_sync_settled(sender=type(sync), sync=sync)

    assert NoticeEvent.objects.get().details == {
        "failed": 2,
        "causes": [
            [
                "Tax rate <name> is not valid for transaction type Payment.",
                "The tax rate cannot be used any more",
                1,
            ],
            [
                "The issue date <date> is on or before the period lock date <date>.",
                "The date is in a locked period",
                1,
            ],
        ],
    }
