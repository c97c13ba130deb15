"""Merchant rules: which rule codes an expense and coding by it, the rules page's reads, and
the writes that edit, order and run rules.

Precedence is one order everywhere (`rules_for_company`): lower priority numbers first, then
older rules; the first active rule that matches an expense codes it. What a rule "would code
now" is worked out the same way, in Python, over a bounded read of the company's uncategorized
expenses, so the page costs a fixed number of queries however many rules and expenses there are.
"""

from __future__ import annotations

import uuid
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Prefetch

from companies.models import Company, LedgerAccount, TaxRate, TrackingCategory
from companies.platforms import ApiGeneration, TransactionType
from expenses.coding import expense_set_coding
from expenses.models import (
    CategorizationRule,
    EventKind,
    Expense,
    ExpenseEvent,
    ExpenseStatus,
    RuleMatch,
)
from expenses.selectors import expenses_with_lines
from expenses.services import ExpenseRefused
from sfe_portal.prefetch import related
from sfe_portal.transitions import StaleState

# The newest uncategorized expenses the page counts against and a run looks at. Reading only
# four columns of 5,000 rows and matching them in Python stays well under a second; a company
# with a larger backlog sees the bound stated on the page and runs again for the rest.
SCAN_LIMIT = 5_000
# Coding one expense is a handful of writes; a run codes at most this many per click so the
# request ends in seconds. The page says how many are left.
APPLY_BATCH = 500
PRECEDENCE = (
    "Rules are tried top to bottom; the first that matches codes the expense; lower priority "
    "numbers come first, then older rules."
)


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
    return next((rule for rule in rules if rule.matches(expense)), None)


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
            tracking=related(rule, "tracking_categories"),
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


def rule_condition(rule: CategorizationRule) -> str:
    """The rule's condition in plain words."""
    verb = "is" if rule.match == RuleMatch.EQUALS else "contains"
    text = f"Merchant {verb} “{rule.pattern}”"
    if rule.transaction_type:
        text += f", {TransactionType(rule.transaction_type).label} only"
    if rule.min_amount is not None and rule.max_amount is not None:
        text += f", amount from {rule.min_amount:,.2f} to {rule.max_amount:,.2f}"
    elif rule.min_amount is not None:
        text += f", amount at least {rule.min_amount:,.2f}"
    elif rule.max_amount is not None:
        text += f", amount at most {rule.max_amount:,.2f}"
    return text


def rule_coding(rule: CategorizationRule) -> str:
    """What the rule codes with, in plain words."""
    parts = [str(rule.account), str(rule.tax_rate) if rule.tax_rate else "no tax rate"]
    parts += [str(category) for category in rule.tracking_categories.all()]
    return " · ".join(parts)


def rule_stale_records(rule: CategorizationRule) -> list[str]:
    """Records the rule points at that can no longer be used for new coding."""
    records: list[LedgerAccount | TaxRate | TrackingCategory | None] = [
        rule.account,
        rule.tax_rate,
        *rule.tracking_categories.all(),
    ]
    return [f"{r} {r.unusable_reason}" for r in records if r is not None and not r.is_usable]


@dataclass
class RuleRow:
    rule: CategorizationRule
    position: int
    condition: str
    coding: str
    would_code: int  # uncategorized expenses this rule is the first match for, within the scan
    stale: list[str]

    @property
    def batch(self) -> int:
        return min(self.would_code, APPLY_BATCH)


@dataclass
class RulesPage:
    rows: list[RuleRow]
    scanned: int
    scan_capped: bool
    would_code: int
    precedence: str = PRECEDENCE
    scan_limit: int = SCAN_LIMIT
    apply_batch: int = APPLY_BATCH


def _all_rules(company: Company) -> list[CategorizationRule]:
    return list(
        CategorizationRule.objects.filter(company=company)
        .select_related("account", "tax_rate")
        .prefetch_related(
            Prefetch("tracking_categories", TrackingCategory.objects.select_related("parent"))
        )
        .order_by("priority", "id")
    )


def _first_matches(
    company: Company, rules: Sequence[CategorizationRule]
) -> tuple[dict[int, list[uuid.UUID]], int]:
    """For each active rule, the uncategorized expenses it is the first match for (newest
    first), over the newest SCAN_LIMIT + 1 of them; and how many were read."""
    expenses = list(
        Expense.objects.filter(company=company, status=ExpenseStatus.UNCATEGORIZED)
        .only("id", "merchant_name", "type", "amount")
        .order_by("-issue_date", "-id")[: SCAN_LIMIT + 1]
    )
    active = [rule for rule in rules if rule.is_active]
    matches: dict[int, list[uuid.UUID]] = defaultdict(list)
    for expense in expenses[:SCAN_LIMIT]:
        rule = rule_first_match(active, expense)
        if rule is not None:
            matches[rule.pk].append(expense.pk)
    return matches, len(expenses)


def rules_page(*, company: Company) -> RulesPage:
    """Every rule of the company in precedence order, each with what it would code now."""
    rules = _all_rules(company)
    matches, scanned = _first_matches(company, rules)
    rows = [
        RuleRow(
            rule=rule,
            position=position,
            condition=rule_condition(rule),
            coding=rule_coding(rule),
            would_code=len(matches.get(rule.pk, [])),
            stale=rule_stale_records(rule),
        )
        for position, rule in enumerate(rules, start=1)
    ]
    return RulesPage(
        rows=rows,
        scanned=min(scanned, SCAN_LIMIT),
        scan_capped=scanned > SCAN_LIMIT,
        would_code=sum(len(ids) for ids in matches.values()),
    )


# --- Writes -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class RuleInput:
    match: str
    pattern: str
    account: LedgerAccount
    transaction_type: str = ""
    min_amount: Decimal | None = None
    max_amount: Decimal | None = None
    tax_rate: TaxRate | None = None
    tracking: Sequence[TrackingCategory] = ()
    priority: int = 100
    is_active: bool = True


def rule_amount_range_error(low: Decimal | None, high: Decimal | None) -> str:
    """Why the amount range is refused, or "" when it is fine (the form and `rule_save` agree)."""
    if low is not None and high is not None and low > high:
        return (
            f"The largest amount ({high}) is below the smallest ({low}); swap them or leave "
            "one empty."
        )
    return ""


def rule_account_type_error(
    account: LedgerAccount, transaction_type: str, api: str = ApiGeneration.V1
) -> str:
    """Why the account cannot code the rule's type in generation `api` (the company's), or ""
    when it can (or no type is set)."""
    if not transaction_type or account.accepts(transaction_type, api):
        return ""
    label = TransactionType(transaction_type).label
    return (
        f"{account} does not accept {label} transactions; choose an account that does, "
        "or change the type."
    )


def _rule_errors(company: Company, data: RuleInput) -> dict[str, str]:
    errors: dict[str, str] = {}
    if not data.pattern.strip():
        errors["pattern"] = "Enter the merchant text to match, e.g. “uber”."
    if message := rule_amount_range_error(data.min_amount, data.max_amount):
        errors["max_amount"] = message
    records: dict[str, Sequence[LedgerAccount | TaxRate | TrackingCategory | None]] = {
        "account": [data.account],
        "tax_rate": [data.tax_rate],
        "tracking": data.tracking,
    }
    for name, items in records.items():
        for record in items:
            if record is not None and record.company_id != company.pk:
                errors[name] = f"'{record}' belongs to another company; choose this company's own."
    if "account" not in errors and (
        message := rule_account_type_error(
            data.account, data.transaction_type, company.expenses_api
        )
    ):
        errors["account"] = message
    return errors


@transaction.atomic
def rule_save(
    *, company: Company, data: RuleInput, by: User | None, rule: CategorizationRule | None = None
) -> CategorizationRule:
    """Create a rule, or change `rule`. Refused with `ValidationError` keyed by field."""
    errors = _rule_errors(company, data)
    if errors:
        raise ValidationError(errors)
    if rule is None:
        rule = CategorizationRule(company=company, created_by=by)
    elif rule.company_id != company.pk:
        raise ValidationError("This rule belongs to another company.")
    rule.match = data.match
    rule.pattern = data.pattern.strip()
    rule.transaction_type = data.transaction_type
    # money_field() is typed without its null=True, so the stubs think None cannot go here.
    rule.min_amount = data.min_amount  # type: ignore[assignment]
    rule.max_amount = data.max_amount  # type: ignore[assignment]
    rule.account = data.account
    rule.tax_rate = data.tax_rate
    rule.priority = data.priority
    rule.is_active = data.is_active
    rule.full_clean()
    rule.save()
    rule.tracking_categories.set(data.tracking)
    return rule


def rule_set_active(*, rule: CategorizationRule, is_active: bool) -> CategorizationRule:
    rule.is_active = is_active
    rule.save(update_fields=["is_active"])
    return rule


def rule_delete(*, rule: CategorizationRule) -> None:
    # Expenses a rule coded keep their coding and their RULE_APPLIED events; only the rule goes.
    rule.delete()


@transaction.atomic
def rule_move(*, rule: CategorizationRule, up: bool) -> None:
    """Swap the rule with its neighbour in precedence order.

    Priorities may tie (then age decides), so swapping two numbers would not always change
    the order; the company's rules are renumbered 10, 20, 30… in their new order instead.
    """
    rules = list(
        CategorizationRule.objects.select_for_update()
        .filter(company_id=rule.company_id)
        .order_by("priority", "id")
    )
    index = next(i for i, r in enumerate(rules) if r.pk == rule.pk)
    other = index - 1 if up else index + 1
    if not 0 <= other < len(rules):
        return
    rules[index], rules[other] = rules[other], rules[index]
    for position, each in enumerate(rules, start=1):
        each.priority = position * 10
    CategorizationRule.objects.bulk_update(rules, ["priority"])


@dataclass
class RuleRun:
    """What a run did: expenses coded ready, and those that stayed to categorize, with why."""

    matched: int = 0
    coded: int = 0
    stayed: Counter[str] = field(default_factory=Counter)
    left_for_later: int = 0

    def summary(self) -> str:
        if not self.matched:
            return "No uncategorized expense matches; nothing was changed."
        plural = "s" if self.matched != 1 else ""
        text = f"{self.matched} matching expense{plural}, {self.coded} coded and ready to approve"
        stayed = sum(self.stayed.values())
        if stayed:
            reasons = "; ".join(f"{reason} ({n})" for reason, n in self.stayed.most_common(3))
            text += f"; {stayed} stayed to categorize — {reasons}"
        text += "."
        if self.left_for_later:
            text += f" {self.left_for_later} more match: run again to code them."
        return text


def _run(company: Company, ids: Sequence[uuid.UUID], by: User | None) -> RuleRun:
    expenses = expenses_with_lines(company=company, expense_ids=ids)
    # Precedence is decided again here, with the rules as they are now.
    rules = rules_for_company(company=company)
    run = RuleRun(matched=len(ids))
    for expense in expenses:
        try:
            # One expense at a time, each in its own savepoint: a refusal or a concurrent edit
            # of one expense leaves the others coded.
            applied = rules_apply(expenses=[expense], rules=rules, by=by)
        except ExpenseRefused as refused:
            run.stayed[str(refused.problems[0])] += 1
            continue
        except StaleState:
            run.stayed["Someone else changed it meanwhile."] += 1
            continue
        if not applied:
            run.stayed["No active rule matches it any more."] += 1
        elif expense.status == ExpenseStatus.CATEGORIZED:
            run.coded += 1
        elif expense.status == ExpenseStatus.UNCATEGORIZED:
            run.stayed[expense.needs_recoding_reason or "It still needs coding."] += 1
        else:
            run.stayed[f"It is {expense.get_status_display().lower()} now."] += 1
    return run


def rule_apply_to_matching(*, rule: CategorizationRule, by: User | None) -> RuleRun:
    """Code the uncategorized expenses `rule` is the first match for (up to APPLY_BATCH)."""
    matches, _ = _first_matches(rule.company, rules_for_company(company=rule.company))
    ids = matches.get(rule.pk, [])
    run = _run(rule.company, ids[:APPLY_BATCH], by)
    run.left_for_later = max(0, len(ids) - APPLY_BATCH)
    return run


def rules_run_all(*, company: Company, by: User | None) -> RuleRun:
    """Run every active rule over the uncategorized expenses (up to APPLY_BATCH)."""
    matches, _ = _first_matches(company, rules_for_company(company=company))
    ids = [expense_id for each in matches.values() for expense_id in each]
    run = _run(company, ids[:APPLY_BATCH], by)
    run.left_for_later = max(0, len(ids) - APPLY_BATCH)
    return run
