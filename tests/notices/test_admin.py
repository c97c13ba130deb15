"""Support reads every notice in the admin — what it said, to whom, each move — and sends
again one that gave up."""

from __future__ import annotations

import pytest
from django.core import mail
from django.urls import reverse

from notices.models import DispatchState, NoticeDispatch
from notices.sending import MAX_ATTEMPTS, dispatch_send
from tests.notices.conftest import TAX, settle_failures

pytestmark = pytest.mark.django_db


def _gave_up(clock, settings) -> NoticeDispatch:
    settings.NOTICE_WEBHOOK_URL = "http://127.0.0.1:9/nothing-listens-here"
    dispatch = NoticeDispatch.objects.get()
    for _ in range(MAX_ATTEMPTS):
        clock.advance(hours=2)
        dispatch_send(dispatch_id=dispatch.pk)
    dispatch.refresh_from_db()
    assert dispatch.state == DispatchState.FAILED
    return dispatch


def test_a_notice_shows_what_it_said_to_whom_and_each_move(
    clock, settings, books, people, admin_client
):
    settle_failures(books, [TAX])
    dispatch = _gave_up(clock, settings)

    listing = admin_client.get(reverse("admin:notices_noticedispatch_changelist"))
    page = admin_client.get(reverse("admin:notices_noticedispatch_change", args=[dispatch.pk]))

    assert listing.status_code == page.status_code == 200
    body = page.content.decode()
    assert "Harbour Coffee Ltd: 1 expense failed to sync to Xero" in body
    assert people.approver.email in body  # the e-mail that went, once
    assert f"Gave up after {MAX_ATTEMPTS} attempts: webhook: no answer (ConnectionError)" in body
    assert "nothing-listens-here" not in body


def test_support_sends_again_a_notice_that_gave_up(clock, settings, books, people, admin_client):
    settle_failures(books, [TAX])
    dispatch = _gave_up(clock, settings)
    settings.NOTICE_WEBHOOK_URL = ""

    response = admin_client.post(
        reverse("admin:notices_noticedispatch_changelist"),
        {"action": "send_again", "_selected_action": [dispatch.pk]},
        follow=True,
    )

    assert "1 notices sent again" in response.content.decode()
    dispatch.refresh_from_db()
    assert dispatch.state == DispatchState.SENT
    assert len(mail.outbox) == 1  # the e-mail went the first time; only the webhook was owed
    assert dispatch.steps.filter(note="Sent again by support").exists()
