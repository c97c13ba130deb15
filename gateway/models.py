"""The portal's line to Codat, kept in the database: every exchange for support, and each
company's call slots with the row that orders taking them.

The gateway sits below the domain apps: a company is referred to by its label only, never
imported. The exchange log and the call slots keep the tables they were created with in
`syncs` (`syncs_codatexchange`, `syncs_codatcallslot`)."""

from __future__ import annotations

from django.db import models
from django.utils import timezone


class CodatExchange(models.Model):
    """One request to Codat and its answer, for support. Bodies are truncated, keys never kept."""

    company = models.ForeignKey(
        "companies.Company",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="codat_exchanges",
        db_index=False,
    )
    method = models.CharField(max_length=8)
    path = models.CharField(max_length=1000)
    status = models.PositiveSmallIntegerField(null=True, blank=True)
    duration_ms = models.PositiveIntegerField(default=0)
    correlation_id = models.CharField(max_length=200, blank=True)
    request_body = models.TextField(blank=True)
    response_body = models.TextField(blank=True)
    error = models.CharField(max_length=500, blank=True)
    # The Idempotency-Key a keyed write was sent with: every attempt of one batch carries the
    # same key, so support finds them all, and Codat's replay of an answer, by it.
    idempotency_key = models.CharField(max_length=64, blank=True)
    # When Codat answered (calls made on HTTP-only threads are recorded a moment later).
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "syncs_codatexchange"
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["company", "-created_at"], name="codatexchange_company_idx"),
            models.Index(fields=["correlation_id"], name="codatexchange_correlation_idx"),
            # Only keyed writes carry one: reads, the bulk of the table, stay out of it.
            models.Index(
                fields=["idempotency_key"],
                condition=~models.Q(idempotency_key=""),
                name="codatexchange_idem_key_idx",
            ),
            models.Index(fields=["-created_at"], name="codatexchange_recent_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.method} {self.path} → {self.status}"


class CodatCallSlot(models.Model):
    """One of a company's few places to talk to Codat: a task holds one while it makes its calls,
    so a company never has more calls in flight than `CODAT_MAX_CALLS_PER_COMPANY`. A slot whose
    holder died frees itself when its lease runs out."""

    company = models.ForeignKey(
        "companies.Company",
        on_delete=models.CASCADE,
        related_name="codat_call_slots",
        db_index=False,
    )
    holder = models.CharField(max_length=200)
    acquired_at = models.DateTimeField()
    leased_until = models.DateTimeField()

    class Meta:
        db_table = "syncs_codatcallslot"
        indexes = [models.Index(fields=["company", "leased_until"], name="callslot_company_idx")]

    def __str__(self) -> str:
        return f"{self.holder} until {self.leased_until:%H:%M:%S}"


class CodatCallGate(models.Model):
    """The row a worker locks to count a company's live slots and take one, so two workers
    never both see the last free slot. One per company, made the first time it is needed."""

    company = models.OneToOneField(
        "companies.Company",
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="+",
    )

    class Meta:
        # A lock and nothing else: nobody views or edits it, so it has no permissions.
        default_permissions = ()

    def __str__(self) -> str:
        return f"Call gate of company {self.company_id}"
