"""Reads about companies. Every view finds companies through `company_list_visible`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.contrib.auth.models import AnonymousUser, User
from django.db import connection
from django.db.models import OuterRef, Q, QuerySet

from companies.fast_sql import company_visible_row
from companies.models import (
    NOTICE_DEFAULTS,
    ROLE_RANK,
    Company,
    CompanyConfiguration,
    Connection,
    ConnectionKind,
    ExpensesApiSwitch,
    Membership,
    NoticeChoice,
    Role,
)
from companies.platforms import ApiGeneration
from companies.staff import StaffPermission, is_support, staff_company_role

AnyUser = User | AnonymousUser


def company_list_visible(*, user: AnyUser) -> QuerySet[Company]:
    """The companies `user` may see: staff with the permission to see companies see all,
    members see theirs, others none (companies.staff: a staff account's memberships count
    for nothing)."""
    if not user.is_authenticated or not user.is_active:
        return Company.objects.none()
    if is_support(user):
        if staff_company_role(user) is None:
            return Company.objects.none()
        return Company.objects.all()
    return Company.objects.filter(memberships__user=user)


def company_visible_with_role(
    *, user: AnyUser, company_id: int
) -> tuple[Company, Role] | tuple[None, None]:
    """The company with that id if the user may see it, and the user's role on it, in one
    query; (None, None) otherwise. The company comes with its configuration (and the records
    it names) and the status of its live connections, which every page of a company reads.

    A staff account's role comes from its permissions (companies.staff), the same on every
    company; everyone else's from their membership."""
    if not user.is_authenticated or not user.is_active:
        return None, None
    low, high = connection.ops.integer_field_range(Company._meta.pk.get_internal_type())
    if not low <= company_id <= high:
        return None, None  # an id no row can have, as the ORM's lookup would answer
    member = not is_support(user)
    staff_role = None if member else staff_company_role(user)
    if not member and staff_role is None:
        return None, None
    found = company_visible_row(company_id=company_id, user_id=user.pk if member else None)
    if found is None:
        return None, None
    company, configuration, statuses, member_role = found
    role = Role(member_role) if member_role is not None else staff_role
    assert role is not None  # a staff account without a role returned above
    # Reads that several parts of one page make (the banner, the push panel) are kept here for
    # the request; code outside a request never sees this and reads afresh.
    setattr(company, _REQUEST_READS, {"configuration": configuration, "statuses": statuses})
    return company, role


_REQUEST_READS = "_request_reads"


def company_configuration(*, company: Company) -> CompanyConfiguration | None:
    """The company's configuration with the records it names: the one read with the company
    for this request (company_visible_with_role), else read now."""
    reads: dict[str, Any] | None = getattr(company, _REQUEST_READS, None)
    if reads is not None and "configuration" in reads:
        return reads["configuration"]
    return (
        CompanyConfiguration.objects.filter(company=company)
        .select_related("bank_account", "supplier", "customer")
        .first()
    )


def role_allows(role: Role | None, *, needed: Role) -> bool:
    return role is not None and ROLE_RANK[role] >= ROLE_RANK[needed]


# --- Connection health and push blockers --------------------------------------------------------


def _live_connection_rows(company: Company | OuterRef) -> QuerySet[Connection]:
    live = Connection.objects.filter(deleted_at__isnull=True)
    return live.filter(company=company)  # type: ignore[misc]  # OuterRef in a subquery


def _live_connections(company: Company) -> dict[str, Connection]:
    return {c.kind: c for c in _live_connection_rows(company).order_by("pk")}


def _connection_statuses(company: Company) -> dict[str, str]:
    """The status of each kind of live connection (the newest of a kind counts), as read with
    the company for this request when it was."""
    reads: dict[str, Any] | None = getattr(company, _REQUEST_READS, None)
    if reads is not None and "statuses" in reads:
        return reads["statuses"]
    return dict(_live_connection_rows(company).order_by("pk").values_list("kind", "status"))


def company_connection_problems(*, company: Company) -> list[str]:
    """What is wrong with the company's connections, in words that say how to fix it. The
    banner on every page of the company shows these."""
    from companies.models import CompanyStatus, ConnectionStatus

    if company.status in (CompanyStatus.NEW, CompanyStatus.ARCHIVED):
        return []
    statuses = _connection_statuses(company)
    accounting = statuses.get(ConnectionKind.ACCOUNTING)
    problems = []
    if accounting is None:
        problems.append(
            "This company has no accounting connection: staff must connect it from the "
            "Connect a company page."
        )
    elif accounting in (ConnectionStatus.UNLINKED, ConnectionStatus.DEAUTHORIZED):
        problems.append(
            f"The {company.platform_label} connection is "
            f"{ConnectionStatus(accounting).label.lower()}: nothing can be pushed until the "
            "customer re-authorizes it. Send them the link from "
            "the company settings, then choose “Check the connection”."
        )
    elif company.status == CompanyStatus.DISCONNECTED:
        problems.append(
            f"Codat reported that the {company.platform_label} connection is no longer linked: "
            "nothing can be pushed until the customer re-authorizes it. Send them the link from "
            "the company settings, then choose “Check the connection”."
        )
    elif accounting == ConnectionStatus.PENDING_AUTH:
        problems.append(
            f"Waiting for the customer to link {company.platform_label}: send them the link "
            "from the company settings."
        )
    partner = statuses.get(ConnectionKind.PARTNER_EXPENSE)
    if accounting == ConnectionStatus.LINKED and partner != ConnectionStatus.LINKED:
        problems.append(
            "The partner-expense connection is missing or not linked: retry the onboarding step "
            "from the company settings."
        )
    return problems


def company_push_blockers(*, company: Company) -> list[str]:
    """Why expenses of this company cannot be pushed now (empty when they can). The push
    pipeline calls this before claiming any expense."""
    from companies.models import CompanyStatus

    blockers = company_connection_problems(company=company)
    if company.status == CompanyStatus.ARCHIVED:
        return ["The company is archived: nothing is pushed for it."]
    config = company_configuration(company=company)
    if config is None or config.bank_account_id is None:
        blockers.append(
            "The company has no default bank account: an approver must choose one in the "
            "company settings."
        )
    elif config.saved_to_codat_at is None:
        blockers.append(
            "The configuration has not reached Codat yet: wait a moment, or retry from the "
            "company settings."
        )
    if company.master_data_refreshed_at is None:
        blockers.append(
            "The chart of accounts has not been pulled yet: choose “Refresh now” in the "
            "company settings."
        )
    return blockers


# --- The generation of Codat's expenses API ---------------------------------------------------


def companies_still_on_v1() -> Q:
    """The companies to move to the newer Expenses API before Codat switches v1 off: on v1 and
    not archived (an archived company never pushes)."""
    from companies.models import CompanyStatus

    return Q(expenses_api=ApiGeneration.V1) & ~Q(status=CompanyStatus.ARCHIVED)


def company_last_switch(*, company: Company) -> ExpensesApiSwitch | None:
    """The company's latest move between generations, with who made it; None if it never
    moved."""
    return (
        ExpensesApiSwitch.objects.filter(company=company)
        .select_related("switched_by")
        .order_by("-switched_at", "-pk")
        .first()
    )


# --- Onboarding and settings pages --------------------------------------------------------------


def configuration_notes(*, company: Company) -> dict[str, str]:
    """What each configuration field means on the company's platform (API-NOTES §4.3), in the
    generation it speaks, next to the field."""
    from companies.platforms import ContactKind, TransactionType, rules_for

    rules = rules_for(company.platform, company.expenses_api)
    label = company.platform_label

    def types_using(kind: ContactKind) -> str:
        names = [
            t.label.lower()
            for t in TransactionType
            if rules.supports(t) and rules.contact_for(t) == kind
        ]
        return ", ".join(names)

    bank = (
        f"Every expense is booked from this bank or card account in {label}, unless the expense "
        "names another. Only accounts your chart marks as bank accounts are offered."
    )
    if rules.needs_default_supplier:
        supplier = (
            f"Required: {label} records every expense against this supplier and cannot take a "
            "supplier per expense."
        )
        customer = f"{label} does not use a customer for card expenses; leave it empty."
    else:
        on_supplier = types_using(ContactKind.SUPPLIER)
        on_customer = types_using(ContactKind.CUSTOMER)
        supplier = (
            f"{label} records {on_supplier} against a supplier: this one, unless the expense "
            "names its own. A single-currency supplier only takes spend in its currency."
        )
        customer = (
            f"{label} records {on_customer} against this customer; customers cannot be chosen "
            "per expense."
            if on_customer
            else f"{label} records no card expense against a customer; leave it empty."
        )
    return {"bank_account": bank, "supplier": supplier, "customer": customer}


@dataclass(frozen=True)
class OnboardingStep:
    label: str
    state: str  # done · current · waiting · failed
    detail: str = ""


@dataclass(frozen=True)
class OnboardingProgress:
    company: Company
    accounting: Connection | None
    steps: list[OnboardingStep]
    polling: bool  # whether the page keeps asking for progress
    needs_configuration: bool
    ready: bool


def company_onboarding_progress(*, company: Company) -> OnboardingProgress:
    """Where onboarding stands, from our own tables only (the page polls this, never Codat)."""
    from companies.models import CompanyConfiguration, CompanyStatus

    connections = _live_connections(company)
    accounting = connections.get(ConnectionKind.ACCOUNTING)
    partner = connections.get(ConnectionKind.PARTNER_EXPENSE)
    config = CompanyConfiguration.objects.filter(company=company).first()
    error_step, error = company.last_error_step, company.last_error
    status = company.status

    def state(done: bool, current: bool, step: str) -> str:
        if done:
            return "done"
        if error and error_step == step:
            return "failed"
        return "current" if current else "waiting"

    created = company.codat_company_id is not None and accounting is not None
    linked = accounting is not None and accounting.is_linked
    pulled = company.master_data_refreshed_at is not None
    configured = config is not None and config.saved_to_codat_at is not None
    steps = [
        OnboardingStep("Create the company in Codat", state(created, not created, "create")),
        OnboardingStep(
            "Customer links their accounting software",
            state(linked, created and not linked, "link"),
            "Send the customer the link below." if created and not linked else "",
        ),
        OnboardingStep(
            "Partner-expense connection",
            state(
                partner is not None and partner.is_linked,
                linked and partner is None,
                "partner_expense",
            ),
        ),
        OnboardingStep(
            "Pull the chart of accounts and contacts",
            state(pulled, linked and not pulled, "refresh"),
        ),
        OnboardingStep(
            "Configuration", state(configured, pulled and not configured, "configuration")
        ),
    ]
    waiting_on_us = status in (
        CompanyStatus.NEW,
        CompanyStatus.AWAITING_LINK,
        CompanyStatus.PULLING,
    )
    sending_config = config is not None and config.bank_account_id and not configured
    return OnboardingProgress(
        company=company,
        accounting=accounting,
        steps=steps,
        polling=bool((waiting_on_us or sending_config) and not error),
        needs_configuration=status == CompanyStatus.NEEDS_CONFIGURATION and not sending_config,
        ready=status == CompanyStatus.READY,
    )


@dataclass(frozen=True)
class CompanySettings:
    connections: list[Connection]
    configuration: CompanyConfiguration | None
    members: list[Membership]
    notes: dict[str, str]
    refreshing: bool
    last_switch: ExpensesApiSwitch | None = None


def company_settings_overview(*, company: Company) -> CompanySettings:
    from companies.models import CompanyConfiguration

    config = (
        CompanyConfiguration.objects.filter(company=company)
        .select_related("bank_account", "supplier", "customer", "updated_by")
        .first()
    )
    return CompanySettings(
        connections=list(_live_connections(company).values()),
        configuration=config,
        members=list(company.memberships.select_related("user").order_by("user__username")),
        notes=configuration_notes(company=company),
        refreshing=company.refresh_started_at is not None,
        last_switch=company_last_switch(company=company),
    )


def members_choosing(*, company: Company, choice: NoticeChoice) -> list[User]:
    """The company's members who hear of its failures this way (by their own choice, or their
    role's default): active accounts with an e-mail address. Staff accounts hear as support,
    never as members."""
    defaults = [role for role, default in NOTICE_DEFAULTS.items() if default == choice]
    memberships = (
        Membership.objects.filter(
            Q(notices=choice) | Q(notices="", role__in=defaults),
            company=company,
            user__is_active=True,
            user__is_staff=False,
        )
        .exclude(user__email="")
        .select_related("user")
        .order_by("user__username")
    )
    return [membership.user for membership in memberships]


def staff_with(*, permission: StaffPermission) -> list[User]:
    """Active staff accounts holding `permission` (or one that implies it, or superusers), with
    an e-mail address."""
    from django.contrib.auth import get_user_model

    user_model = get_user_model()
    ids: set[int] = set()
    for codename in (permission.codename, *permission.implied_by):
        ids.update(
            user_model.objects.with_perm(
                codename,
                is_active=True,
                include_superusers=True,
                backend="django.contrib.auth.backends.ModelBackend",
            ).values_list("pk", flat=True)
        )
    return list(
        user_model.objects.filter(pk__in=ids, is_staff=True).exclude(email="").order_by("username")
    )


def membership_of(*, company: Company, user: AnyUser) -> Membership | None:
    """The user's own membership of the company (None for support and non-members)."""
    if not user.is_authenticated or is_support(user):
        return None
    return Membership.objects.filter(company=company, user=user).first()
