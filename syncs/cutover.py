"""Moving a company to the other generation of Codat's expenses API: the cut-over.

A company is switched only when nothing of it is in flight: no push asked for and not yet taken
up, no claim under way, no batch not settled, no sync not finished, no receipt upload not done,
no expense on its way. The check and the switch run in one transaction under the company row
lock a claim slice takes (`syncs.claim.company_claim_lock`), so no claim can slip in between:
a claim that took the lock first has left a sync in flight by the time the check reads, and one
that comes after reads the new generation under the same lock.

On switching: `Company.expenses_api` moves (a conditional update from the generation read under
the lock); the company's approved and failed expenses are re-validated under the new
generation's rules and those it refuses go back to To categorize with the reason on their trail
(`expenses.recheck`); who switched, when and from where is recorded (`ExpensesApiSwitch`); and
after commit the master data is refreshed, so the mapping options are read again as the new
generation gives them and the expenses rechecked against them (`master_data_pulled`). Nothing
synced is touched: a synced expense is never claimed again, and each sync and batch keeps the
generation it was written through.

A dry run reads the same and changes nothing. Moving back to v1 is refused from the day Codat
switches v1 off (`syncs.v1_shutdown`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from django.contrib.auth.models import User
from django.db import transaction

from companies.models import Company, ExpensesApiSwitch, SwitchChannel
from companies.platforms import ApiGeneration
from companies.refresh import company_refresh_request
from expenses.models import Expense, ExpenseStatus
from expenses.recheck import RefusedExpense, expenses_refused_under, expenses_send_back
from sfe_portal.transitions import transition_update
from syncs import v1_shutdown
from syncs.claim import company_claim_lock
from syncs.models import BatchState, PushBatch, ReceiptUpload, Sync, SyncState, UploadState
from syncs.plain_words import v1_off_on

# How reports name each generation.
API_NAMES = {
    ApiGeneration.V1: "Sync for Expenses v1",
    ApiGeneration.EXPENSES: "the newer Expenses API",
}
# The moves the cut-over makes: either way, one company at a time.
API_MOVES: dict[str, frozenset[str]] = {
    ApiGeneration.V1: frozenset({ApiGeneration.EXPENSES}),
    ApiGeneration.EXPENSES: frozenset({ApiGeneration.V1}),
}
_UNFINISHED_SYNCS = (SyncState.INITIATING, SyncState.IN_PROGRESS)
_UNSETTLED_BATCHES = (BatchState.PENDING, BatchState.POSTED, BatchState.SYNC_REQUESTED)
_UPLOADS_NOT_DONE = (UploadState.PENDING, UploadState.UPLOADING, UploadState.FAILED)
_ON_THEIR_WAY = (ExpenseStatus.PUSHING, ExpenseStatus.SYNCING)


def _plural(count: int, one: str, many: str) -> str:
    return f"{count} {one if count == 1 else many}"


@dataclass(frozen=True)
class InFlight:
    """What of a company is under way with Codat, by kind."""

    push_requested: bool = False
    claims: int = 0
    syncs: int = 0
    batches: int = 0
    receipt_uploads: int = 0
    expenses: int = 0

    def __bool__(self) -> bool:
        return self.push_requested or any(
            (self.claims, self.syncs, self.batches, self.receipt_uploads, self.expenses)
        )

    def words(self) -> str:
        """What is in flight, in plain words: "2 syncs not finished; 3 batches not settled"."""
        parts = []
        if self.push_requested:
            parts.append("a push was asked for and no worker has taken it up yet")
        if self.claims:
            parts.append(
                _plural(self.claims, "push still being claimed", "pushes still being claimed")
            )
        if self.syncs:
            parts.append(_plural(self.syncs, "sync not finished", "syncs not finished"))
        if self.batches:
            parts.append(_plural(self.batches, "batch not settled", "batches not settled"))
        if self.receipt_uploads:
            parts.append(
                _plural(self.receipt_uploads, "receipt upload not done", "receipt uploads not done")
            )
        if self.expenses:
            parts.append(
                _plural(
                    self.expenses, "expense on its way to Codat", "expenses on their way to Codat"
                )
            )
        return "; ".join(parts)


def company_in_flight(*, company: Company) -> InFlight:
    """What of the company is in flight now, read from our tables (a few counts)."""
    requested = Company.objects.filter(pk=company.pk, push_requested_at__isnull=False).exists()
    syncs = Sync.objects.filter(company=company, state__in=_UNFINISHED_SYNCS)
    return InFlight(
        push_requested=requested,
        claims=syncs.filter(claiming=True).count(),
        syncs=syncs.count(),
        batches=PushBatch.objects.filter(company=company, state__in=_UNSETTLED_BATCHES).count(),
        receipt_uploads=ReceiptUpload.objects.filter(
            sync__company=company, state__in=_UPLOADS_NOT_DONE
        ).count(),
        expenses=Expense.objects.filter(company=company, status__in=_ON_THEIR_WAY).count(),
    )


@dataclass
class SwitchReport:
    """What the cut-over did to a company, or would do (`dry_run`), or why it would not."""

    company: Company
    from_api: str
    to_api: str
    dry_run: bool
    in_flight: InFlight = field(default_factory=InFlight)
    # Why the company was not (or would not be) moved; empty when it was (or would be).
    refusal: str = ""
    # Already speaking `to_api`: nothing to do.
    already: bool = False
    # What the new generation refuses, sent back to coding (or that would be).
    sent_back: list[RefusedExpense] = field(default_factory=list)
    switch: ExpensesApiSwitch | None = None
    refresh_queued: bool = False

    @property
    def refused(self) -> bool:
        return bool(self.refusal)

    def reasons(self) -> list[tuple[str, int]]:
        """Each reason an expense goes back to coding, with how many, the most common first."""
        return Counter(item.reason for item in self.sent_back).most_common()

    def lines(self) -> list[str]:
        """The report in words, a line each: what the command prints and the pages show."""
        name = self.company.name
        to_name, from_name = (
            API_NAMES[ApiGeneration(self.to_api)],
            API_NAMES[ApiGeneration(self.from_api)],
        )
        if self.already:
            return [f"{name} already speaks {to_name}: nothing to do."]
        if self.refused:
            head = "Would not move" if self.dry_run else "Not moved"
            lines = [f"{head}: {self.refusal}"]
        elif self.dry_run:
            lines = [f"{name} can move from {from_name} to {to_name}: nothing of it is in flight."]
        else:
            lines = [f"{name} moved from {from_name} to {to_name}."]
        if self.dry_run or not self.refused:
            verb = "would go" if self.dry_run else "went"
            count = _plural(len(self.sent_back), "expense", "expenses")
            lines.append(
                f"{count} {verb} back to coding, refused by {to_name}'s rules:"
                if self.sent_back
                else f"No expense {verb} back to coding: every approved and failed expense "
                f"passes {to_name}'s rules."
            )
            lines += [f"  {n} × {reason}" for reason, n in self.reasons()]
        if self.dry_run:
            lines.append("Dry run: nothing was changed.")
        elif not self.refused:
            if self.refresh_queued:
                lines.append(
                    "The mapping options and master data are being read again from Codat; the "
                    "expenses are checked against them once they arrive."
                )
            lines.append(
                f"Synced expenses are untouched; approved expenses go out through {to_name} on "
                "the next push."
            )
        return lines


def _clock_now() -> datetime:
    return v1_shutdown.clock()


def _refusal(company: Company, to_api: str, in_flight: InFlight, now: datetime) -> str:
    if to_api == ApiGeneration.V1 and v1_shutdown.v1_is_switched_off(now=now):
        return (
            f"{v1_off_on(v1_shutdown.v1_shutdown_date())}: {company.name} cannot be moved "
            "back to it."
        )
    if in_flight:
        return (
            f"{company.name} still has work in flight with Codat: {in_flight.words()}. Let it "
            "finish first (the worker carries it on), or finish it here with manage.py sync_now "
            f"--company {company.pk} --wait; then move the company again."
        )
    return ""


def expenses_api_switch(
    company: Company,
    to: str,
    *,
    by_user: User | None,
    dry_run: bool = False,
    clock: Callable[[], datetime] | None = None,
    via: SwitchChannel = SwitchChannel.COMMAND,
) -> SwitchReport:
    """Move `company` to generation `to` (`v1` | `expenses`) once nothing of it is in flight,
    recording `by_user` and `via`; or, with `dry_run`, say what would happen and change
    nothing. A refusal is on the report (`refused`, `refusal`): nothing was changed then.
    `clock` (default `syncs.v1_shutdown.clock`) says what day it is."""
    try:
        to_api = ApiGeneration(to)
    except ValueError:
        known = ", ".join(ApiGeneration.values)
        raise ValueError(
            f"No expenses API generation is called {to!r}: use one of {known}."
        ) from None
    now = (clock or _clock_now)()
    if dry_run:
        speaks = Company.objects.values_list("expenses_api", flat=True).get(pk=company.pk)
        return _report(company, speaks, to_api, now, dry_run=True)
    with transaction.atomic():
        current = company_claim_lock(company)
        if current is None:
            raise Company.DoesNotExist(f"Company {company.pk} no longer exists.")
        report = _report(company, current, to_api, now, dry_run=False)
        if report.refused or report.already:
            return report
        transition_update(
            Company.objects.filter(pk=company.pk),
            entity="Company's expenses API",
            transitions=API_MOVES,
            field="expenses_api",
            to=to_api,
            current=current,
            updated_at=now,
        )
        company.expenses_api = to_api
        moved = expenses_send_back(
            refused=report.sent_back,
            by=by_user,
            why=f"Back to coding: {company.name} moved to {API_NAMES[to_api]}, which does not "
            "take it as it is",
            data={"expenses_api": str(to_api)},
        )
        report.refresh_queued = company.codat_company_id is not None
        report.switch = ExpensesApiSwitch(
            company=company,
            from_api=current,
            to_api=to_api,
            switched_by=by_user,
            via=via,
            switched_at=now,
            sent_back_to_coding=moved,
        )
        report.switch.summary = "\n".join(report.lines())
        report.switch.save()
        if report.refresh_queued:
            company_refresh_request(company=company)
    return report


def _report(
    company: Company, current: str, to_api: ApiGeneration, now: datetime, *, dry_run: bool
) -> SwitchReport:
    company.expenses_api = current
    report = SwitchReport(company=company, from_api=current, to_api=to_api, dry_run=dry_run)
    if current == to_api:
        report.already = True
        return report
    report.in_flight = company_in_flight(company=company)
    report.refusal = _refusal(company, to_api, report.in_flight, now)
    if dry_run or not report.refused:
        # A refused switch leaves at once: the lock it holds keeps claims waiting.
        report.sent_back = expenses_refused_under(company=company, api=to_api)
    return report
