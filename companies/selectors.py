"""Reads about companies. Every view finds companies through `company_list_visible`."""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth.models import AnonymousUser, User
from django.db.models import Prefetch, Q, QuerySet

from companies.models import ROLE_RANK, Company, Connection, ConnectionKind, Membership, Role

AnyUser = User | AnonymousUser


def company_list_visible(*, user: AnyUser) -> QuerySet[Company]:
    """The companies `user` may see: staff see all, members see theirs, others none."""
    if not user.is_authenticated or not user.is_active:
        return Company.objects.none()
    if user.is_staff:
        return Company.objects.all()
    return Company.objects.filter(memberships__user=user)


def company_role_for(*, user: AnyUser, company: Company) -> Role | None:
    """The user's role on the company; staff act as approvers everywhere."""
    if not user.is_authenticated or not user.is_active:
        return None
    if user.is_staff:
        return Role.APPROVER
    role = (
        Membership.objects.filter(user_id=user.pk, company=company)
        .values_list("role", flat=True)
        .first()
    )
    return Role(role) if role else None


def role_allows(role: Role | None, *, needed: Role) -> bool:
    return role is not None and ROLE_RANK[role] >= ROLE_RANK[needed]


@dataclass(frozen=True)
class CompanyRow:
    company: Company
    accounting_connection: Connection | None
    to_categorize: int
    ready: int
    failed: int


@dataclass(frozen=True)
class CompanyOverview:
    connections: list[Connection]
    status_counts: list[tuple[str, str, int]]  # (status, label, count) in workflow order
    members: list[Membership]


def company_overview(*, company: Company) -> CompanyOverview:
    """The company page: live connections, expense counts per status and the members."""
    from expenses.models import ExpenseStatus
    from expenses.selectors import expense_status_counts_by_company

    connections = list(company.connections.filter(deleted_at__isnull=True).order_by("kind"))
    counts = expense_status_counts_by_company(company_ids=[company.pk]).get(company.pk, {})
    status_counts = [(s.value, s.label, counts.get(s.value, 0)) for s in ExpenseStatus]
    members = list(company.memberships.select_related("user").order_by("user__username"))
    return CompanyOverview(connections=connections, status_counts=status_counts, members=members)


def company_list_overview(*, user: AnyUser, search: str = "") -> list[CompanyRow]:
    """The companies page: each visible company with its connection and queue counts.

    Three queries whatever the number of companies: companies, their live accounting
    connections, and one grouped count over the expenses of all of them.
    """
    from expenses.selectors import expense_status_counts_by_company

    companies = company_list_visible(user=user).order_by("name")
    if search:
        companies = companies.filter(Q(name__icontains=search) | Q(codat_company_id__iexact=search))
    companies = companies.prefetch_related(
        Prefetch(
            "connections",
            queryset=Connection.objects.filter(
                kind=ConnectionKind.ACCOUNTING, deleted_at__isnull=True
            ),
            to_attr="live_accounting_connections",
        )
    )
    rows = list(companies)
    counts = expense_status_counts_by_company(company_ids=[c.pk for c in rows])
    result = []
    for company in rows:
        by_status = counts.get(company.pk, {})
        connections = company.live_accounting_connections
        result.append(
            CompanyRow(
                company=company,
                accounting_connection=connections[0] if connections else None,
                to_categorize=by_status.get("uncategorized", 0),
                ready=by_status.get("categorized", 0) + by_status.get("approved", 0),
                failed=by_status.get("failed", 0),
            )
        )
    return result
