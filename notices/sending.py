"""Sending a dispatch: claimed by one worker with a conditional update, its messages composed
and each channel (members' e-mail, support's e-mail, the chat webhook) delivered once — a
retry after a failure sends only what did not go — and every move kept as a step.

A sender that dies holding a dispatch leaves it claimed until its lease ends; the sweep then
makes it due again. A dispatch whose task was lost is found by the sweep once overdue.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

import requests
from django.conf import settings
from django.core.mail import EmailMessage
from django.db.models import F, Q

from codat.backoff import Backoff
from companies.models import NoticeChoice
from companies.selectors import members_choosing, staff_with
from companies.staff import SEE_EVERY_COMPANY
from notices import clock
from notices.models import (
    SUPPORT_KINDS,
    DispatchKind,
    DispatchState,
    NoticeDelivery,
    NoticeDispatch,
)
from notices.selectors import still_failing
from notices.services import dispatch_move
from notices.wording import Audience, Message, digest_message, events_message

logger = logging.getLogger(__name__)

# How long a claim holds: well above the time one attempt takes (a few SMTP and HTTP calls).
LEASE = timedelta(minutes=10)
MAX_ATTEMPTS = 8
RETRY_BACKOFF = Backoff(first=60.0, cap=3600.0)
# A due dispatch is its task's for this long; after it, the sweep sends it.
OVERDUE_GRACE = timedelta(minutes=1)
# A push not started in Codat for this long counts as stalled in the digest.
STALLED_FOR = timedelta(hours=1)
WEBHOOK_TIMEOUT_S = 10.0

_D = DispatchState


class DeliveryFailed(Exception):
    """A channel could not be delivered; the message says why, without the webhook's URL."""


@dataclass(frozen=True)
class Delivery:
    channel: str
    recipients: list[str]  # e-mail addresses; none for the webhook
    message: Message


def dispatch_send(*, dispatch_id: int) -> NoticeDispatch | None:
    """Send the dispatch if it is due and this call claims it; the dispatch as it ends (None
    if there is no such dispatch). Safe to call any number of times, from any worker."""
    now = clock.now()
    dispatch = NoticeDispatch.objects.select_related("company").filter(pk=dispatch_id).first()
    if dispatch is None or dispatch.state not in (_D.PENDING, _D.RETRYING):
        return dispatch
    if dispatch.due_at > now or not _claim(dispatch, now):
        dispatch.refresh_from_db()
        return dispatch
    dispatch.refresh_from_db()
    sent: list[str] = []
    try:
        deliveries = _deliveries(dispatch, now)
        _keep_words(dispatch, deliveries)
        done = set(dispatch.deliveries.values_list("channel", flat=True))
        for delivery in deliveries:
            if delivery.channel in done:
                continue
            _deliver(delivery)
            NoticeDelivery.objects.create(
                dispatch=dispatch,
                channel=delivery.channel,
                recipients=", ".join(delivery.recipients),
                sent_at=clock.now(),
            )
            sent.append(f"{delivery.channel} ({len(delivery.recipients) or 'posted'})")
    except DeliveryFailed as failure:
        return _failed(dispatch, str(failure), clock.now())
    note = ("Sent: " + ", ".join(sent)) if sent else "No one to tell"
    if not deliveries:
        note = "No one to tell: nobody hears of these, and no webhook is set"
    dispatch_move(
        NoticeDispatch.objects.filter(pk=dispatch.pk, attempts=dispatch.attempts),
        to=_D.SENT,
        current=_D.SENDING,
        at=clock.now(),
        note=note,
        sent_at=clock.now(),
        last_error="",
    )
    dispatch.refresh_from_db()
    return dispatch


def _claim(dispatch: NoticeDispatch, now: datetime) -> bool:
    # The attempt count read is part of the condition: a claim from a stale copy never wins.
    attempt = dispatch.attempts + 1
    return bool(
        dispatch_move(
            NoticeDispatch.objects.filter(
                pk=dispatch.pk, attempts=dispatch.attempts, due_at__lte=now
            ),
            to=_D.SENDING,
            current=_D(dispatch.state),
            at=now,
            note=f"Claimed for attempt {attempt}",
            attempts=F("attempts") + 1,
            due_at=now + LEASE,
        )
    )


def _deliveries(dispatch: NoticeDispatch, now: datetime) -> list[Delivery]:
    company = dispatch.company
    if dispatch.kind == DispatchKind.DIGEST:
        readers = members_choosing(company=company, choice=NoticeChoice.DIGEST)
        if not readers:
            return []
        failing = still_failing(company=company, quiet_since=now - STALLED_FOR)
        day = dispatch.digest_day or now.date()
        digest = digest_message(company=company, failing=failing, day=day)
        if digest is None:
            return []
        return [Delivery("email:digest", [u.email for u in readers], digest)]
    events = list(dispatch.events.order_by("occurred_at", "pk"))
    deliveries = []
    members = members_choosing(company=company, choice=NoticeChoice.EVERY)
    message = events_message(company=company, events=events, audience=Audience.MEMBERS)
    if members and message:
        deliveries.append(Delivery("email:members", [u.email for u in members], message))
    if any(e.kind in SUPPORT_KINDS for e in events):
        support = staff_with(permission=SEE_EVERY_COMPANY)
        message = events_message(company=company, events=events, audience=Audience.SUPPORT)
        if support and message:
            deliveries.append(Delivery("email:support", [u.email for u in support], message))
    message = events_message(company=company, events=events, audience=Audience.WEBHOOK)
    if settings.NOTICE_WEBHOOK_URL and message:
        deliveries.append(Delivery("webhook", [], message))
    return deliveries


def _keep_words(dispatch: NoticeDispatch, deliveries: list[Delivery]) -> None:
    """What the dispatch says, kept once for support (the admin shows it)."""
    if dispatch.body or not deliveries:
        return
    body = "\n\n".join(f"[{d.channel}] {d.message.subject}\n\n{d.message.text}" for d in deliveries)
    subject = deliveries[0].message.subject
    NoticeDispatch.objects.filter(pk=dispatch.pk).update(subject=subject[:300], body=body)
    dispatch.subject, dispatch.body = subject[:300], body


def _deliver(delivery: Delivery) -> None:
    if delivery.channel == "webhook":
        _post_webhook(delivery.message)
        return
    email = EmailMessage(
        subject=delivery.message.subject,
        body=delivery.message.text,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=delivery.recipients,
    )
    try:
        email.send(fail_silently=False)
    except (OSError, ValueError) as exc:  # smtplib's errors are OSErrors
        raise DeliveryFailed(f"{delivery.channel}: the mail server refused it ({exc})") from exc


def _post_webhook(message: Message) -> None:
    """Post to the Slack or Teams incoming webhook: both show a payload's `text`. The URL is a
    secret, and a requests error names it, so only the error's kind is kept."""
    try:
        response = requests.post(
            settings.NOTICE_WEBHOOK_URL,
            json={"text": f"*{message.subject}*\n{message.text}"},
            timeout=WEBHOOK_TIMEOUT_S,
        )
    except requests.RequestException as exc:
        raise DeliveryFailed(f"webhook: no answer ({type(exc).__name__})") from exc
    if not response.ok:
        raise DeliveryFailed(f"webhook: answered HTTP {response.status_code}")


def _failed(dispatch: NoticeDispatch, error: str, now: datetime) -> NoticeDispatch:
    attempts = dispatch.attempts
    rows = NoticeDispatch.objects.filter(pk=dispatch.pk, attempts=attempts)
    if attempts >= MAX_ATTEMPTS:
        logger.error("Notice dispatch %s gave up after %s tries: %s", dispatch.pk, attempts, error)
        dispatch_move(
            rows,
            to=_D.FAILED,
            current=_D.SENDING,
            at=now,
            note=f"Gave up after {attempts} attempts: {error}",
            last_error=error,
        )
    else:
        due = now + timedelta(seconds=RETRY_BACKOFF.delay(attempts - 1))
        logger.warning("Notice dispatch %s not sent (attempt %s): %s", dispatch.pk, attempts, error)
        dispatch_move(
            rows,
            to=_D.RETRYING,
            current=_D.SENDING,
            at=now,
            note=f"Attempt {attempts} failed: {error}; trying again at {due:%H:%M:%S}",
            last_error=error,
            due_at=due,
        )
    dispatch.refresh_from_db()
    return dispatch


def dispatches_sweep(*, now: datetime | None = None) -> list[int]:
    """Make due again the dispatches whose sender stopped (lease over); the ids of those due
    and not sent by their own task (overdue), to send now."""
    now = now or clock.now()
    released = dispatch_move(
        NoticeDispatch.objects.filter(state=_D.SENDING, due_at__lte=now),
        to=_D.RETRYING,
        current=_D.SENDING,
        at=now,
        note="The worker sending it stopped before it finished; sending again",
        due_at=now,
    )
    overdue = NoticeDispatch.objects.filter(
        Q(due_at__lte=now - OVERDUE_GRACE) | Q(pk__in=released),
        state__in=[_D.PENDING, _D.RETRYING],
    )
    return list(overdue.order_by("due_at", "pk").values_list("pk", flat=True))


def dispatch_send_again(*, dispatch: NoticeDispatch, now: datetime | None = None) -> bool:
    """Support sends a dispatch that gave up once more (from the admin), with fresh attempts."""
    now = now or clock.now()
    return bool(
        dispatch_move(
            NoticeDispatch.objects.filter(pk=dispatch.pk),
            to=_D.RETRYING,
            current=_D.FAILED,
            at=now,
            note="Sent again by support",
            due_at=now,
            attempts=0,
        )
    )
