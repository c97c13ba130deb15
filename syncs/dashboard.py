"""Reads for the sync health dashboard and its drill-downs.

Every figure comes from a bounded number of grouped queries on indexed columns, whatever the
number of companies: per-sync counts are kept on `Sync` when its results are settled, and
failure causes on `SyncTransaction.cause`, so nothing here reads a million result rows.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from django.core.paginator import Page, Paginator
from django.db.models import Count, Max, Min, Q, QuerySet, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone

from companies.models import Company, CompanyStatus
from companies.platforms import ApiGeneration, Platform
from expenses.models import Expense, ExpenseStatus
from syncs.health import HEALTH_FORMULA, HealthInputs, health_score
from syncs.models import (
    FAILED_TRANSACTION_STATUSES,
    Sync,
    SyncState,
    SyncTransaction,
    WorkerHeartbeat,
)
from syncs.poll import LONG_RUNNING_AFTER
from syncs.v1_shutdown import V1Countdown, v1_countdown

LONG_RUNNING_CODE = 1010
# Beat sends a heartbeat every minute; three missed ones mean the queue has no live worker.
HEARTBEAT_STALE_AFTER = timedelta(minutes=3)
TOP_CAUSES = 20
SORTS = {
    "score": "Health, worst first",
    "name": "Name",
    "failure": "Failure rate, highest first",
    "backlog": "Backlog, oldest first",
    "freshness": "Master data, stalest first",
}


@dataclass(frozen=True)
class DashboardFilters:
    start: date
    end: date  # inclusive
    platform: str = ""
    status_code: int | None = None

    @property
    def since(self) -> datetime:
        return timezone.make_aware(datetime.combine(self.start, time.min))

    @property
    def until(self) -> datetime:
        return timezone.make_aware(datetime.combine(self.end + timedelta(days=1), time.min))

    @property
    def platform_label(self) -> str:
        return Platform(self.platform).label if self.platform else "All platforms"

    def days(self) -> list[date]:
        return [self.start + timedelta(days=n) for n in range((self.end - self.start).days + 1)]


def stuck_syncs_q(*, now: datetime) -> Q:
    """Syncs still running after ten minutes, or that Codat reports as long-running (1010)."""
    return Q(state__in=[SyncState.INITIATING, SyncState.IN_PROGRESS]) & (
        Q(requested_at__lt=now - LONG_RUNNING_AFTER) | Q(status_code=LONG_RUNNING_CODE)
    )


def syncs_in_range(filters: DashboardFilters) -> QuerySet[Sync]:
    syncs = Sync.objects.filter(requested_at__gte=filters.since, requested_at__lt=filters.until)
    if filters.platform:
        syncs = syncs.filter(company__platform=filters.platform)
    if filters.status_code is not None:
        syncs = syncs.filter(status_code=filters.status_code)
    return syncs


def failures_in_range(filters: DashboardFilters) -> QuerySet[SyncTransaction]:
    """Failed results fetched in the range (a result is fetched when its sync ends)."""
    rows = SyncTransaction.objects.filter(
        status__in=FAILED_TRANSACTION_STATUSES,
        fetched_at__gte=filters.since,
        fetched_at__lt=filters.until,
    )
    if filters.platform:
        rows = rows.filter(company__platform=filters.platform)
    if filters.status_code is not None:
        rows = rows.filter(sync__status_code=filters.status_code)
    return rows


@dataclass(frozen=True)
class Kpis:
    syncs: int
    succeeded: int
    failed_syncs: int
    expenses_synced: int
    failed_transactions: int
    stuck: int
    oldest_backlog_at: datetime | None

    @property
    def success_rate(self) -> float | None:
        finished = self.succeeded + self.failed_syncs
        return None if finished == 0 else 100.0 * self.succeeded / finished


@dataclass(frozen=True)
class CauseGroup:
    cause: str
    transactions: int
    companies: int
    first_seen: datetime
    last_seen: datetime


@dataclass
class CompanyHealth:
    company: Company
    syncs: int
    transactions: int
    failed: int
    stuck: int
    backlog_since: datetime | None
    score: int
    last_sync_at: datetime | None = None
    last_success_at: datetime | None = None

    @property
    def failure_rate(self) -> float | None:
        return None if self.transactions == 0 else 100.0 * self.failed / self.transactions


@dataclass(frozen=True)
class Heartbeat:
    queue: str
    hostname: str
    last_seen_at: datetime
    stale: bool


@dataclass
class Dashboard:
    filters: DashboardFilters
    computed_at: datetime
    kpis: Kpis
    chart: dict[str, Any]
    causes: list[CauseGroup]
    health_page: Page[CompanyHealth]
    sort: str
    heartbeats: list[Heartbeat]
    # The companies (of the platform filter) still on v1, and the days Codat leaves them.
    v1: V1Countdown
    health_formula: str = HEALTH_FORMULA
    sorts: dict[str, str] = field(default_factory=lambda: dict(SORTS))

    @property
    def sort_label(self) -> str:
        return SORTS[self.sort]


def _kpis(
    filters: DashboardFilters, now: datetime, backlog_oldest: datetime | None, chart: dict[str, Any]
) -> Kpis:
    """The range's totals are the sums of the chart's days (one pass over the syncs)."""
    stuck = Sync.objects.filter(stuck_syncs_q(now=now))
    if filters.platform:
        stuck = stuck.filter(company__platform=filters.platform)
    return Kpis(
        syncs=sum(chart["syncs"]),
        succeeded=sum(chart["succeeded"]),
        failed_syncs=sum(chart["failed"]),
        expenses_synced=sum(chart["synced"]),
        failed_transactions=sum(chart["failed_transactions"]),
        stuck=stuck.count(),
        oldest_backlog_at=backlog_oldest,
    )


def _chart(filters: DashboardFilters) -> dict[str, Any]:
    """Syncs per day by outcome and expenses synced per day, every day of the range present."""
    rows = (
        syncs_in_range(filters)
        .annotate(day=TruncDate("requested_at"))
        .values("day")
        .annotate(
            syncs=Count("requested_at"),
            succeeded=Count("requested_at", filter=Q(state=SyncState.SUCCEEDED)),
            failed=Count("requested_at", filter=Q(state=SyncState.FAILED)),
            running=Count(
                "requested_at", filter=Q(state__in=[SyncState.INITIATING, SyncState.IN_PROGRESS])
            ),
            synced=Sum("transactions_completed"),
            failed_transactions=Sum("transactions_failed"),
        )
        .order_by("day")
    )
    by_day = {row["day"]: row for row in rows}
    days = filters.days()
    series: dict[str, list[int]] = {
        key: [] for key in ("syncs", "succeeded", "failed", "running", "synced")
    }
    series["failed_transactions"] = []
    for day in days:
        row = by_day.get(day, {})
        for key in series:
            series[key].append(int(row.get(key) or 0))
    return {"labels": [d.isoformat() for d in days], **series}


def _causes(filters: DashboardFilters) -> list[CauseGroup]:
    rows = (
        failures_in_range(filters)
        .values("cause")
        .annotate(
            transactions=Count("id"),
            companies=Count("company_id", distinct=True),
            first_seen=Min("fetched_at"),
            last_seen=Max("fetched_at"),
        )
        .order_by("-transactions", "cause")[:TOP_CAUSES]
    )
    return [CauseGroup(**row) for row in rows]


def _health(
    filters: DashboardFilters, now: datetime, backlog: dict[int, datetime]
) -> list[CompanyHealth]:
    companies = Company.objects.exclude(status=CompanyStatus.ARCHIVED).only(
        "id",
        "name",
        "platform",
        "status",
        "codat_company_id",
        "master_data_refreshed_at",
        "expenses_api",
    )
    if filters.platform:
        companies = companies.filter(platform=filters.platform)
    per_company = {
        row["company_id"]: row
        for row in syncs_in_range(filters)
        .values("company_id")
        .annotate(
            syncs=Count("requested_at"),
            completed=Sum("transactions_completed"),
            failed=Sum("transactions_failed"),
        )
        .order_by()
    }
    stuck = dict(
        Sync.objects.filter(stuck_syncs_q(now=now))
        .values("company_id")
        .annotate(n=Count("id"))
        .order_by()
        .values_list("company_id", "n")
    )
    rows = []
    for company in companies:
        figures = per_company.get(company.pk, {})
        completed, failed = int(figures.get("completed") or 0), int(figures.get("failed") or 0)
        refreshed = company.master_data_refreshed_at
        backlog_since = backlog.get(company.pk)
        inputs = HealthInputs(
            connected=company.status == CompanyStatus.READY,
            failure_rate=failed / (completed + failed) if completed + failed else 0.0,
            backlog_age=now - backlog_since if backlog_since else None,
            master_data_age=now - refreshed if refreshed else None,
            stuck_syncs=stuck.get(company.pk, 0),
        )
        rows.append(
            CompanyHealth(
                company=company,
                syncs=int(figures.get("syncs") or 0),
                transactions=completed + failed,
                failed=failed,
                stuck=inputs.stuck_syncs,
                backlog_since=backlog_since,
                score=health_score(inputs),
            )
        )
    return rows


def _sorted(rows: list[CompanyHealth], sort: str) -> list[CompanyHealth]:
    never = datetime.min.replace(tzinfo=timezone.get_current_timezone())
    far = datetime.max.replace(tzinfo=timezone.get_current_timezone())
    keys: dict[str, Any] = {
        "score": lambda r: (r.score, r.company.name),
        "name": lambda r: (r.company.name.lower(), r.company.pk),
        "failure": lambda r: (-(r.failure_rate or 0.0), r.company.name),
        "backlog": lambda r: (r.backlog_since or far, r.company.name),
        "freshness": lambda r: (r.company.master_data_refreshed_at or never, r.company.name),
    }
    return sorted(rows, key=keys.get(sort, keys["score"]))


def _fill_last_syncs(rows: list[CompanyHealth]) -> None:
    """Last sync and last success, for the companies shown only (one grouped query)."""
    ids = [r.company.pk for r in rows]
    last = {
        row["company_id"]: row
        for row in Sync.objects.filter(company_id__in=ids)
        .values("company_id")
        .annotate(
            last_sync=Max("requested_at"),
            last_success=Max("completed_at", filter=Q(state=SyncState.SUCCEEDED)),
        )
        .order_by()
    }
    for row in rows:
        found = last.get(row.company.pk, {})
        row.last_sync_at = found.get("last_sync")
        row.last_success_at = found.get("last_success")


def heartbeats(*, now: datetime) -> list[Heartbeat]:
    return [
        Heartbeat(
            queue=beat.queue,
            hostname=beat.hostname,
            last_seen_at=beat.last_seen_at,
            stale=now - beat.last_seen_at > HEARTBEAT_STALE_AFTER,
        )
        for beat in WorkerHeartbeat.objects.order_by("queue")
    ]


def backlog_oldest(filters: DashboardFilters) -> QuerySet[Expense, tuple[Any, datetime]]:
    """(company id, when its oldest approved expense was approved) for each company with a
    backlog: read from the index of approved expenses alone (`expense_approved_age_idx`)."""
    rows = Expense.objects.filter(status=ExpenseStatus.APPROVED)
    if filters.platform:
        rows = rows.filter(company__platform=filters.platform)
    return (
        rows.values("company_id")
        .annotate(oldest=Min("status_changed_at"))
        .order_by()
        .values_list("company_id", "oldest")
    )


def dashboard_build(
    *,
    filters: DashboardFilters,
    now: datetime,
    sort: str = "score",
    page: int | str = 1,
    per_page: int = 25,
) -> Dashboard:
    """Every figure of the dashboard for the filters, computed at `now`; the v1 countdown on
    the clock that decides when v1 pushes are refused (`syncs.v1_shutdown.clock`), so the two
    never disagree."""
    backlog = dict(backlog_oldest(filters))
    sort = sort if sort in SORTS else "score"
    rows = _sorted(_health(filters, now, backlog), sort)
    # Every company the health table reads (not archived, of the platform): none is read again.
    on_v1 = sum(1 for row in rows if row.company.expenses_api == ApiGeneration.V1)
    health_page = Paginator(rows, per_page).get_page(page)
    _fill_last_syncs(list(health_page.object_list))
    chart = _chart(filters)
    return Dashboard(
        filters=filters,
        computed_at=now,
        kpis=_kpis(filters, now, min(backlog.values(), default=None), chart),
        chart=chart,
        causes=_causes(filters),
        health_page=health_page,
        sort=sort,
        heartbeats=heartbeats(now=now),
        v1=v1_countdown(companies=on_v1),
    )


def cause_transactions(
    *, filters: DashboardFilters, cause: str, limit: int = 200
) -> list[SyncTransaction]:
    """The failed results of one cause in the range, newest first, with what the page shows."""
    return list(
        failures_in_range(filters)
        .filter(cause=cause)
        .select_related("sync", "sync__company", "expense")
        .order_by("-fetched_at", "pk")[:limit]
    )


def cause_expense_ids(*, filters: DashboardFilters, cause: str) -> list[Any]:
    return list(
        failures_in_range(filters)
        .filter(cause=cause, expense__isnull=False)
        .values_list("expense_id", flat=True)
        .distinct()
    )


@dataclass(frozen=True)
class RetryProgress:
    """Where a set of expenses sent again stands, read from their statuses."""

    counts: dict[str, int]

    @property
    def waiting(self) -> int:
        return self.counts.get(ExpenseStatus.APPROVED, 0)

    @property
    def in_flight(self) -> int:
        return self.counts.get(ExpenseStatus.PUSHING, 0) + self.counts.get(ExpenseStatus.SYNCING, 0)

    @property
    def synced(self) -> int:
        return self.counts.get(ExpenseStatus.SYNCED, 0)

    @property
    def failed(self) -> int:
        return self.counts.get(ExpenseStatus.FAILED, 0)

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def active(self) -> bool:
        return self.waiting + self.in_flight > 0


def expenses_progress(*, expense_ids: list[Any]) -> RetryProgress:
    counts: Counter[str] = Counter(
        dict(
            Expense.objects.filter(pk__in=expense_ids)
            .values("status")
            .annotate(n=Count("id"))
            .order_by()
            .values_list("status", "n")
        )
    )
    return RetryProgress(counts=dict(counts))


@dataclass(frozen=True)
class SearchHit:
    kind: str  # "sync" or "company"
    company_id: int
    sync_pk: int | None = None


def dashboard_search(*, query: str) -> SearchHit | None:
    """A sync by its Codat id or our id, or a company by our id or its Codat id."""
    import uuid

    text = query.strip()
    if not text:
        return None
    try:
        as_uuid = uuid.UUID(text)
    except ValueError:
        as_uuid = None
    if as_uuid is not None:
        sync = Sync.objects.filter(codat_sync_id=as_uuid).values("pk", "company_id").first()
        if sync:
            return SearchHit("sync", sync["company_id"], sync["pk"])
        company_pk = (
            Company.objects.filter(codat_company_id=as_uuid).values_list("pk", flat=True).first()
        )
        return SearchHit("company", company_pk) if company_pk else None
    if text.isdigit():
        company_pk = Company.objects.filter(pk=int(text)).values_list("pk", flat=True).first()
        if company_pk:
            return SearchHit("company", company_pk)
    return None
