"""The rules page: precedence stated and kept, editing with named errors, ordering, what each
rule would code now, applying one rule or all of them, and who may do what."""

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from companies.models import Role, SourceStatus
from expenses.models import CategorizationRule, EventKind, ExpenseStatus, RuleMatch
from expenses.rules import PRECEDENCE, RuleInput, RuleRun, rule_save, rules_page
from tests.expenses.conftest import make_books
from tests.factories import ExpenseFactory, MembershipFactory, TrackingCategoryFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def member(client, books):
    membership = MembershipFactory(company=books.company, role=Role.BOOKKEEPER)
    client.force_login(membership.user)
    return membership


def _rule(books, pattern, **fields):
    fields.setdefault("account", books.travel)
    fields.setdefault("tax_rate", books.vat)
    return CategorizationRule.objects.create(company=books.company, pattern=pattern, **fields)


def _url(name, books, *args):
    return reverse(name, args=[books.company.pk, *args])


def _form(books, **changes):
    data = {
        "match": "contains",
        "pattern": "uber",
        "transaction_type": "",
        "min_amount": "",
        "max_amount": "",
        "account": books.travel.pk,
        "tax_rate": books.vat.pk,
        "priority": "100",
        "is_active": "on",
    }
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


def _messages(response):
    return [str(m) for m in response.context["messages"]]


# --- The page ---------------------------------------------------------------------------------


def test_page_states_the_precedence_and_lists_rules_in_that_order(client, books, member):
    older_tie = _rule(books, "uber", priority=10)
    first = _rule(books, "pret", match=RuleMatch.EQUALS, priority=5, transaction_type="Payment")
    newer_tie = _rule(books, "tfl", priority=10, min_amount=Decimal("1"), max_amount=Decimal("9"))

    response = client.get(_url("rule-list", books))

    body = response.content.decode()
    assert PRECEDENCE in body
    assert [row.rule for row in response.context["page"].rows] == [first, older_tie, newer_tie]
    assert "Merchant is “pret”, Payment only" in body
    assert "Merchant contains “tfl”, amount from 1.00 to 9.00" in body
    assert f"{books.travel} · {books.vat}" in body


def test_would_code_counts_each_expense_for_its_first_matching_rule_only(client, books, member):
    broad = _rule(books, "uber", priority=10)
    narrow = _rule(books, "uber eats", account=books.meals, priority=20)
    inactive = _rule(books, "pret", is_active=False)
    for name in ["Uber Eats London", "UBER EATS", "Uber trip", "Pret"]:
        ExpenseFactory(company=books.company, merchant_name=name)
    ExpenseFactory(company=books.company, merchant_name="Uber", status=ExpenseStatus.EXCLUDED)

    page = client.get(_url("rule-list", books)).context["page"]

    counts = {row.rule: row.would_code for row in page.rows}
    assert counts == {broad: 3, narrow: 0, inactive: 0}
    assert page.would_code == 3


def test_rules_page_queries_do_not_grow_with_rules_or_expenses(books):
    def queries():
        with CaptureQueriesContext(connection) as ctx:
            rules_page(company=books.company)
        return len(ctx.captured_queries)

    _rule(books, "uber")
    ExpenseFactory(company=books.company, merchant_name="Uber")
    few = queries()
    for i in range(15):
        _rule(books, f"merchant {i}", tax_rate=None)
        ExpenseFactory(company=books.company, merchant_name=f"Merchant {i}")

    assert queries() == few


def test_a_rule_pointing_at_an_archived_account_says_so(client, books, member):
    _rule(books, "uber")
    books.travel.status = SourceStatus.ARCHIVED
    books.travel.save()

    body = client.get(_url("rule-list", books)).content.decode()

    assert "is archived in the accounting software" in body


# --- Access -----------------------------------------------------------------------------------


def _write_requests(books, rule):
    return [
        ("rule-create", ()),
        ("rule-edit", (rule.pk,)),
        ("rule-delete", (rule.pk,)),
        ("rule-toggle", (rule.pk,)),
        ("rule-move", (rule.pk,)),
        ("rule-apply", (rule.pk,)),
        ("rules-run", ()),
    ]


def test_viewer_reads_the_rules_but_every_write_is_refused(client, books):
    membership = MembershipFactory(company=books.company, role=Role.VIEWER)
    client.force_login(membership.user)
    rule = _rule(books, "uber")
    ExpenseFactory(company=books.company, merchant_name="Uber")

    response = client.get(_url("rule-list", books))

    assert response.status_code == 200
    assert "Apply to" not in response.content.decode()
    for name, args in _write_requests(books, rule):
        assert client.post(_url(name, books, *args), _form(books)).status_code == 403, name
    assert client.get(_url("rule-create", books)).status_code == 403
    assert CategorizationRule.objects.filter(company=books.company).count() == 1


def test_member_of_another_company_gets_404_on_every_rules_url(client, books):
    rule = _rule(books, "uber")
    client.force_login(MembershipFactory(role=Role.APPROVER).user)

    assert client.get(_url("rule-list", books)).status_code == 404
    for name, args in _write_requests(books, rule):
        assert client.post(_url(name, books, *args), _form(books)).status_code == 404, name


def test_a_rule_of_another_company_under_my_company_url_is_404(client, books, member):
    other = make_books()
    foreign = CategorizationRule.objects.create(
        company=other.company, pattern="uber", account=other.travel
    )

    for name in ("rule-edit", "rule-delete", "rule-toggle", "rule-move", "rule-apply"):
        assert client.post(_url(name, books, foreign.pk), _form(books)).status_code == 404, name
    assert CategorizationRule.objects.filter(pk=foreign.pk, is_active=True).exists()


# --- Create and edit --------------------------------------------------------------------------


def test_create_a_rule_with_tracking(client, books, member, tracking):
    response = client.post(
        _url("rule-create", books),
        _form(books, pattern="  Uber  ", transaction_type="Payment", tracking=[tracking.pk]),
    )

    assert response.status_code == 302
    rule = CategorizationRule.objects.get(company=books.company)
    assert (rule.pattern, rule.transaction_type, rule.account) == ("Uber", "Payment", books.travel)
    assert list(rule.tracking_categories.all()) == [tracking]
    assert rule.created_by == member.user


def test_edit_a_rule_keeps_it_and_changes_its_coding(client, books, member):
    rule = _rule(books, "uber")

    form_page = client.get(_url("rule-edit", books, rule.pk))
    response = client.post(
        _url("rule-edit", books, rule.pk), _form(books, account=books.meals.pk, tax_rate="")
    )

    assert form_page.context["form"].initial["pattern"] == "uber"
    assert response.status_code == 302
    rule.refresh_from_db()
    assert (rule.account, rule.tax_rate) == (books.meals, None)
    assert CategorizationRule.objects.count() == 1


@pytest.mark.parametrize(
    ("changes", "field", "words"),
    [
        ({"pattern": "   "}, "pattern", "Enter the merchant text to match"),
        ({"min_amount": "50", "max_amount": "10"}, "max_amount", "below the smallest"),
        ({"transaction_type": "Reward"}, "account", "does not accept Reward transactions"),
        ({"account": ""}, "account", "Choose the account"),
        ({"min_amount": "-1"}, "min_amount", "greater than or equal to 0"),
    ],
)
def test_invalid_rules_are_refused_naming_the_field(client, books, member, changes, field, words):
    response = client.post(_url("rule-create", books), _form(books, **changes))

    assert response.status_code == 200
    errors = response.context["form"].errors
    assert words in " ".join(errors[field])
    assert words in response.content.decode().replace("&#x27;", "'")
    assert not CategorizationRule.objects.exists()


def test_every_mistake_is_named_at_once(client, books, member):
    response = client.post(
        _url("rule-create", books),
        _form(books, pattern="", min_amount="50", max_amount="10", transaction_type="Reward"),
    )

    assert set(response.context["form"].errors) == {"pattern", "max_amount", "account"}


def test_another_companys_records_are_refused_as_invalid_choices(client, books, member):
    other = make_books()
    foreign_tracking = TrackingCategoryFactory(company=other.company)

    response = client.post(
        _url("rule-create", books),
        _form(
            books, account=other.travel.pk, tax_rate=other.vat.pk, tracking=[foreign_tracking.pk]
        ),
    )

    errors = response.context["form"].errors
    assert set(errors) == {"account", "tax_rate", "tracking"}
    assert "Select a valid choice" in errors["account"][0]
    assert not CategorizationRule.objects.exists()


def test_rule_save_refuses_what_the_form_would_by_field(books):
    other = make_books()

    def refused(**fields):
        fields.setdefault("account", books.travel)
        with pytest.raises(ValidationError) as caught:
            rule_save(company=books.company, data=RuleInput(match="contains", **fields), by=None)
        return caught.value.message_dict

    assert "pattern" in refused(pattern="  ")
    assert "max_amount" in refused(pattern="x", min_amount=Decimal(9), max_amount=Decimal(1))
    assert "account" in refused(pattern="x", transaction_type="Reward")
    assert "belongs to another company" in refused(pattern="x", account=other.travel)["account"][0]
    assert "tax_rate" in refused(pattern="x", tax_rate=other.vat)
    assert not CategorizationRule.objects.exists()


# --- Ordering, activation, deletion -----------------------------------------------------------


def _order(books):
    return list(
        CategorizationRule.objects.filter(company=books.company)
        .order_by("priority", "id")
        .values_list("pattern", flat=True)
    )


def test_move_up_and_down_changes_the_precedence_even_with_tied_priorities(client, books, member):
    a, b, c = (_rule(books, name) for name in ("a", "b", "c"))  # all priority 100

    client.post(_url("rule-move", books, c.pk), {"direction": "up"})
    assert _order(books) == ["a", "c", "b"]
    client.post(_url("rule-move", books, a.pk), {"direction": "down"})
    assert _order(books) == ["c", "a", "b"]
    client.post(_url("rule-move", books, c.pk), {"direction": "up"})  # already first
    assert _order(books) == ["c", "a", "b"]
    assert b in CategorizationRule.objects.all()


def test_the_moved_order_decides_which_rule_codes(client, books, member):
    _rule(books, "uber", account=books.travel)
    meals = _rule(books, "uber", account=books.meals)
    expense = ExpenseFactory(company=books.company, merchant_name="Uber")

    client.post(_url("rule-move", books, meals.pk), {"direction": "up"})
    client.post(_url("rules-run", books))

    assert expense.lines.get().account == books.meals


def test_deactivate_activate_and_delete(client, books, member):
    rule = _rule(books, "uber")
    ExpenseFactory(company=books.company, merchant_name="Uber")

    client.post(_url("rule-toggle", books, rule.pk), {"active": "0"})
    rule.refresh_from_db()
    assert not rule.is_active
    assert rules_page(company=books.company).would_code == 0

    client.post(_url("rule-toggle", books, rule.pk), {"active": "1"})
    rule.refresh_from_db()
    assert rule.is_active

    response = client.post(_url("rule-delete", books, rule.pk), follow=True)
    assert not CategorizationRule.objects.exists()
    assert any("deleted" in m for m in _messages(response))


# --- Applying ---------------------------------------------------------------------------------


def test_apply_codes_the_matching_expenses_and_reports_those_that_stayed(client, books, member):
    rule = _rule(books, "uber")  # Travel accepts Payment, Refund, Chargeback
    payments = [ExpenseFactory(company=books.company, merchant_name="Uber") for _ in range(2)]
    reward = ExpenseFactory(company=books.company, merchant_name="Uber", type="Reward")
    other = ExpenseFactory(company=books.company, merchant_name="Pret")
    assert rules_page(company=books.company).rows[0].would_code == 3

    response = client.post(_url("rule-apply", books, rule.pk), follow=True)

    [message] = _messages(response)
    assert "3 matching expenses, 2 coded and ready to approve; 1 stayed to categorize" in message
    assert "does not accept Reward transactions" in message
    for expense in payments:
        expense.refresh_from_db()
        assert expense.status == ExpenseStatus.CATEGORIZED
        assert expense.events.filter(kind=EventKind.RULE_APPLIED, actor=member.user).exists()
    reward.refresh_from_db()
    assert reward.status == ExpenseStatus.UNCATEGORIZED
    assert not other.lines.exists()


def test_apply_leaves_expenses_a_higher_rule_codes(client, books, member):
    _rule(books, "uber eats", account=books.meals, priority=1)
    broad = _rule(books, "uber", priority=2)
    eats = ExpenseFactory(company=books.company, merchant_name="Uber Eats")
    trip = ExpenseFactory(company=books.company, merchant_name="Uber trip")

    client.post(_url("rule-apply", books, broad.pk))

    assert trip.lines.get().account == books.travel
    assert not eats.lines.exists()


def test_apply_through_htmx_redirects_back_to_the_page(client, books, member):
    rule = _rule(books, "uber")
    ExpenseFactory(company=books.company, merchant_name="Uber")

    response = client.post(_url("rule-apply", books, rule.pk), headers={"HX-Request": "true"})

    assert response.status_code == 200
    assert response["HX-Redirect"] == _url("rule-list", books)


def test_the_apply_button_states_the_count(client, books, member):
    _rule(books, "uber")
    for _ in range(3):
        ExpenseFactory(company=books.company, merchant_name="Uber")

    body = client.get(_url("rule-list", books)).content.decode()

    assert "Apply to the 3 matching uncategorized expenses" in body
    assert "the 3 matching uncategorized expenses?" in body  # the confirmation


def test_run_all_codes_with_each_expenses_first_rule(client, books, member):
    _rule(books, "uber", account=books.travel)
    _rule(books, "pret", account=books.meals, tax_rate=books.no_tax)
    uber = ExpenseFactory(company=books.company, merchant_name="Uber")
    pret = ExpenseFactory(company=books.company, merchant_name="Pret A Manger")
    ExpenseFactory(company=books.company, merchant_name="Tesco")
    done = ExpenseFactory(
        company=books.company, merchant_name="Uber", status=ExpenseStatus.EXCLUDED
    )

    response = client.post(_url("rules-run", books), follow=True)

    assert "2 matching expenses, 2 coded and ready to approve." in _messages(response)[0]
    assert uber.lines.get().account == books.travel
    assert (pret.lines.get().account, pret.lines.get().tax_rate) == (books.meals, books.no_tax)
    assert not done.lines.exists()


def test_run_all_with_nothing_matching_changes_nothing(client, books, member):
    ExpenseFactory(company=books.company, merchant_name="Tesco")

    response = client.post(_url("rules-run", books), follow=True)

    assert "nothing was changed" in _messages(response)[0]


def test_a_run_report_names_why_expenses_stayed_and_what_is_left_for_later():
    run = RuleRun(matched=500, coded=497, left_for_later=120)
    run.stayed["Travel does not accept Reward transactions."] += 2
    run.stayed["Someone else changed it meanwhile."] += 1

    assert run.summary() == (
        "500 matching expenses, 497 coded and ready to approve; 3 stayed to categorize — "
        "Travel does not accept Reward transactions. (2); Someone else changed it meanwhile. (1)."
        " 120 more match: run again to code them."
    )
