"""Coding, approval, exclusion and rules: what finance staff do to an expense, and its trail."""

from decimal import Decimal

import pytest

from expenses.coding import LineInput, expense_set_coding, expense_set_lines, split_gross
from expenses.models import CategorizationRule, EventKind, Expense, ExpenseStatus, RuleMatch
from expenses.rules import rule_first_match, rules_apply, rules_for_company
from expenses.selectors import expense_lines
from expenses.services import ExpenseRefused, expense_approve, expense_exclude, expense_restore
from sfe_portal.prefetch import related
from tests.expenses.conftest import make_books
from tests.factories import ExpenseFactory, TrackingCategoryFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_inline_coding_makes_one_line_and_splits_the_tax(books):
    expense = ExpenseFactory(company=books.company, amount=Decimal("12.00"))
    user = UserFactory()

    problems = expense_set_coding(
        expense=expense, by=user, account=books.travel, tax_rate=books.vat
    )

    assert problems == []
    [line] = expense.lines.all()
    assert (line.net_amount, line.tax_amount) == (Decimal("10.00"), Decimal("2.00"))
    assert expense.status == ExpenseStatus.CATEGORIZED
    kinds = list(expense.events.values_list("kind", flat=True))
    assert kinds == [EventKind.CODED, EventKind.STATUS]
    assert expense.events.first().actor == user


def test_the_lines_kept_after_coding_are_what_a_fresh_read_returns(books, tracking):
    # The recheck and the answer read the lines the coding just wrote from memory.
    expense = ExpenseFactory(company=books.company, amount=Decimal("12.00"))
    other = TrackingCategoryFactory(company=books.company, name="A location")

    expense_set_coding(
        expense=expense,
        by=None,
        account=books.travel,
        tax_rate=books.vat,
        tracking=[tracking, other],
    )

    def described(lines):
        return [
            (
                line.pk,
                line.position,
                line.net_amount,
                line.tax_amount,
                line.account,
                line.tax_rate,
                [c.pk for c in related(line, "tracking_categories")],
            )
            for line in lines
        ]

    fresh = Expense.objects.get(pk=expense.pk)
    assert described(expense_lines(expense)) == described(expense_lines(fresh))
    assert [c.pk for c in related(expense_lines(expense)[0], "tracking_categories")] == [
        other.pk,
        tracking.pk,
    ]


def test_kept_lines_never_widen_what_the_related_manager_acts_on(books):
    # The lines kept for reading are not the manager's: updating through it touches only
    # this expense's lines, as it would on an expense fresh from the database.
    coded, other = (ExpenseFactory(company=books.company) for _ in range(2))
    for expense in (coded, other):
        expense_set_coding(expense=expense, by=None, account=books.travel, tax_rate=books.vat)

    coded.lines.update(account=None)

    assert coded.lines.count() == 1
    assert other.lines.get().account == books.travel


def test_partial_coding_stays_to_categorize_with_the_reason(books):
    expense = ExpenseFactory(company=books.company)

    problems = expense_set_coding(expense=expense, by=None, account=books.travel)

    expense.refresh_from_db()
    assert expense.status == ExpenseStatus.UNCATEGORIZED
    assert [p.field for p in problems] == ["lines[0].tax_rate"]
    assert expense.needs_recoding_reason.startswith("Line 1 has no tax rate.")


def test_changing_the_tax_rate_resplits_the_gross(books):
    expense = ExpenseFactory(company=books.company, amount=Decimal("12.00"))
    expense_set_coding(expense=expense, by=None, account=books.travel, tax_rate=books.vat)

    expense_set_coding(expense=expense, by=None, tax_rate=books.no_tax)

    [line] = expense.lines.all()
    assert (line.net_amount, line.tax_amount) == (Decimal("12.00"), Decimal("0.00"))
    assert line.account == books.travel


@pytest.mark.parametrize(
    ("gross", "rate", "net", "tax"),
    [
        ("12.00", "20", "10.00", "2.00"),
        ("10.00", "20", "8.33", "1.67"),
        ("0.01", "20", "0.01", "0.00"),
    ],
)
def test_split_gross_keeps_every_cent(books, gross, rate, net, tax):
    books.vat.effective_rate = Decimal(rate)

    result = split_gross(Decimal(gross), books.vat)

    assert result == (Decimal(net), Decimal(tax))
    assert sum(result) == Decimal(gross)


def test_editing_an_approved_expense_needs_a_new_approval(books):
    expense = ExpenseFactory(company=books.company)
    expense_set_coding(expense=expense, by=None, account=books.travel, tax_rate=books.vat)
    expense_approve(expense=expense, by=UserFactory())

    expense_set_coding(expense=expense, by=None, account=books.meals)

    expense.refresh_from_db()
    assert expense.status == ExpenseStatus.CATEGORIZED
    assert expense.approved_at is None


def test_setting_the_same_coding_again_records_nothing(books):
    expense = ExpenseFactory(company=books.company)
    expense_set_coding(expense=expense, by=None, account=books.travel, tax_rate=books.vat)
    events = expense.events.count()

    expense_set_coding(expense=expense, by=None, account=books.travel)

    assert expense.events.count() == events


def test_another_companys_account_is_refused_and_nothing_changes(books):
    other = make_books()
    expense = ExpenseFactory(company=books.company)

    with pytest.raises(ExpenseRefused) as refused:
        expense_set_coding(expense=expense, by=None, account=other.travel, tax_rate=books.vat)

    assert refused.value.problems[0].fix == "Choose from this company's own records."
    assert not expense.lines.exists()


def test_synced_expense_cannot_be_recoded(books):
    expense = ExpenseFactory(company=books.company, status=ExpenseStatus.SYNCED)

    with pytest.raises(ExpenseRefused, match="cannot be changed here"):
        expense_set_coding(expense=expense, by=None, account=books.travel)


def test_split_lines_record_before_and_after(books):
    expense = ExpenseFactory(company=books.company, amount=Decimal("30.00"))

    problems = expense_set_lines(
        expense=expense,
        by=None,
        lines=[
            LineInput(Decimal("10.00"), Decimal("2.00"), books.travel, books.vat),
            LineInput(Decimal("18.00"), Decimal("0.00"), books.meals, books.no_tax),
        ],
    )

    assert problems == []
    event = expense.events.get(kind=EventKind.CODED)
    assert event.data["before"] == []
    assert [line["net"] for line in event.data["after"]] == ["10.00", "18.00"]


def test_approval_is_refused_with_reasons_while_anything_is_wrong(books):
    expense = ExpenseFactory(company=books.company)

    with pytest.raises(ExpenseRefused) as refused:
        expense_approve(expense=expense, by=UserFactory())

    assert refused.value.problems[0].field == "lines"
    expense.refresh_from_db()
    assert expense.status == ExpenseStatus.UNCATEGORIZED


def test_exclude_and_restore_return_to_the_right_tab(books):
    expense = ExpenseFactory(company=books.company)
    expense_set_coding(expense=expense, by=None, account=books.travel, tax_rate=books.vat)
    user = UserFactory()

    expense_exclude(expense=expense, by=user, reason="Personal spend")
    assert expense.status == ExpenseStatus.EXCLUDED
    expense_restore(expense=expense, by=user)

    assert expense.status == ExpenseStatus.CATEGORIZED
    assert expense.events.filter(message="Personal spend").exists()


def _rule(books, pattern, **fields):
    fields.setdefault("account", books.travel)
    fields.setdefault("tax_rate", books.vat)
    return CategorizationRule.objects.create(company=books.company, pattern=pattern, **fields)


def test_rules_apply_in_priority_order_then_age(books):
    _rule(books, "uber", account=books.meals, priority=200)
    wanted = _rule(books, "uber", priority=10)
    _rule(books, "uber eats", account=books.meals, priority=10)
    expense = ExpenseFactory(company=books.company, merchant_name="UBER EATS London")

    assert rule_first_match(rules_for_company(company=books.company), expense) == wanted


def test_rule_conditions_on_type_and_amount(books):
    rule = _rule(
        books,
        "Amazon",
        match=RuleMatch.EQUALS,
        transaction_type="Payment",
        min_amount=Decimal("10"),
        max_amount=Decimal("100"),
    )
    rules = [rule]

    def match(**fields):
        expense = ExpenseFactory.build(company=books.company, merchant_name="amazon", **fields)
        return rule_first_match(rules, expense)

    assert match(amount=Decimal("50")) == rule
    assert match(amount=Decimal("5")) is None
    assert match(amount=Decimal("500")) is None
    assert match(amount=Decimal("50"), type="Refund") is None
    assert rule_first_match(rules, ExpenseFactory.build(merchant_name="amazon prime")) is None


def test_rules_code_only_uncategorized_expenses_and_leave_a_trail(books):
    _rule(books, "pret")
    todo = ExpenseFactory(company=books.company, merchant_name="Pret A Manger")
    excluded = ExpenseFactory(
        company=books.company, merchant_name="Pret", status=ExpenseStatus.EXCLUDED
    )

    applied = rules_apply(expenses=[todo, excluded], rules=rules_for_company(company=books.company))

    assert applied == 1
    todo.refresh_from_db()
    assert todo.status == ExpenseStatus.CATEGORIZED
    assert todo.events.filter(kind=EventKind.RULE_APPLIED).exists()
    assert not excluded.lines.exists()
