"""Failure notices: each event recorded once, gathered per company into a dispatch that is sent
when its debounce window ends (or once a day, as a digest), with every move of a dispatch kept.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from companies.models import Company
from sfe_portal.db import choices_check
from syncs.models import Sync


class NoticeKind(models.TextChoices):
    SYNC_FAILED = "sync_failed", "Expenses failed to sync"
    DISCONNECTED = "disconnected", "Company disconnected"
    PUSH_STALLED = "push_stalled", "Push stalled"
    RECEIPT_GAVE_UP = "receipt_gave_up", "Receipt not attached"


# Support staff hear of these for every company: the customer cannot fix them alone.
SUPPORT_KINDS = frozenset({NoticeKind.DISCONNECTED, NoticeKind.PUSH_STALLED})


class DispatchKind(models.TextChoices):
    EVENTS = "events", "Failures as they happen"
    DIGEST = "digest", "Daily digest"


class DispatchState(models.TextChoices):
    # Open: the company's events join it until it is due.
    PENDING = "pending", "Collecting events"
    SENDING = "sending", "Sending"
    # Closed to new events; sent again once due (after a failed attempt or a lost worker).
    RETRYING = "retrying", "Waiting to try again"
    SENT = "sent", "Sent"
    FAILED = "failed", "Gave up"


_D = DispatchState
DISPATCH_TRANSITIONS: dict[str, frozenset[str]] = {
    _D.PENDING: frozenset({_D.SENDING}),
    _D.SENDING: frozenset({_D.SENT, _D.RETRYING, _D.FAILED}),
    _D.RETRYING: frozenset({_D.SENDING}),
    _D.SENT: frozenset(),
    # Support sends it again from the admin.
    _D.FAILED: frozenset({_D.RETRYING}),
}


class NoticeDispatch(models.Model):
    """One message about a company: the events of a debounce window, or a day's digest."""

    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=8, choices=DispatchKind.choices)
    state = models.CharField(max_length=8, choices=DispatchState.choices, default=_D.PENDING)
    # When it is to be sent (pending, retrying); while sending, the end of the sender's lease.
    due_at = models.DateTimeField()
    digest_day = models.DateField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    # What it says, kept when first composed (a retry composes an events dispatch's words the
    # same; a digest's are what still fails when it is sent).
    subject = models.CharField(max_length=300, blank=True)
    body = models.TextField(blank=True)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField()
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name_plural = "notice dispatches"
        ordering = ["-created_at", "-pk"]
        constraints = [
            choices_check("kind", DispatchKind, "noticedispatch_kind_valid"),
            choices_check("state", DispatchState, "noticedispatch_state_valid"),
            # One open dispatch per company: every event of a window joins the same one.
            models.UniqueConstraint(
                fields=["company"],
                condition=Q(state="pending", kind="events"),
                name="noticedispatch_one_open_per_company",
            ),
            models.UniqueConstraint(
                fields=["company", "digest_day"],
                condition=Q(kind="digest"),
                name="noticedispatch_one_digest_a_day",
            ),
            models.CheckConstraint(
                condition=Q(kind="events", digest_day__isnull=True)
                | Q(kind="digest", digest_day__isnull=False),
                name="noticedispatch_digest_has_day",
            ),
        ]
        indexes = [models.Index(fields=["state", "due_at"], name="noticedispatch_due_idx")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} · {self.company_id} ({self.state})"


class NoticeEvent(models.Model):
    """A failure, recorded once whatever retries announce it again (`key` is unique)."""

    key = models.CharField(max_length=200, unique=True)
    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=16, choices=NoticeKind.choices)
    sync = models.ForeignKey(
        Sync, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # What the message says of it, as it was when it happened (counts, causes, the reason).
    details = models.JSONField(default=dict, blank=True)
    occurred_at = models.DateTimeField()
    dispatch = models.ForeignKey(NoticeDispatch, on_delete=models.PROTECT, related_name="events")

    class Meta:
        ordering = ["occurred_at", "pk"]
        constraints = [choices_check("kind", NoticeKind, "noticeevent_kind_valid")]

    def __str__(self) -> str:
        return self.key


class DispatchStep(models.Model):
    """A move of a dispatch, kept for support: when it was made, due, claimed, sent, retried."""

    dispatch = models.ForeignKey(NoticeDispatch, on_delete=models.CASCADE, related_name="steps")
    state = models.CharField(max_length=8, choices=DispatchState.choices)
    at = models.DateTimeField()
    note = models.TextField(blank=True)

    class Meta:
        ordering = ["at", "pk"]

    def __str__(self) -> str:
        return f"{self.dispatch_id} → {self.state}"


class NoticeDelivery(models.Model):
    """One channel of a dispatch that went out: a retry never sends it again."""

    dispatch = models.ForeignKey(
        NoticeDispatch, on_delete=models.CASCADE, related_name="deliveries"
    )
    # "email:members", "email:support", "webhook"
    channel = models.CharField(max_length=20)
    recipients = models.TextField(blank=True)
    sent_at = models.DateTimeField()

    class Meta:
        verbose_name_plural = "notice deliveries"
        constraints = [
            models.UniqueConstraint(fields=["dispatch", "channel"], name="noticedelivery_once")
        ]

    def __str__(self) -> str:
        return f"{self.dispatch_id} · {self.channel}"


class DigestRound(models.Model):
    """A day whose digests were made: the beat entry and the sweep make them once a day."""

    day = models.DateField(unique=True)
    made_at = models.DateTimeField()

    def __str__(self) -> str:
        return str(self.day)
