"""Writes and workflows on expenses: status changes, coding, approval, rules and ingest.

Every status change goes through `expense_transition`; every change of coding records an
`ExpenseEvent`; readiness is recomputed from `expenses.validation` after each change.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, cast

from django.contrib.auth.models import User
from django.db import connection, models, transaction
from django.utils import timezone

from companies.models import Company, LedgerAccount, Supplier, TaxRate, TrackingCategory
from companies.platforms import ContactKind
from expenses.models import (
    EDITABLE_STATUSES,
    EXPENSE_TRANSITIONS,
    CategorizationRule,
    EventKind,
    Expense,
    ExpenseEvent,
    ExpenseLine,
    ExpenseStatus,
    RuleMatch,
    acted_as_staff,
)
from expenses.validation import CompanyContext, Problem, company_context, expense_problems
from sfe_portal.db import id_array
from sfe_portal.prefetch import forget_related, has_related, keep_related, related
from sfe_portal.transitions import StaleState, check_transition

_APPROVAL_KEPT = frozenset(
    {
        ExpenseStatus.APPROVED,
        ExpenseStatus.PUSHING,
        ExpenseStatus.SYNCING,
        ExpenseStatus.SYNCED,
        ExpenseStatus.FAILED,
    }
)
CENT = Decimal("0.01")


class ExpenseRefused(Exception):
    """A change the rules refuse; `problems` say which field and what to do."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = list(problems)
        super().__init__(" ".join(str(p) for p in self.problems))


@contextmanager
def _refused_if_changed_meanwhile() -> Iterator[None]:
    """Two people acting on one row at once (both approving, one coding while the other
    approves): the second gets a refusal that says so, not an error page. The conditional
    update wrote nothing, and the service's transaction rolls back the rest."""
    try:
        yield
    except StaleState as stale:
        raise ExpenseRefused(
            [
                Problem(
                    "status",
                    "Someone else changed this expense a moment ago.",
                    "The row now shows where it stands; look at it again before changing it.",
                )
            ]
        ) from stale


# The private bodies (`_transition`, `_lines_replace`, `_set_lines`) are what services call
# within their own transaction; each public name is the same body in an atomic block. A public
# service is the one atomic block (the savepoint a bulk action rolls back to when it catches a
# refusal); the steps inside it add none of their own, which cost two round trips each.


def _transition(
    *,
    expense: Expense,
    to: ExpenseStatus,
    by: User | None = None,
    message: str = "",
    data: dict[str, Any] | None = None,
) -> Expense:
    """Move `expense` to `to` if the state machine allows it, and record the event.

    The update is conditional on the status we read, so two processes can never both move
    the same expense: the loser gets `StaleState` and nothing is written.
    """
    current = ExpenseStatus(expense.status)
    check_transition("Expense", EXPENSE_TRANSITIONS, current, to)
    now = timezone.now()
    changes: dict[str, Any] = {"status": to, "status_changed_at": now, "updated_at": now}
    if to == ExpenseStatus.APPROVED:
        changes["approved_by"] = by
        changes["approved_at"] = now
    elif to not in _APPROVAL_KEPT:
        changes["approved_by"] = None
        changes["approved_at"] = None
    if to == ExpenseStatus.SYNCED:
        changes["synced_at"] = now
    updated = Expense.objects.filter(pk=expense.pk, status=current).update(**changes)
    if updated != 1:
        raise StaleState("Expense", current)
    for name, value in changes.items():
        setattr(expense, name, value)
    ExpenseEvent.objects.create(
        expense=expense,
        kind=EventKind.STATUS,
        actor=by,
        from_status=current,
        to_status=to,
        message=message,
        data=data or {},
    )
    return expense


# Its own transaction, or a savepoint in the caller's.
expense_transition = transaction.atomic(_transition)


# --- Reading what validation needs ------------------------------------------------------------


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
    tracked: dict[Any, list[TrackingCategory]] | None = None,
) -> None:
    """Keep `lines` as the expense's lines (sfe_portal.prefetch), each with its tracking categories
    (from `tracked` by line id, else read here in one query)."""
    if tracked is None:
        tracked = lines_tracking([line.pk for line in lines])
    for line in lines:
        keep_related(line, "tracking_categories", tracked.get(line.pk, []))
    keep_related(expense, "lines", lines)


def lines_tracking(line_ids: Sequence[Any]) -> dict[Any, list[TrackingCategory]]:
    """The tracking categories of each of the lines, by line id, in name order."""
    tracked: dict[Any, list[TrackingCategory]] = {}
    if not line_ids:
        return tracked
    links = (
        ExpenseLine.tracking_categories.through.objects.filter(
            expenseline_id__any_of=list(line_ids)
        )
        .select_related("trackingcategory")
        .order_by("trackingcategory__name", "trackingcategory_id")
    )
    for link in links:
        tracked.setdefault(link.expenseline_id, []).append(link.trackingcategory)
    return tracked


def expense_readiness(expense: Expense, ctx: CompanyContext | None = None) -> list[Problem]:
    return expense_problems(
        expense, expense_lines(expense), ctx or company_context(company=expense.company)
    )


# --- Readiness --------------------------------------------------------------------------------


def _readiness_target(
    status: str, problems: list[Problem], *, edited: bool
) -> ExpenseStatus | None:
    """Where an expense goes after its coding was (re)checked; None means it stays."""
    if status == ExpenseStatus.UNCATEGORIZED:
        return None if problems else ExpenseStatus.CATEGORIZED
    if status == ExpenseStatus.CATEGORIZED:
        return ExpenseStatus.UNCATEGORIZED if problems else None
    if status == ExpenseStatus.APPROVED:
        if problems:
            return ExpenseStatus.UNCATEGORIZED
        return ExpenseStatus.CATEGORIZED if edited else None  # an edit needs a new approval
    if status == ExpenseStatus.FAILED and edited:
        return ExpenseStatus.UNCATEGORIZED if problems else ExpenseStatus.CATEGORIZED
    return None


def expense_refresh_readiness(
    *,
    expense: Expense,
    by: User | None = None,
    ctx: CompanyContext | None = None,
    edited: bool = False,
) -> list[Problem]:
    """Recheck the expense and move it between To categorize and Ready as its problems say."""
    problems = expense_readiness(expense, ctx)
    reason = str(problems[0]) if problems else ""
    target = _readiness_target(expense.status, problems, edited=edited)
    if target is not None:
        message = "Needs recoding: " + reason if problems else "Coding complete"
        _transition(expense=expense, to=target, by=by, message=message[:1000])
    if expense.needs_recoding_reason != reason[:500]:
        expense.needs_recoding_reason = reason[:500]
        Expense.objects.filter(pk=expense.pk).update(
            needs_recoding_reason=expense.needs_recoding_reason
        )
    return problems


# --- Coding -----------------------------------------------------------------------------------


class _Unset:
    pass


UNSET: Any = _Unset()


@dataclass
class LineInput:
    net_amount: Decimal
    tax_amount: Decimal = Decimal(0)
    account: LedgerAccount | None = None
    tax_rate: TaxRate | None = None
    tracking: list[TrackingCategory] = field(default_factory=list)
    description: str = ""


def _ensure_editable(expense: Expense) -> None:
    if expense.status not in EDITABLE_STATUSES:
        raise ExpenseRefused(
            [
                Problem(
                    "status",
                    f"The expense is {expense.get_status_display().lower()} and cannot be "
                    "changed here.",
                    "Wait for the sync to finish; a synced expense is corrected through an update.",
                )
            ]
        )


def _ensure_same_company(expense: Expense, records: Iterable[Any], field_name: str) -> None:
    for record in records:
        if record is not None and record.company_id != expense.company_id:
            raise ExpenseRefused(
                [
                    Problem(
                        field_name,
                        f"'{record}' belongs to another company.",
                        "Choose from this company's own records.",
                    )
                ]
            )


def split_gross(gross: Decimal, tax_rate: TaxRate | None) -> tuple[Decimal, Decimal]:
    """Net and tax of a tax-inclusive card amount at the rate's effective percentage."""
    rate = tax_rate.effective_rate if tax_rate else Decimal(0)
    tax = (gross * rate / (Decimal(100) + rate)).quantize(CENT, rounding=ROUND_HALF_UP)
    return gross - tax, tax


def _tracking_of(owner: ExpenseLine | CategorizationRule) -> list[TrackingCategory]:
    return related(owner, "tracking_categories")


def _describe_lines(lines: Iterable[ExpenseLine]) -> list[dict[str, Any]]:
    return [
        {
            "net": str(line.net_amount),
            "tax": str(line.tax_amount),
            "account": line.account.codat_id if line.account else None,
            "tax_rate": line.tax_rate.codat_id if line.tax_rate else None,
            "tracking": sorted(c.codat_id for c in related(line, "tracking_categories")),
        }
        for line in lines
    ]


@transaction.atomic
def expense_set_lines(
    *, expense: Expense, lines: Sequence[LineInput], by: User | None, source: str = "split"
) -> list[Problem]:
    """Replace the expense's lines (split, or coding of a whole expense) and recheck it."""
    return _set_lines(expense=expense, lines=lines, by=by, source=source)


def _set_lines(
    *, expense: Expense, lines: Sequence[LineInput], by: User | None, source: str
) -> list[Problem]:
    _ensure_editable(expense)
    before = _describe_lines(expense_lines(expense))
    _lines_replace(expense=expense, lines=lines)
    after = _describe_lines(expense_lines(expense))  # the new lines, kept: the recheck reads them
    if before != after:
        ExpenseEvent.objects.create(
            expense=expense,
            kind=EventKind.CODED,
            actor=by,
            message=f"Coding changed ({source})",
            data={"before": before, "after": after},
        )
    with _refused_if_changed_meanwhile():
        return expense_refresh_readiness(expense=expense, by=by, edited=before != after)


def _delete_lines(expense: Expense) -> None:
    """Two statements, instead of the ORM's delete, which first reads the lines to collect
    their tracking links (nothing else refers to a line)."""
    line = ExpenseLine._meta.db_table
    through = ExpenseLine.tracking_categories.through._meta.db_table
    expense_id = Expense._meta.pk.get_db_prep_value(expense.pk, connection)
    with connection.cursor() as cursor:
        cursor.execute(
            f"DELETE FROM {through} WHERE expenseline_id IN "  # noqa: S608 - model table names
            f"(SELECT id FROM {line} WHERE expense_id = %s)",
            [expense_id],
        )
        cursor.execute(f"DELETE FROM {line} WHERE expense_id = %s", [expense_id])  # noqa: S608


_REFRESHED_FIELDS = [
    f.attname
    for f in Expense._meta.concrete_fields
    if f.name not in ("id", "company", "supplier_override")
]


@transaction.atomic
def expense_lines_replace(*, expense: Expense, lines: Sequence[LineInput]) -> None:
    """Replace the lines as given: no status rules (callers decide), same-company refs only.
    The new lines are kept on the expense (sfe_portal.prefetch)."""
    _lines_replace(expense=expense, lines=lines)


def _lines_replace(*, expense: Expense, lines: Sequence[LineInput]) -> None:
    for line in lines:
        _ensure_same_company(expense, [line.account, line.tax_rate, *line.tracking], "lines")
    # Two people coding one row at once take turns here: without the row lock both would
    # delete the old lines and insert position 0, and the second would fail on the constraint.
    # The locked read is also the row as it is now (someone may have changed its status while
    # we waited), keeping the related rows already read: coding changes neither company nor
    # supplier, and nobody else can change the row until this transaction ends.
    locked = Expense.objects.select_for_update().values_list(*_REFRESHED_FIELDS).get(pk=expense.pk)
    for name, value in zip(_REFRESHED_FIELDS, locked, strict=True):
        setattr(expense, name, value)
    _delete_lines(expense)
    created = ExpenseLine.objects.bulk_create(
        ExpenseLine(
            expense=expense,
            position=position,
            description=line.description,
            net_amount=line.net_amount,
            tax_amount=line.tax_amount,
            account=line.account,
            tax_rate=line.tax_rate,
        )
        for position, line in enumerate(lines)
    )
    through = ExpenseLine.tracking_categories.through
    through.objects.bulk_create(
        through(expenseline_id=row.pk, trackingcategory_id=category.pk)
        for row, line in zip(created, lines, strict=True)
        for category in line.tracking
    )
    forget_related(expense, "lines")  # a prefetch of the old lines is stale now
    # What was just written, as a read would return it (with its records and tracking).
    expense_lines_keep(
        expense,
        created,
        {
            row.pk: sorted(line.tracking, key=lambda c: (c.name, c.pk))
            for row, line in zip(created, lines, strict=True)
        },
    )


@transaction.atomic
def expense_set_coding(
    *,
    expense: Expense,
    by: User | None,
    account: LedgerAccount | None = UNSET,
    tax_rate: TaxRate | None = UNSET,
    tracking: list[TrackingCategory] = UNSET,
    source: str = "inline",
) -> list[Problem]:
    """Apply one account / tax rate / tracking to every line (the queue's inline coding).

    An expense without lines gets one line for its whole amount. A new tax rate re-splits each
    line's gross amount into net and tax at that rate.
    """
    current = expense_lines(expense)
    if not current:
        current = [ExpenseLine(expense=expense, net_amount=expense.amount, tax_amount=Decimal(0))]
    inputs = []
    for line in current:
        line_tracking = _tracking_of(line) if line.pk else []
        new_tax = line.tax_rate if tax_rate is UNSET else tax_rate
        net, tax = line.net_amount, line.tax_amount
        if (tax_rate is not UNSET and new_tax != line.tax_rate) or not line.pk:
            net, tax = split_gross(line.net_amount + line.tax_amount, new_tax)
        inputs.append(
            LineInput(
                net_amount=net,
                tax_amount=tax,
                account=line.account if account is UNSET else account,
                tax_rate=new_tax,
                tracking=line_tracking if tracking is UNSET else list(tracking),
                description=line.description,
            )
        )
    return _set_lines(expense=expense, lines=inputs, by=by, source=source)


@transaction.atomic
def expense_update_details(
    *,
    expense: Expense,
    by: User | None,
    notes: str,
    currency_rate: Decimal | None,
    supplier_override: Supplier | None,
) -> list[Problem]:
    """Change the notes, the currency rate and the supplier override; record what changed.

    Saving the form with the rate on it is the check a flagged rate waits for
    (`currency_rate_to_check`), so the flag is cleared and the confirmation recorded."""
    _ensure_editable(expense)
    _ensure_same_company(expense, [supplier_override], "supplier_override")
    before = {
        "notes": expense.notes,
        "currency_rate": str(expense.currency_rate) if expense.currency_rate is not None else None,
        "supplier_override": expense.supplier_override.name if expense.supplier_override else None,
    }
    expense.notes = notes
    expense.currency_rate = currency_rate
    expense.supplier_override = supplier_override
    after = {
        "notes": notes,
        "currency_rate": str(currency_rate) if currency_rate is not None else None,
        "supplier_override": supplier_override.name if supplier_override else None,
    }
    rate_checked = bool(expense.currency_rate_to_check)
    if rate_checked:
        before["currency_rate_to_check"] = expense.currency_rate_to_check
        after["currency_rate_to_check"] = ""
        expense.currency_rate_to_check = ""
    if before == after:
        return expense_readiness(expense)
    expense.save(
        update_fields=[
            "notes",
            "currency_rate",
            "currency_rate_to_check",
            "supplier_override",
            "updated_at",
        ]
    )
    changed = sorted(
        name for name in after if before[name] != after[name] and name != "currency_rate_to_check"
    )
    message = "Changed " + ", ".join(name.replace("_", " ") for name in changed) if changed else ""
    if rate_checked:
        message = "; ".join(filter(None, [message, "Currency rate checked"]))
    ExpenseEvent.objects.create(
        expense=expense,
        kind=EventKind.CODED,
        actor=by,
        message=message,
        data={"before": before, "after": after},
    )
    return expense_refresh_readiness(expense=expense, by=by, edited=True)


@transaction.atomic
def expense_set_supplier(
    *, expense: Expense, supplier: Supplier | None, by: User | None
) -> list[Problem]:
    """Set (or with None, remove) the supplier the expense is recorded against, where the
    platform takes a supplier per transaction for this type; refused with the reason where not."""
    _ensure_editable(expense)
    _ensure_same_company(expense, [supplier], "supplier_override")
    if supplier is not None:
        ctx = company_context(company=expense.company)
        if not ctx.rules.supplier_per_transaction:
            raise ExpenseRefused(
                [
                    Problem(
                        "supplier_override",
                        f"{ctx.platform_label} cannot take a supplier per transaction.",
                        "Leave the supplier to the company's default.",
                    )
                ]
            )
        if ctx.rules.contact_for(expense.type) != ContactKind.SUPPLIER:
            raise ExpenseRefused(
                [
                    Problem(
                        "supplier_override",
                        f"{ctx.platform_label} records {expense.get_type_display()} "
                        "transactions against the default customer, not a supplier.",
                        "Leave this expense out of the selection.",
                    )
                ]
            )
    return expense_update_details(
        expense=expense,
        by=by,
        notes=expense.notes,
        currency_rate=expense.currency_rate,
        supplier_override=supplier,
    )


# --- Approval and exclusion -------------------------------------------------------------------


@transaction.atomic
def expense_approve(*, expense: Expense, by: User) -> Expense:
    """Approve a ready expense for pushing. Refused with the reasons while anything is wrong."""
    problems = expense_readiness(expense)
    if problems:
        raise ExpenseRefused(problems)
    if expense.status == ExpenseStatus.APPROVED:
        return expense
    if expense.status == ExpenseStatus.UNCATEGORIZED:
        with _refused_if_changed_meanwhile():
            expense_transition(
                expense=expense, to=ExpenseStatus.CATEGORIZED, by=by, message="Coding complete"
            )
    if expense.status not in (ExpenseStatus.CATEGORIZED, ExpenseStatus.FAILED):
        raise ExpenseRefused(
            [
                Problem(
                    "status",
                    f"An expense that is {expense.get_status_display().lower()} cannot be "
                    "approved.",
                    "Only expenses ready to approve (or failed and fixed) can be approved.",
                )
            ]
        )
    with _refused_if_changed_meanwhile():
        return expense_transition(
            expense=expense, to=ExpenseStatus.APPROVED, by=by, message="Approved"
        )


@transaction.atomic
def expense_unapprove(*, expense: Expense, by: User) -> Expense:
    return expense_transition(
        expense=expense, to=ExpenseStatus.CATEGORIZED, by=by, message="Approval withdrawn"
    )


@transaction.atomic
def expense_exclude(*, expense: Expense, by: User, reason: str = "") -> Expense:
    """Keep an expense out of the ledger (personal spend, duplicates, unsupported types)."""
    return expense_transition(
        expense=expense, to=ExpenseStatus.EXCLUDED, by=by, message=reason or "Excluded"
    )


@transaction.atomic
def expense_restore(*, expense: Expense, by: User) -> Expense:
    """Bring an excluded expense back to the queue, ready or not as its coding says."""
    problems = expense_readiness(expense)
    target = ExpenseStatus.UNCATEGORIZED if problems else ExpenseStatus.CATEGORIZED
    return expense_transition(expense=expense, to=target, by=by, message="Restored")


# --- Rules ------------------------------------------------------------------------------------


def rule_matches(rule: CategorizationRule, expense: Expense) -> bool:
    merchant = expense.merchant_name.casefold().strip()
    pattern = rule.pattern.casefold().strip()
    if rule.match == RuleMatch.EQUALS and merchant != pattern:
        return False
    if rule.match == RuleMatch.CONTAINS and pattern not in merchant:
        return False
    if rule.transaction_type and rule.transaction_type != expense.type:
        return False
    if rule.min_amount is not None and expense.amount < rule.min_amount:
        return False
    return rule.max_amount is None or expense.amount <= rule.max_amount


def rules_for_company(*, company: Company) -> list[CategorizationRule]:
    """Active rules in precedence order: lowest priority number first, then oldest first."""
    return list(
        CategorizationRule.objects.filter(company=company, is_active=True)
        .select_related("account", "tax_rate")
        .prefetch_related("tracking_categories")
        .order_by("priority", "id")
    )


def rule_first_match(
    rules: Sequence[CategorizationRule], expense: Expense
) -> CategorizationRule | None:
    return next((rule for rule in rules if rule_matches(rule, expense)), None)


@transaction.atomic
def rules_apply(
    *, expenses: Iterable[Expense], rules: Sequence[CategorizationRule], by: User | None = None
) -> int:
    """Code each uncategorized expense with the first rule that matches it; returns how many."""
    applied = 0
    for expense in expenses:
        if expense.status != ExpenseStatus.UNCATEGORIZED:
            continue
        rule = rule_first_match(rules, expense)
        if rule is None:
            continue
        expense_set_coding(
            expense=expense,
            by=by,
            account=rule.account,
            tax_rate=rule.tax_rate,
            tracking=_tracking_of(rule),
            source=f"rule #{rule.pk}",
        )
        ExpenseEvent.objects.create(
            expense=expense,
            kind=EventKind.RULE_APPLIED,
            actor=by,
            message=f"Rule '{rule}' applied",
            data={"rule_id": rule.pk},
        )
        applied += 1
    return applied


# --- Bulk actions -----------------------------------------------------------------------------


@dataclass
class BulkOutcome:
    done: int = 0
    refused: list[tuple[Expense, list[Problem]]] = field(default_factory=list)

    def summary(self, verb: str) -> str:
        text = f"{self.done} expense{'s' if self.done != 1 else ''} {verb}."
        if self.refused:
            first, problems = self.refused[0]
            text += (
                f" {len(self.refused)} refused — e.g. {first.merchant_name or first.external_id}: "
                f"{problems[0]}"
            )
        return text


def _bulk_expenses(company: Company, expense_ids: Sequence[Any]) -> list[Expense]:
    from django.db.models import Prefetch

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


def expenses_bulk_code(
    *,
    company: Company,
    expense_ids: Sequence[Any],
    by: User,
    account: LedgerAccount | None = UNSET,
    tax_rate: TaxRate | None = UNSET,
    tracking: list[TrackingCategory] = UNSET,
    supplier: Supplier | None = UNSET,
) -> BulkOutcome:
    """Apply coding (and the supplier, when given) to each expense on its own: one refusal
    never undoes the others."""
    outcome = BulkOutcome()
    for expense in _bulk_expenses(company, expense_ids):
        try:
            with transaction.atomic():
                coding = [value for value in (account, tax_rate, tracking) if value is not UNSET]
                if coding or supplier is UNSET:
                    expense_set_coding(
                        expense=expense,
                        by=by,
                        account=account,
                        tax_rate=tax_rate,
                        tracking=tracking,
                        source="bulk",
                    )
                if supplier is not UNSET:
                    expense_set_supplier(expense=expense, supplier=supplier, by=by)
        except ExpenseRefused as refused:
            outcome.refused.append((expense, refused.problems))
        else:
            outcome.done += 1
    return outcome


def expenses_bulk_approve(*, company: Company, expense_ids: Sequence[Any], by: User) -> BulkOutcome:
    outcome = BulkOutcome()
    for expense in _bulk_expenses(company, expense_ids):
        if expense.status == ExpenseStatus.APPROVED:
            continue
        try:
            expense_approve(expense=expense, by=by)
        except ExpenseRefused as refused:
            outcome.refused.append((expense, refused.problems))
        else:
            outcome.done += 1
    return outcome


def expenses_bulk_exclude(*, company: Company, expense_ids: Sequence[Any], by: User) -> BulkOutcome:
    outcome = BulkOutcome()
    for expense in _bulk_expenses(company, expense_ids):
        if expense.status == ExpenseStatus.EXCLUDED:
            continue
        if (
            expense.status not in EXPENSE_TRANSITIONS
            or ExpenseStatus.EXCLUDED not in EXPENSE_TRANSITIONS[expense.status]
        ):
            outcome.refused.append(
                (
                    expense,
                    [
                        Problem(
                            "status",
                            f"An expense that is {expense.get_status_display().lower()} "
                            "cannot be excluded.",
                            "Only expenses not yet pushed can be excluded.",
                        )
                    ],
                )
            )
            continue
        expense_exclude(expense=expense, by=by)
        outcome.done += 1
    return outcome


# Expenses moved per statement by expenses_bulk_transition.
BULK_CHUNK = 1000


def _status_event_columns(
    *,
    current: ExpenseStatus,
    to: ExpenseStatus,
    by: User | None,
    message: str,
    data: dict[str, Any],
    at: Any,
) -> tuple[str, str, list[Any]]:
    """The event columns (the expense's first), the SELECT list after the expense id and its
    parameters: what every status event of one move shares."""

    def column(model: type[models.Model], name: str) -> models.Field[Any, Any]:
        return cast("models.Field[Any, Any]", model._meta.get_field(name))

    constants: dict[str, Any] = {
        "kind": EventKind.STATUS,
        "actor": by.pk if by is not None else None,
        "as_staff": acted_as_staff(by),
        "from_status": current,
        "to_status": to,
        "message": message,
        "data": data,
        "created_at": at,
    }
    values = [
        column(ExpenseEvent, name).get_db_prep_save(value, connection)
        for name, value in constants.items()
    ]
    # A bare parameter has no type in a SELECT list; PostgreSQL needs to be told it is JSON.
    json_param = "CAST(%s AS jsonb)" if connection.vendor == "postgresql" else "%s"
    placeholders = [json_param if name == "data" else "%s" for name in constants]
    qn = connection.ops.quote_name
    target = ", ".join(qn(column(ExpenseEvent, n).column) for n in ["expense", *constants])
    return target, ", ".join(placeholders), values


def _status_events_insert(
    *,
    expense_ids: Sequence[Any],
    current: ExpenseStatus,
    to: ExpenseStatus,
    by: User | None,
    message: str,
    data: dict[str, Any],
    at: Any,
) -> None:
    """One status event per expense, written by the database from the expense rows
    (INSERT … SELECT): a push moves tens of thousands of expenses three times, and building an
    event object per row was most of the time those moves took."""
    target, placeholders, values = _status_event_columns(
        current=current, to=to, by=by, message=message, data=data, at=at
    )
    qn = connection.ops.quote_name
    pk = Expense._meta.pk
    assert pk is not None
    id_params = [pk.get_db_prep_value(value, connection) for value in expense_ids]
    # Only table and column names from the models are formatted in; every value is a parameter.
    sql = (
        f"INSERT INTO {qn(ExpenseEvent._meta.db_table)} ({target}) "  # noqa: S608
        f"SELECT {qn(pk.column)}, {placeholders} FROM {qn(Expense._meta.db_table)} "
        f"WHERE {qn(pk.column)} IN ({', '.join(['%s'] * len(id_params))})"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*values, *id_params])


def _moved_with_events(
    *,
    expense_ids: Sequence[Any],
    current: ExpenseStatus,
    to: ExpenseStatus,
    changes: dict[str, Any],
    by: User | None,
    message: str,
    data: dict[str, Any],
    at: Any,
) -> list[Any]:
    """PostgreSQL: move the expenses still in `current` and record an event for each that
    moved, in one statement (an UPDATE … RETURNING feeding the events' INSERT); the ids that
    moved. The UPDATE's condition is checked again on a row another transaction changed
    meanwhile, so only rows still in `current` move, as under a prior row lock — without
    locking (writing) each row once more before updating it."""
    qn = connection.ops.quote_name
    meta = Expense._meta
    pk = meta.pk
    assert pk is not None
    fields = {name: cast("models.Field[Any, Any]", meta.get_field(name)) for name in changes}
    sets = ", ".join(f"{qn(field.column)} = %s" for field in fields.values())
    set_params = [
        field.get_db_prep_save(changes[name], connection) for name, field in fields.items()
    ]
    # The ids go as one array: a thousand placeholders cost more to build than to run.
    ids = id_array(pk.get_db_prep_value(value, connection) for value in expense_ids)
    status = qn(cast("models.Field[Any, Any]", meta.get_field("status")).column)
    update_sql = (
        f"UPDATE {qn(meta.db_table)} SET {sets} "  # noqa: S608
        f"WHERE {qn(pk.column)} = ANY(CAST(%s AS {pk.db_type(connection)}[])) AND {status} = %s"
    )
    update_params = [*set_params, ids, str(current)]
    target, placeholders, values = _status_event_columns(
        current=current, to=to, by=by, message=message, data=data, at=at
    )
    expense = qn(ExpenseEvent._meta.get_field("expense").column)
    # Only table and column names from the models are formatted in; every value is a parameter.
    sql = (
        f"WITH moved AS ({update_sql} RETURNING {qn(Expense._meta.db_table)}.{qn(pk.column)}) "  # noqa: S608
        f"INSERT INTO {qn(ExpenseEvent._meta.db_table)} ({target}) "
        f"SELECT {qn(pk.column)}, {placeholders} FROM moved RETURNING {expense}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*update_params, *values])
        return [pk.to_python(row[0]) for row in cursor.fetchall()]


@transaction.atomic
def expenses_bulk_transition(
    *,
    expense_ids: Sequence[Any],
    current: ExpenseStatus,
    to: ExpenseStatus,
    by: User | None = None,
    message: str = "",
    data: dict[str, Any] | None = None,
    extra: dict[str, Any] | None = None,
) -> list[Any]:
    """Move many expenses from `current` to `to` and record each event, a thousand at a time
    (one statement per thousand on PostgreSQL, three elsewhere, so 50,000 ids never make one
    huge statement).

    Only rows still in `current` move (a conditional update, checked again on a row changed
    concurrently), so a concurrent change is never overwritten; the ids that moved are
    returned.
    """
    check_transition("Expense", EXPENSE_TRANSITIONS, current, to)
    now = timezone.now()
    changes: dict[str, Any] = {"status": to, "status_changed_at": now, "updated_at": now}
    if to == ExpenseStatus.SYNCED:
        changes["synced_at"] = now
    elif to not in _APPROVAL_KEPT:
        changes["approved_by"] = None
        changes["approved_at"] = None
    changes.update(extra or {})
    ids = list(expense_ids)
    moved: list[Any] = []
    event_message, event_data = message[:1000], data or {}
    for start in range(0, len(ids), BULK_CHUNK):
        if connection.vendor == "postgresql":
            moved.extend(
                _moved_with_events(
                    expense_ids=ids[start : start + BULK_CHUNK],
                    current=current,
                    to=to,
                    changes=changes,
                    by=by,
                    message=event_message,
                    data=event_data,
                    at=now,
                )
            )
            continue
        locked = Expense.objects.select_for_update().filter(
            pk__in=ids[start : start + BULK_CHUNK], status=current
        )
        chunk = list(locked.values_list("pk", flat=True))
        if not chunk:
            continue
        Expense.objects.filter(pk__in=chunk, status=current).update(**changes)
        _status_events_insert(
            expense_ids=chunk,
            current=current,
            to=to,
            by=by,
            message=event_message,
            data=event_data,
            at=now,
        )
        moved.extend(chunk)
    return moved


@transaction.atomic
def expense_mark_synced(*, expense: Expense, by: User, reason: str) -> Expense:
    """Support's word that a failed expense is already in the ledger (entered by hand, or
    written by an earlier sync Codat's duplicate protection points at). Recorded with why."""
    if not reason.strip():
        raise ExpenseRefused(
            [Problem("reason", "Say why the expense is in the ledger.", "Give the reason.")]
        )
    return expense_transition(
        expense=expense,
        to=ExpenseStatus.SYNCED,
        by=by,
        message=f"Marked as synced by support: {reason.strip()}"[:1000],
    )
