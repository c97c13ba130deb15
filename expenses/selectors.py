"""Reads about expenses: an expense's lines as validation reads them, the queue, its counts, the
coding choices a row offers, the export, the expense counts the companies pages show."""

from __future__ import annotations

import base64
import binascii
import functools
import uuid
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar

from django.core.paginator import Page, Paginator
from django.db.models import (
    Count,
    DecimalField,
    Exists,
    F,
    ForeignKey,
    Model,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
)
from django.utils.safestring import mark_safe

from companies.models import (
    Company,
    Connection,
    ConnectionKind,
    LedgerAccount,
    Membership,
    Supplier,
    TaxRate,
    TrackingCategory,
)
from companies.platforms import TRANSFER_TYPES, TransactionType
from companies.selectors import AnyUser, company_list_visible
from expenses import fast_sql
from expenses.models import Expense, ExpenseLine, ExpenseStatus, Receipt, searched
from expenses.rows import options_html, supplier_label
from expenses.suggestions import Suggestion, expense_suggestions
from expenses.validation import CompanyContext, Problem, company_context, expense_problems
from sfe_portal.memo import VersionedMemo
from sfe_portal.money import to_precision
from sfe_portal.prefetch import has_related, keep_related, related

_M = TypeVar("_M", bound=Model)

# Tab counts above this are shown as "1,000+": an exact count of a big tab reads every one
# of its index entries, on every page view.
COUNT_CAP = 1_000
# "Select all matching" acts on at most this many expenses; the matching count is exact up to
# it, so the bulk bar can say whether "all" really is all.
BULK_LIMIT = 5_000
PAGE_SIZE = 50
PAGE_SIZES = (25, 50, 100, 200)

_S = ExpenseStatus
TABS: dict[str, tuple[str, tuple[str, ...]]] = {
    "todo": ("To categorize", (_S.UNCATEGORIZED,)),
    "ready": ("Ready", (_S.CATEGORIZED, _S.APPROVED)),
    "insync": ("In sync", (_S.PUSHING, _S.SYNCING)),
    # Those waiting for support after Codat's duplicate protection are shown with the failed.
    "failed": ("Failed", (_S.FAILED, _S.NEEDS_SUPPORT)),
    "synced": ("Synced", (_S.SYNCED,)),
    "excluded": ("Excluded", (_S.EXCLUDED,)),
    "all": ("All", ()),
}
SORTS = {
    "newest": ("-issue_date", "-id"),
    "oldest": ("issue_date", "id"),
    "largest": ("-amount", "-id"),
    "smallest": ("amount", "id"),
}


# --- An expense's lines, as validation reads them -----------------------------------------------


def expense_lines(expense: Expense) -> list[ExpenseLine]:
    """The expense's lines with everything validation reads: kept or prefetched ones if any,
    else read once and kept (sfe_portal.prefetch), so the steps of one change (describe before
    and after, recheck) share the read. A replacement keeps the new lines."""
    if has_related(expense, "lines"):
        return related(expense, "lines")
    lines = list(expense.lines.select_related("account", "tax_rate").order_by("position"))
    expense_lines_keep(expense, lines)
    return lines


def expense_lines_keep(
    expense: Expense,
    lines: list[ExpenseLine],
    tracked: Mapping[int, list[TrackingCategory]] | None = None,
) -> None:
    """Keep `lines` as the expense's lines (sfe_portal.prefetch), each with its tracking categories
    (from `tracked` by line id, else read here in one query)."""
    if tracked is None:
        tracked = lines_tracking([line.pk for line in lines])
    for line in lines:
        keep_related(line, "tracking_categories", tracked.get(line.pk, []))
    keep_related(expense, "lines", lines)


def lines_tracking(line_ids: Sequence[int]) -> dict[int, list[TrackingCategory]]:
    """The tracking categories of each of the lines, by line id, in name order."""
    tracked: dict[int, list[TrackingCategory]] = {}
    if not line_ids:
        return tracked
    links = (
        ExpenseLine.tracking_categories.through.objects.filter(expenseline_id__in=list(line_ids))
        .select_related("trackingcategory")
        .order_by("trackingcategory__name", "trackingcategory_id")
    )
    for link in links:
        tracked.setdefault(link.expenseline_id, []).append(link.trackingcategory)
    return tracked


def expenses_with_lines(*, company: Company, expense_ids: Sequence[uuid.UUID]) -> list[Expense]:
    """The company's expenses with these ids, with everything a change of each reads (its
    company, supplier override, lines and their records), for actions on many at once."""
    lines = Prefetch(
        "lines",
        queryset=ExpenseLine.objects.select_related("account", "tax_rate")
        .prefetch_related("tracking_categories")
        .order_by("position"),
    )
    return list(
        Expense.objects.filter(company=company, pk__in=list(expense_ids))
        .select_related("company", "supplier_override")
        .prefetch_related(lines)
    )


# --- The queue --------------------------------------------------------------------------------


def expense_status_counts_by_company(*, company_ids: Iterable[int]) -> dict[int, dict[str, int]]:
    """`{company_id: {status: count}}` in one grouped query (served by the queue index)."""
    counts: dict[int, dict[str, int]] = defaultdict(dict)
    rows = (
        Expense.objects.filter(company_id__in=list(company_ids))
        .values_list("company_id", "status")
        .annotate(n=Count("id"))
        .order_by()
    )
    for company_id, status, n in rows:
        counts[company_id][status] = n
    return dict(counts)


# --- The companies pages: each company with its expense counts ---------------------------------


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
    connections = list(company.connections.filter(deleted_at__isnull=True).order_by("kind"))
    counts = expense_status_counts_by_company(company_ids=[company.pk]).get(company.pk, {})
    status_counts = [(s.value, s.label, counts.get(s.value, 0)) for s in ExpenseStatus]
    members = list(company.memberships.select_related("user").order_by("user__username"))
    return CompanyOverview(connections=connections, status_counts=status_counts, members=members)


COMPANIES_PER_PAGE = 50


@dataclass(frozen=True)
class CompanyListPage:
    rows: list[CompanyRow]
    page: Page[Any]  # its number, the paginator's page count and company count


def company_list_overview(
    *, user: AnyUser, search: str = "", page: int | str = 1, per_page: int = COMPANIES_PER_PAGE
) -> CompanyListPage:
    """One page of the companies page: each visible company with its connection and queue
    counts, by name. A page number out of range gives the last page, a bad one the first.

    Four queries whatever the number of companies: the count, the page's companies, their live
    accounting connections, and one grouped count over the expenses of those companies.
    """
    companies = company_list_visible(user=user).order_by("name", "pk")
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
    shown = Paginator(companies, per_page).get_page(page)
    listed = list(shown.object_list)
    counts = expense_status_counts_by_company(company_ids=[c.pk for c in listed])
    rows = []
    for company in listed:
        by_status = counts.get(company.pk, {})
        connections = company.live_accounting_connections
        rows.append(
            CompanyRow(
                company=company,
                accounting_connection=connections[0] if connections else None,
                to_categorize=by_status.get("uncategorized", 0),
                ready=by_status.get("categorized", 0) + by_status.get("approved", 0),
                failed=by_status.get("failed", 0) + by_status.get("needs_support", 0),
            )
        )
    return CompanyListPage(rows=rows, page=shown)


@dataclass(frozen=True)
class QueueFilters:
    tab: str = "todo"
    text: str = ""
    date_from: date | None = None
    date_to: date | None = None
    type: str = ""
    amount_min: Decimal | None = None
    amount_max: Decimal | None = None
    currency: str = ""
    has_receipt: bool | None = None
    person: str = ""
    sort: str = "newest"
    per_page: int = PAGE_SIZE
    after: str = ""  # keyset cursor: the sort key and id of the last row seen


@dataclass
class QueueRow:
    expense: Expense
    lines: list[ExpenseLine]
    problems: list[Problem]
    has_receipt: bool
    account_options: list[LedgerAccount] = field(default_factory=list)
    tax_options: list[TaxRate] = field(default_factory=list)
    # Coding the company's history proposes for an uncategorized row no rule covers.
    suggestion: Suggestion | None = None
    # The first line's tracking categories, and whether its account is missing from the
    # options (archived, or not for this type): computed once, a page shows them per row.
    tracking_ids: frozenset[int] = frozenset()
    account_not_offered: bool = False
    tax_rate_not_offered: bool = False

    @property
    def can_be_approved(self) -> bool:
        return not self.problems and self.expense.status in (_S.CATEGORIZED, _S.FAILED)

    @property
    def is_split(self) -> bool:
        return len(self.lines) > 1

    @property
    def line(self) -> ExpenseLine | None:
        return self.lines[0] if self.lines else None

    @property
    def tracking(self) -> list[TrackingCategory]:
        """The first line's tracking categories, for a row shown read-only."""
        return related(self.lines[0], "tracking_categories") if self.lines else []

    @property
    def problems_title(self) -> str:
        """Every problem with its fix, one per line (the row shows the first)."""
        return "\n".join(f"{p.message} {p.fix}" for p in self.problems)

    @property
    def more_problems(self) -> int:
        return max(0, len(self.problems) - 1)


@dataclass
class TabCount:
    key: str
    label: str
    count: int
    cap: int  # counted up to cap + 1: above it the tab shows "cap+"

    @property
    def capped(self) -> bool:
        return self.count > self.cap


@dataclass
class QueuePage:
    rows: list[QueueRow]
    next_cursor: str
    tabs: list[TabCount]
    context: CompanyContext
    filters: QueueFilters
    choices: CodingChoices = field(repr=False)
    approved_count: int = 0  # exact: the push button shows it


@dataclass(frozen=True)
class MatchingCount:
    """How many expenses the filters match, counted up to the bulk limit + 1."""

    count: int
    cap: int

    @property
    def capped(self) -> bool:
        return self.count > self.cap


@dataclass
class TrackingGroup:
    name: str
    options: list[TrackingCategory]


@dataclass(frozen=True)
class CodingChoices:
    """What a row may be coded with: active records only, accounts per transaction type.
    Shared by the requests of a process (see `coding_choices`): read it, never change it."""

    accounts: list[LedgerAccount]
    accounts_by_type: dict[str, list[LedgerAccount]]
    tax_rates: list[TaxRate]
    tracking_groups: list[TrackingGroup]
    # Tax rates valid for each transaction type (a rate that names no types suits them all).
    tax_rates_by_type: dict[str, list[TaxRate]] = field(default_factory=dict)
    suppliers: list[Supplier] = field(default_factory=list)

    # Escaped <option>s of its record lists, filled by the rows' renders (expenses.rows).
    options_html: dict[tuple[int, bool], tuple[Any, str]] = field(
        default_factory=dict, compare=False, repr=False
    )

    @functools.cached_property
    def bulk_options(self) -> dict[str, Any]:
        """The bulk bar's <option>s: every account, every tax rate, each tracking group's."""
        return {
            "accounts": mark_safe(options_html(self.accounts)),  # noqa: S308 - escaped
            "tax_rates": mark_safe(options_html(self.tax_rates)),  # noqa: S308 - escaped
            "suppliers": mark_safe(  # noqa: S308 - escaped
                options_html(self.suppliers, label=supplier_label)
            ),
            "tracking_groups": [
                (group.name, mark_safe(options_html(group.options, by_name=True)))  # noqa: S308
                for group in self.tracking_groups
            ],
        }

    @functools.cached_property
    def accounts_by_id(self) -> dict[int, LedgerAccount]:
        return {account.pk: account for account in self.accounts}

    def account_options(
        self, transaction_type: str, card_account_id: int | None
    ) -> list[LedgerAccount]:
        """The accounts a row of `transaction_type` offers: a transfer never offers the card's
        own account. The same list object is returned for the same arguments, so a page
        escapes its options once."""
        options = self.accounts_by_type.get(transaction_type, _NO_ACCOUNTS)
        if transaction_type not in TRANSFER_TYPES or card_account_id is None:
            return options
        key = (transaction_type, card_account_id)
        if key not in self._without_card:
            self._without_card[key] = [a for a in options if a.pk != card_account_id]
        return self._without_card[key]

    _without_card: dict[tuple[str, int], list[LedgerAccount]] = field(
        default_factory=dict, compare=False, repr=False
    )

    @functools.cached_property
    def tax_rates_by_id(self) -> dict[int, TaxRate]:
        return {rate.pk: rate for rate in self.tax_rates}

    @functools.cached_property
    def tracking_by_id(self) -> dict[int, TrackingCategory]:
        return {c.pk: c for group in self.tracking_groups for c in group.options}


# Per process, keyed by the company and its master data version, which every write of its
# records renews in the same transaction: a refresh or an edit is seen by the next request.
_CODING_CHOICES: VersionedMemo[tuple[int, uuid.UUID, str], CodingChoices] = VersionedMemo(size=256)


def coding_choices(*, company: Company) -> CodingChoices:
    """The company's coding choices as of the master data version `company` was read with.
    Every page and inline action of the queue offers them, and the records change only when
    the master data does, so they are read once per version, not three queries a request."""
    return _CODING_CHOICES.get_or_compute(
        (company.pk, company.master_data_version, company.expenses_api),
        lambda: _read_coding_choices(company),
    )


def _read_coding_choices(company: Company) -> CodingChoices:
    accounts = list(
        LedgerAccount.objects.filter(company=company).usable().order_by("nominal_code", "name")
    )
    # Offered by what validation takes in the company's generation (`validFor` in the newer).
    by_type = {
        t.value: [a for a in accounts if a.accepts(t.value, company.expenses_api)]
        for t in TransactionType
    }
    categories = list(
        TrackingCategory.objects.filter(company=company)
        .usable()
        .select_related("parent")
        .order_by("name")
    )
    groups: dict[str, list[TrackingCategory]] = defaultdict(list)
    for category in categories:
        if category.has_children:
            continue
        groups[category.parent.name if category.parent else "Tracking"].append(category)
    tax_rates = list(TaxRate.objects.filter(company=company).usable().order_by("name"))
    return CodingChoices(
        accounts=accounts,
        accounts_by_type=by_type,
        tax_rates=tax_rates,
        tracking_groups=[TrackingGroup(name, options) for name, options in sorted(groups.items())],
        tax_rates_by_type={
            t.value: [r for r in tax_rates if r.accepts(t.value)] for t in TransactionType
        },
        suppliers=list(Supplier.objects.filter(company=company).usable().order_by("name")),
    )


def _row_expenses(qs: QuerySet[Expense], choices: CodingChoices) -> list[Expense]:
    """The expenses of `qs` with what a queue row shows besides them: supplier override,
    receipt flag, lines with their coding. Two queries, assembled here (prefetching builds a
    related manager and a filtered queryset per expense and per line, for up to 200 rows a
    page): the expenses, then their lines joined to their tracking links. The records the
    lines point at are the choices' own (read once per master data version); only records no
    longer offered, and supplier overrides, are read, in one query of their kind."""
    expenses: list[Expense] = list(
        qs.annotate(has_receipt=Exists(Receipt.objects.filter(expense=OuterRef("pk"))))
    )
    if not expenses:
        return expenses
    _attach(expenses, "supplier_override", Supplier, {})
    lines_of: dict[uuid.UUID, list[ExpenseLine]] = {e.pk: [] for e in expenses}
    tracking_ids: dict[int, list[int]] = defaultdict(list)
    # A line with several tracking categories comes once per category; the first one counts.
    lines: dict[int, ExpenseLine] = {}
    for row in (
        ExpenseLine.objects.filter(expense_id__in=list(lines_of))
        .annotate(tracking_id=F("tracking_categories"))
        .order_by("position")
    ):
        line = lines.setdefault(row.pk, row)
        if line is row:
            lines_of[line.expense_id].append(line)
        if row.tracking_id is not None:
            tracking_ids[line.pk].append(row.tracking_id)
    read = list(lines.values())
    _attach(read, "account", LedgerAccount, choices.accounts_by_id)
    _attach(read, "tax_rate", TaxRate, choices.tax_rates_by_id)
    categories = _records(
        TrackingCategory.objects.select_related("parent"),
        {i for ids in tracking_ids.values() for i in ids},
        choices.tracking_by_id,
    )
    tracked = {
        line_id: sorted((categories[i] for i in ids), key=lambda c: (c.name, c.pk))
        for line_id, ids in tracking_ids.items()
    }
    for expense in expenses:
        expense_lines_keep(expense, lines_of[expense.pk], tracked)
    return expenses


def _records(
    queryset: QuerySet[_M], ids: set[int | None], known: Mapping[int, _M]
) -> dict[int, _M]:
    """The records with these ids: from `known`, the others read in one query."""
    if missing := ids - known.keys() - {None}:
        return {**known, **queryset.in_bulk(list(missing))}
    return dict(known)


def _attach(
    instances: Sequence[Model], name: str, model: type[_M], known: Mapping[int, _M]
) -> None:
    """Give each instance its `name` record, as select_related would have: from `known` by
    id, the others read in one query."""
    if not instances:
        return
    field = instances[0]._meta.get_field(name)
    assert isinstance(field, ForeignKey)
    records = _records(
        model._default_manager.all(), {getattr(i, field.attname) for i in instances}, known
    )
    for instance in instances:
        record_id = getattr(instance, field.attname)
        field.set_cached_value(instance, records[record_id] if record_id is not None else None)


def _filtered(company: Company, filters: QueueFilters) -> QuerySet[Expense]:
    qs = Expense.objects.filter(company=company)
    statuses = TABS.get(filters.tab, TABS["todo"])[1]
    if statuses:
        qs = qs.filter(status__in=statuses)
    if filters.text:
        # Every searched field: one condition the planner can estimate from the index. Each
        # field's own condition beside it made the estimate a single row, and the plan slow.
        qs = qs.filter(searched(filters.text))
    if filters.date_from:
        qs = qs.filter(issue_date__gte=filters.date_from)
    if filters.date_to:
        qs = qs.filter(issue_date__lte=filters.date_to)
    if filters.type:
        qs = qs.filter(type=filters.type)
    if filters.amount_min is not None:
        qs = qs.filter(amount__gte=filters.amount_min)
    if filters.amount_max is not None:
        qs = qs.filter(amount__lte=filters.amount_max)
    if filters.currency:
        qs = qs.filter(currency=filters.currency)
    if filters.has_receipt is not None:
        receipts = Exists(Receipt.objects.filter(expense=OuterRef("pk")))
        qs = qs.filter(receipts if filters.has_receipt else ~receipts)
    if filters.person:
        qs = qs.filter(searched(filters.person, "employee_name", "card_label"))
    return qs


def encode_cursor(expense: Expense, sort: str) -> str:
    key = expense.amount if sort in ("largest", "smallest") else expense.issue_date
    return base64.urlsafe_b64encode(f"{key}|{expense.pk}".encode()).decode().rstrip("=")


def _cursor_amount(text: str) -> Decimal:
    """The amount of a cursor, only if the amount column could hold it: `Decimal` also reads
    NaN, Infinity and 1E+999999, which the database cannot compare with (an error, not a page).
    `copy_abs`, not `abs`: it takes no context, so a huge exponent cannot overflow."""
    amount = Decimal(text)
    field = Expense._meta.get_field("amount")
    assert isinstance(field, DecimalField)
    if not amount.is_finite() or amount.copy_abs() >= Decimal(10) ** (
        field.max_digits - field.decimal_places
    ):
        raise ValueError(f"{text!r} is no amount")
    return amount


def _after(qs: QuerySet[Expense], sort: str, cursor: str) -> QuerySet[Expense]:
    """Rows after the cursor in the sort order (keyset paging: no OFFSET, however deep)."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        key_text, id_text = raw.split("|", 1)
        last_id = uuid.UUID(id_text)
        key: date | Decimal
        if sort in ("largest", "smallest"):
            key = _cursor_amount(key_text)
        else:
            key = date.fromisoformat(key_text)
    except (ValueError, binascii.Error, InvalidOperation, UnicodeDecodeError):
        return qs  # a mangled cursor shows the first page rather than an error
    return _after_key(qs, sort, key, last_id)


def _after_key(
    qs: QuerySet[Expense], sort: str, key: date | Decimal, last_id: uuid.UUID
) -> QuerySet[Expense]:
    name = "amount" if sort in ("largest", "smallest") else "issue_date"
    descending = SORTS[sort][0].startswith("-")
    op = "lt" if descending else "gt"
    return qs.filter(Q(**{f"{name}__{op}": key}) | Q(**{name: key, f"id__{op}": last_id}))


def expense_queue(
    *, company: Company, filters: QueueFilters, page_size: int = PAGE_SIZE
) -> QueuePage:
    """One page of the company's queue, its tab counts and the coding choices, in a fixed
    number of queries whatever the page size."""
    sort = filters.sort if filters.sort in SORTS else "newest"
    qs = _filtered(company, filters)
    if filters.after:
        qs = _after(qs, sort, filters.after)
    page_size = filters.per_page
    # One query for the page: the row annotations are computed for the rows shown only.
    choices = coding_choices(company=company)
    page = _row_expenses(qs.order_by(*SORTS[sort])[: page_size + 1], choices)
    has_more = len(page) > page_size
    page = page[:page_size]
    ctx = company_context(company=company)
    suggestions = expense_suggestions(company=company, expenses=page, choices=choices)
    rows = [_row(expense, ctx, choices, suggestions.get(expense.pk)) for expense in page]
    next_cursor = encode_cursor(rows[-1].expense, sort) if has_more and rows else ""
    tabs, approved = queue_counts(company=company)
    return QueuePage(
        rows=rows,
        next_cursor=next_cursor,
        tabs=tabs,
        context=ctx,
        filters=filters,
        choices=choices,
        approved_count=approved,
    )


def queue_counts(*, company: Company) -> tuple[list[TabCount], int]:
    """Each tab's size, counted only up to COUNT_CAP + 1 so a huge tab stays cheap, and the
    exact number of approved expenses (the push button's), in one query."""
    counted = [(statuses, COUNT_CAP) for _, statuses in TABS.values()]
    *counts, approved = fast_sql.expense_counts_by_statuses(
        company_id=company.pk, counted=[*counted, ((_S.APPROVED,), None)]
    )
    tabs = [
        TabCount(key, label, count, COUNT_CAP)
        for (key, (label, _)), count in zip(TABS.items(), counts, strict=True)
    ]
    return tabs, approved


def queue_matching_count(*, company: Company, filters: QueueFilters) -> MatchingCount:
    """What "select all matching" would act on. Asked for only when the bulk bar opens: with a
    text filter it reads every match, which a page view should not pay for."""
    matching = _filtered(company, filters).order_by()[: BULK_LIMIT + 1].count()
    return MatchingCount(matching, BULK_LIMIT)


def queue_matching_ids(*, company: Company, filters: QueueFilters, limit: int) -> list[uuid.UUID]:
    """The ids a "select all matching" bulk action works on, up to `limit`."""
    return list(
        _filtered(company, filters).order_by(*SORTS["newest"]).values_list("id", flat=True)[:limit]
    )


# --- Export -----------------------------------------------------------------------------------

EXPENSE_EXPORT_COLUMNS = (
    "Date",
    "Merchant",
    "Type",
    "Amount",
    "Currency",
    "Currency rate",
    "Status",
    "Accounts",
    "Tax rates",
    "Tracking",
    "Employee",
    "Card",
    "Notes",
    "External id",
    "Codat transaction id",
    "Failure message",
)
_EXPORTED_FIELDS = (
    "id",
    "issue_date",
    "merchant_name",
    "type",
    "amount",
    "currency",
    "currency_rate",
    "status",
    "employee_name",
    "card_label",
    "notes",
    "external_id",
    "failure_message",
)
# Expenses read a page at a time along the sort's index: three queries a page, however many.
EXPORT_PAGE = 1_000


def queue_export_rows(*, company: Company, filters: QueueFilters) -> Iterator[list[Any]]:
    """Every expense of the queue's tab and filters, in its sort order, as export rows
    (`EXPENSE_EXPORT_COLUMNS`); read as they are consumed."""
    sort = filters.sort if filters.sort in SORTS else "newest"
    return expenses_export_rows(expenses=_filtered(company, filters), sort=sort)


def expenses_export_rows(
    *, expenses: QuerySet[Expense], sort: str = "newest", page_size: int = EXPORT_PAGE
) -> Iterator[list[Any]]:
    """The expenses of `expenses` as export rows, read a keyset page at a time (no OFFSET, no
    open cursor between pages): memory holds one page, whatever the number of rows."""
    qs = expenses.order_by(*SORTS[sort]).values(*_EXPORTED_FIELDS)
    key_name = "amount" if sort in ("largest", "smallest") else "issue_date"
    page = list(qs[:page_size])
    while page:
        yield from _export_page(page)
        if len(page) < page_size:
            return
        last = page[-1]
        page = list(_after_key(qs, sort, last[key_name], last["id"])[:page_size])


def _export_page(page: list[dict[str, Any]]) -> Iterator[list[Any]]:
    ids = [row["id"] for row in page]
    accounts: dict[uuid.UUID, list[str]] = defaultdict(list)
    tax_rates: dict[uuid.UUID, list[str]] = defaultdict(list)
    for expense_id, code, account, tax_rate in (
        ExpenseLine.objects.filter(expense_id__in=ids)
        .order_by("expense_id", "position")
        .values_list("expense_id", "account__nominal_code", "account__name", "tax_rate__name")
    ):
        if account is not None:
            accounts[expense_id].append(f"{code} {account}" if code else account)
        if tax_rate is not None:
            tax_rates[expense_id].append(tax_rate)
    tracking: dict[uuid.UUID, list[str]] = defaultdict(list)
    links = ExpenseLine.tracking_categories.through.objects.filter(expenseline__expense_id__in=ids)
    for expense_id, name, parent in links.order_by(
        "expenseline__position", "trackingcategory__name"
    ).values_list(
        "expenseline__expense_id", "trackingcategory__name", "trackingcategory__parent__name"
    ):
        label = f"{parent}: {name}" if parent else name
        if label not in tracking[expense_id]:
            tracking[expense_id].append(label)
    status_label = dict(ExpenseStatus.choices)
    for row in page:
        pk = row["id"]
        yield [
            row["issue_date"],
            row["merchant_name"],
            row["type"],
            to_precision(row["amount"], row["currency"]),
            row["currency"],
            row["currency_rate"],
            status_label.get(row["status"], row["status"]),
            "; ".join(_unique(accounts[pk])),
            "; ".join(_unique(tax_rates[pk])),
            "; ".join(tracking[pk]),
            row["employee_name"],
            row["card_label"],
            row["notes"],
            row["external_id"],
            pk,
            row["failure_message"],
        ]


def _unique(values: list[str]) -> list[str]:
    return list(dict.fromkeys(values))


# One list for every row of a type no account accepts: the rows' option HTML is kept per
# record list for as long as the choices live (expenses.rows), so the list must not be new.
_NO_ACCOUNTS: list[LedgerAccount] = []
_NO_TAX_RATES: list[TaxRate] = []


def _row(
    expense: Expense,
    ctx: CompanyContext,
    choices: CodingChoices,
    suggestion: Suggestion | None = None,
) -> QueueRow:
    lines = related(expense, "lines")
    first = lines[0] if lines else None
    options = choices.account_options(expense.type, ctx.bank_account_id)
    tax_options = choices.tax_rates_by_type.get(expense.type, _NO_TAX_RATES)
    return QueueRow(
        expense=expense,
        lines=lines,
        problems=expense_problems(expense, lines, ctx),
        has_receipt=bool(getattr(expense, "has_receipt", False)),
        account_options=options,
        tax_options=tax_options,
        suggestion=suggestion,
        tracking_ids=frozenset(c.pk for c in related(first, "tracking_categories"))
        if first
        else frozenset(),
        account_not_offered=bool(
            first
            and first.account_id is not None
            and first.account_id not in {a.pk for a in options}
        ),
        tax_rate_not_offered=bool(
            first
            and first.tax_rate_id is not None
            and first.tax_rate_id not in {r.pk for r in tax_options}
        ),
    )


def expense_of_company(
    *, company: Company, expense_id: uuid.UUID, for_row: bool = False
) -> Expense | None:
    """The company's expense with that id (None for another company's or none); `for_row`:
    with whether it has a receipt, which the row an inline action answers with shows."""
    found = Expense.objects.select_related("supplier_override")
    if for_row:
        found = found.annotate(has_receipt=Exists(Receipt.objects.filter(expense=OuterRef("pk"))))
    return found.filter(company=company, pk=expense_id).first()


def queue_row(
    *,
    company: Company,
    expense_id: uuid.UUID,
    choices: CodingChoices,
    expense: Expense | None = None,
) -> QueueRow:
    """One row, for the row partial: re-read after a change, or `expense` as the service that
    just changed it left it (with the lines it kept)."""
    if expense is None or not has_related(expense, "lines"):
        found = _row_expenses(Expense.objects.filter(company=company, pk=expense_id), choices)
        if not found:
            raise Expense.DoesNotExist(expense_id)
        expense = found[0]
    elif not hasattr(expense, "has_receipt"):
        expense.has_receipt = Receipt.objects.filter(expense=expense).exists()  # type: ignore[attr-defined]
    suggestion = expense_suggestions(company=company, expenses=[expense], choices=choices)
    return _row(expense, company_context(company=company), choices, suggestion.get(expense.pk))
