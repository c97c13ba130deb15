"""The queue: tabs, filters, keyset paging, inline coding, row actions, bulk actions, access."""

import html
import uuid
from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.db import connection, transaction
from django.urls import reverse
from django.utils import timezone

from companies.models import Role
from expenses.bulk import expenses_bulk_code
from expenses.coding import expense_set_coding
from expenses.models import Expense, ExpenseStatus, searched
from syncs.models import PushBatch
from tests.expenses.conftest import make_books
from tests.factories import (
    ConnectionFactory,
    ExpenseFactory,
    ExpenseLineFactory,
    MembershipFactory,
    ReceiptFactory,
    SyncFactory,
)

pytestmark = pytest.mark.django_db
HTMX = {"HX-Request": "true"}


def _queue(client, books, **params):
    return client.get(reverse("expense-queue", args=[books.company.pk]), params)


def _merchants(response):
    return [row.expense.merchant_name for row in response.context["page"].rows]


def test_tabs_split_the_queue_by_status(client, books, member):
    ExpenseFactory(company=books.company, merchant_name="Todo")
    ExpenseFactory(company=books.company, merchant_name="Ready", status=ExpenseStatus.CATEGORIZED)
    ExpenseFactory(company=books.company, merchant_name="Gone", status=ExpenseStatus.EXCLUDED)

    assert _merchants(_queue(client, books)) == ["Todo"]
    assert _merchants(_queue(client, books, tab="ready")) == ["Ready"]
    assert _merchants(_queue(client, books, tab="excluded")) == ["Gone"]
    assert set(_merchants(_queue(client, books, tab="all"))) == {"Todo", "Ready", "Gone"}
    counts = {t.key: t.count for t in _queue(client, books).context["page"].tabs}
    assert (counts["todo"], counts["ready"], counts["all"]) == (1, 1, 3)


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"q": "uber"}, {"Uber"}),
        ({"q": "taxi"}, {"Uber"}),  # notes
        ({"q": "grace"}, {"Pret"}),  # employee
        ({"type": "Refund"}, {"Pret"}),
        ({"amount_min": "20"}, {"Uber"}),
        ({"amount_max": "20"}, {"Pret"}),
        ({"currency": "eur"}, {"Uber"}),
        ({"receipt": "yes"}, {"Pret"}),
        ({"receipt": "no"}, {"Uber"}),
        ({"person": "4242"}, {"Uber"}),
        ({"person": "grace"}, {"Pret"}),
        # The person filter searches its own fields only; a search is within one field.
        ({"person": "uber"}, set()),
        ({"q": "4242"}, {"Uber"}),  # card
        ({"q": "uber taxi"}, set()),
        ({"date_from": "2026-11-05"}, {"Uber"}),
        ({"date_to": "2026-11-04"}, {"Pret"}),
    ],
)
def test_filters(client, books, member, params, expected):
    ExpenseFactory(
        company=books.company,
        merchant_name="Uber",
        notes="Taxi to the airport",
        amount=Decimal("40"),
        currency="EUR",
        card_label="Visa 4242",
        issue_date=date(2026, 11, 6),
    )
    pret = ExpenseFactory(
        company=books.company,
        merchant_name="Pret",
        employee_name="Grace Hopper",
        type="Refund",
        amount=Decimal("5"),
        issue_date=date(2026, 11, 3),
    )
    ReceiptFactory(expense=pret)

    assert set(_merchants(_queue(client, books, **params))) == expected


def test_bad_filter_values_are_reported_and_ignored(client, books, member):
    ExpenseFactory(company=books.company)

    response = _queue(client, books, amount_min="lots", date_from="yesterday")

    assert response.status_code == 200
    assert len(response.context["page"].rows) == 1
    assert "This filter is ignored" in response.content.decode()


def test_keyset_paging_walks_every_row_once(client, books, member):
    day = date(2026, 1, 1)
    for i in range(120):
        ExpenseFactory(
            company=books.company, merchant_name=f"m{i}", issue_date=day + timedelta(days=i % 7)
        )
    seen, after = [], ""
    while True:
        page = _queue(client, books, after=after).context["page"]
        seen += [row.expense.pk for row in page.rows]
        if not page.next_cursor:
            break
        after = page.next_cursor

    assert len(seen) == len(set(seen)) == 120
    dates = list(Expense.objects.filter(pk__in=seen[:50]).values_list("issue_date", flat=True))
    assert max(dates) == day + timedelta(days=6)


def test_amount_sort_pages_in_order(client, books, member):
    for amount in [5, 50, 20, 20, 1]:
        ExpenseFactory(company=books.company, amount=Decimal(amount))

    page = _queue(client, books, sort="largest").context["page"]

    assert [row.expense.amount for row in page.rows] == [50, 20, 20, 5, 1]


def test_mangled_cursor_shows_the_first_page(client, books, member):
    ExpenseFactory(company=books.company)

    assert len(_queue(client, books, after="%%%garbage").context["page"].rows) == 1


def test_query_count_is_the_same_for_50_and_200_rows(
    client, books, member, django_assert_max_num_queries
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    for i in range(200):
        expense = ExpenseFactory(company=books.company)
        if i % 3 == 0:  # every page has coded rows, so every prefetch runs
            expense_set_coding(expense=expense, by=None, account=books.travel, tax_rate=books.vat)

    _queue(client, books)  # the first page of this master data version reads the choices
    counts = []
    for size in (50, 200):
        with CaptureQueriesContext(connection) as ctx:
            response = _queue(client, books, tab="all", per_page=size)
        assert len(response.context["page"].rows) == size
        # Uncategorized rows carry history suggestions, so their queries are counted too.
        assert any(row.suggestion for row in response.context["page"].rows)
        counts.append(len(ctx.captured_queries))

    assert counts[0] == counts[1]
    with django_assert_max_num_queries(counts[0]):
        _queue(client, books, tab="all", per_page=100)


# What a full queue page may cost, sessions and permissions included; bench/README.md
# records the figure measured at 200,000 expenses. The first page after the company's master
# data changed (a new version) also reads the coding choices: three queries more.
QUEUE_PAGE_MAX_QUERIES = 10
CODING_CHOICES_QUERIES = 3


def test_a_filtered_page_costs_the_same_bounded_queries_at_50_and_200_rows(
    client, books, member, django_assert_max_num_queries
):
    for i in range(200):
        expense = ExpenseFactory(company=books.company, merchant_name=f"Trainline #{i}")
        if i % 3 == 0:
            expense_set_coding(expense=expense, by=None, account=books.travel, tax_rate=books.vat)
    ExpenseFactory(company=books.company, merchant_name="Pret")
    # A company that has pushed before: the push panel shows its latest syncs' progress.
    for _ in range(4):
        sync = SyncFactory(company=books.company)
        PushBatch.objects.create(
            company=books.company, sync=sync, state="posted", dataset_id=uuid.uuid4()
        )
    ConnectionFactory(company=books.company)

    with django_assert_max_num_queries(QUEUE_PAGE_MAX_QUERIES + CODING_CHOICES_QUERIES):
        _queue(client, books, tab="all", q="trainline")
    for size in (50, 200):
        with django_assert_max_num_queries(QUEUE_PAGE_MAX_QUERIES):
            response = _queue(client, books, tab="all", q="trainline", per_page=size)
        assert len(response.context["page"].rows) == size
    matching = client.get(
        reverse("expense-matching", args=[books.company.pk]), {"tab": "all", "q": "trainline"}
    )
    assert "all 200 matching the filters" in matching.content.decode()


# With a shared cache (CACHE_URL, as production runs), the session is read from it.
QUEUE_PAGE_MAX_QUERIES_CACHED_SESSIONS = QUEUE_PAGE_MAX_QUERIES - 1


def test_with_cached_sessions_the_page_costs_one_query_less(
    client, books, member, django_assert_max_num_queries, settings
):
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    settings.SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"
    client.force_login(member.user)
    for i in range(60):
        expense = ExpenseFactory(company=books.company, merchant_name=f"Trainline #{i}")
        if i % 3 == 0:
            expense_set_coding(expense=expense, by=None, account=books.travel, tax_rate=books.vat)
    SyncFactory(company=books.company)
    ConnectionFactory(company=books.company)
    _queue(client, books, tab="all")  # the first request caches the session and the choices

    with django_assert_max_num_queries(QUEUE_PAGE_MAX_QUERIES_CACHED_SESSIONS):
        response = _queue(client, books, tab="todo", q="trainline")
    assert len(response.context["page"].rows) == 40


def test_tab_counts_are_capped_and_the_approved_count_exact_in_one_query(
    client, books, member, django_assert_num_queries, monkeypatch
):
    from expenses import selectors

    monkeypatch.setattr(selectors, "COUNT_CAP", 3)
    for _ in range(5):
        ExpenseFactory(company=books.company)
    ExpenseFactory(company=books.company, status=ExpenseStatus.EXCLUDED)
    for _ in range(5):
        ExpenseFactory(
            company=books.company, status=ExpenseStatus.APPROVED, approved_at=timezone.now()
        )

    with django_assert_num_queries(1):
        counted, approved = selectors.queue_counts(company=books.company)

    # Counted up to the cap plus one, so "3+" can be shown without counting the rest.
    assert {t.key: t.count for t in counted} == {
        "todo": 4,
        "ready": 4,
        "insync": 0,
        "failed": 0,
        "synced": 0,
        "excluded": 1,
        "all": 4,
    }
    # The push button says exactly how many it would push.
    assert approved == 5


def test_capped_counts_say_so_and_the_bulk_bar_says_what_all_will_change(
    client, books, member, monkeypatch, django_assert_max_num_queries
):
    from expenses import selectors

    monkeypatch.setattr(selectors, "COUNT_CAP", 3)
    monkeypatch.setattr(selectors, "BULK_LIMIT", 4)
    for _ in range(6):
        ExpenseFactory(company=books.company)
    one = Expense.objects.filter(company=books.company).first()
    one.merchant_name = "Only Me Ltd"
    one.save()
    matching_url = reverse("expense-matching", args=[books.company.pk])

    body = _queue(client, books, tab="todo").content.decode()
    assert '<span class="count" id="tab-count-todo">3+</span>' in body
    # The bar asks for the matching count when it opens, with the page's filters.
    assert f'hx-get="{matching_url}?tab=todo"' in body

    # Sessions, user, company and role, then the one capped count.
    with django_assert_max_num_queries(5):
        body = client.get(matching_url, {"tab": "todo"}).content.decode()
    # More match than a bulk action changes: the bar says it changes the first four only.
    assert "the first 4 of the 4+ matching the filters" in body
    assert 'data-matching="4"' in body

    body = client.get(matching_url, {"tab": "todo", "q": "only me"}).content.decode()
    assert "all 1 matching the filters" in body
    assert 'data-matching="1"' in body


def test_htmx_request_gets_only_the_queue_body(client, books, member):
    response = client.get(
        reverse("expense-queue", args=[books.company.pk]),
        {"tab": "all"},
        headers={"HX-Request": "true"},
    )

    body = response.content.decode()
    assert "<html" not in body
    assert 'class="tabs"' in body
    assert "HX-Request" in response["Vary"]


def test_inline_coding_rerenders_the_row_as_ready(client, books, member):
    expense = ExpenseFactory(company=books.company, amount=Decimal("12.00"))

    response = client.post(
        reverse("expense-code", args=[books.company.pk, expense.pk]),
        {"account": books.travel.pk, "tax_rate": books.vat.pk},
        headers={"HX-Request": "true"},
    )

    body = response.content.decode()
    assert body.strip().startswith(f'<tr id="row-{expense.pk}"')
    assert "Ready to approve" in body
    expense.refresh_from_db()
    assert expense.status == ExpenseStatus.CATEGORIZED


# What the inline-coding POST may cost: sessions and permissions, the lines read once, the
# row lock and line replacement with its audit events (one transaction, no savepoint per step;
# the ORM reads the old lines' ids to delete them and their tracking links), and the
# re-rendered row from what was written, with the tab counts in one query when the row moved
# tab. The coding choices come with the queue page that shows the row (read once per master
# data version).
INLINE_CODING_MAX_QUERIES = 18


def test_inline_coding_costs_bounded_queries_and_shows_the_row_as_it_now_is(
    client, books, member, django_assert_max_num_queries, tracking
):
    expense = ExpenseFactory(company=books.company, amount=Decimal("12.00"))
    ExpenseLineFactory(expense=expense, net_amount=Decimal("12.00"), tax_amount=Decimal(0))
    ReceiptFactory(expense=expense)
    url = reverse("expense-code", args=[books.company.pk, expense.pk])
    _queue(client, books)

    with django_assert_max_num_queries(INLINE_CODING_MAX_QUERIES):
        body = client.post(
            url,
            {"account": books.travel.pk, "tax_rate": books.vat.pk, "tracking": [tracking.pk]},
            headers={"HX-Request": "true"},
        ).content.decode()

    # The row shows what was saved: status, receipt, the chosen tracking option.
    assert "Ready to approve" in body
    assert 'title="Has a receipt"' in body
    assert f'<option value="{tracking.pk}" selected>' in body
    assert f'<option value="{books.travel.pk}" selected>' in body
    line = expense.lines.get()
    assert (line.account, line.tax_rate, list(line.tracking_categories.all())) == (
        books.travel,
        books.vat,
        [tracking],
    )


def test_inline_coding_shows_why_the_row_is_not_ready(client, books, member):
    expense = ExpenseFactory(company=books.company)

    body = client.post(
        reverse("expense-code", args=[books.company.pk, expense.pk]), {"account": books.travel.pk}
    ).content.decode()

    assert "Line 1 has no tax rate." in body


def test_an_account_invalid_for_the_type_is_refused_with_the_reason(client, books, member):
    expense = ExpenseFactory(company=books.company, type="Reward")

    body = client.post(
        reverse("expense-code", args=[books.company.pk, expense.pk]),
        {"account": books.travel.pk, "tax_rate": books.vat.pk},
    ).content.decode()

    assert "Account 'Travel' does not accept Reward transactions." in html.unescape(body)


def test_another_companys_account_id_is_refused_naming_the_field(client, books, member):
    other = make_books()
    expense = ExpenseFactory(company=books.company)

    body = client.post(
        reverse("expense-code", args=[books.company.pk, expense.pk]), {"account": other.travel.pk}
    ).content.decode()

    assert 'data-field="account"' in body
    assert "Select a valid choice" in body
    assert not expense.lines.exists()


def test_approve_and_exclude_from_the_row(client, books, member):
    expense = ExpenseFactory(company=books.company)
    expense_set_coding(expense=expense, by=None, account=books.travel, tax_rate=books.vat)

    client.post(reverse("expense-approve", args=[books.company.pk, expense.pk]))
    expense.refresh_from_db()
    assert expense.status == ExpenseStatus.APPROVED

    other = ExpenseFactory(company=books.company)
    client.post(reverse("expense-exclude", args=[books.company.pk, other.pk]))
    other.refresh_from_db()
    assert other.status == ExpenseStatus.EXCLUDED
    client.post(reverse("expense-exclude", args=[books.company.pk, other.pk]))
    other.refresh_from_db()
    assert other.status == ExpenseStatus.UNCATEGORIZED


def test_approving_an_uncoded_expense_is_refused_with_the_reason(client, books, member):
    expense = ExpenseFactory(company=books.company)

    body = client.post(
        reverse("expense-approve", args=[books.company.pk, expense.pk]), headers=HTMX
    ).content.decode()

    assert "The expense has no coding yet." in body
    assert "hx-swap-oob" not in body  # nothing moved: no counts to refresh
    expense.refresh_from_db()
    assert expense.status == ExpenseStatus.UNCATEGORIZED


def test_bulk_apply_coding_to_selected_rows(client, books, member):
    chosen = [ExpenseFactory(company=books.company) for _ in range(3)]
    untouched = ExpenseFactory(company=books.company)

    response = client.post(
        reverse("expense-bulk", args=[books.company.pk]),
        {
            "action": "code",
            "ids": [e.pk for e in chosen],
            "account": books.travel.pk,
            "tax_rate": books.vat.pk,
        },
        follow=True,
    )

    assert "3 expenses coded." in response.content.decode()
    assert Expense.objects.filter(status=ExpenseStatus.CATEGORIZED).count() == 3
    assert not untouched.lines.exists()


def test_a_refused_expense_in_bulk_coding_leaves_the_rest_coded_in_the_same_transaction(
    books, member
):
    # Each expense is coded in a savepoint of its own (the service's one atomic block): a
    # refusal rolls back that expense only, and the surrounding transaction stays usable.
    first, second = (ExpenseFactory(company=books.company) for _ in range(2))
    synced = ExpenseFactory(company=books.company, status=ExpenseStatus.SYNCED)

    with transaction.atomic():
        outcome = expenses_bulk_code(
            company=books.company,
            expense_ids=[first.pk, synced.pk, second.pk],
            by=member.user,
            account=books.travel,
            tax_rate=books.vat,
        )
        coded = Expense.objects.filter(status=ExpenseStatus.CATEGORIZED).count()

    assert (outcome.done, [e.pk for e, _ in outcome.refused], coded) == (2, [synced.pk], 2)
    assert not synced.lines.exists()


def test_bulk_on_all_matching_uses_the_filters(client, books, member):
    for name in ["Uber 1", "Uber 2", "Pret"]:
        ExpenseFactory(company=books.company, merchant_name=name)

    client.post(
        reverse("expense-bulk", args=[books.company.pk]),
        {"action": "exclude", "all_matching": "on", "query": "q=uber&tab=todo"},
    )

    assert set(
        Expense.objects.filter(status="excluded").values_list("merchant_name", flat=True)
    ) == {
        "Uber 1",
        "Uber 2",
    }


def test_bulk_approve_reports_refusals_and_approves_the_rest(client, books, member):
    good = ExpenseFactory(company=books.company)
    expense_set_coding(expense=good, by=None, account=books.travel, tax_rate=books.vat)
    bad = ExpenseFactory(company=books.company, merchant_name="Uncoded")

    response = client.post(
        reverse("expense-bulk", args=[books.company.pk]),
        {"action": "approve", "ids": [good.pk, bad.pk]},
        follow=True,
    )

    body = response.content.decode()
    assert "1 expense approved. 1 refused — e.g. Uncoded: The expense has no coding yet." in body
    good.refresh_from_db()
    assert good.status == ExpenseStatus.APPROVED


def test_bulk_ignores_another_companys_ids(client, books, member):
    foreign = ExpenseFactory(company=make_books().company)

    client.post(
        reverse("expense-bulk", args=[books.company.pk]), {"action": "exclude", "ids": [foreign.pk]}
    )

    foreign.refresh_from_db()
    assert foreign.status == ExpenseStatus.UNCATEGORIZED


@pytest.mark.parametrize(
    ("role", "code", "approve"),
    [(Role.VIEWER, 403, 403), (Role.BOOKKEEPER, 200, 403), (Role.APPROVER, 200, 200)],
)
def test_roles_on_row_actions(client, books, role, code, approve):
    membership = MembershipFactory(company=books.company, role=role)
    client.force_login(membership.user)
    expense = ExpenseFactory(company=books.company)

    assert client.get(reverse("expense-queue", args=[books.company.pk])).status_code == 200
    assert (
        client.post(reverse("expense-code", args=[books.company.pk, expense.pk]), {}).status_code
        == code
    )
    assert (
        client.post(
            reverse("expense-approve", args=[books.company.pk, expense.pk]), headers=HTMX
        ).status_code
        == approve
    )


def test_viewer_sees_no_coding_controls(client, books):
    membership = MembershipFactory(company=books.company, role=Role.VIEWER)
    client.force_login(membership.user)
    ExpenseFactory(company=books.company)

    body = _queue(client, books).content.decode()

    assert 'name="account"' not in body
    assert "bulk-form" not in body


def test_member_of_another_company_gets_404_on_every_queue_url(client, books):
    expense = ExpenseFactory(company=books.company)
    client.force_login(MembershipFactory(role=Role.APPROVER).user)

    assert _queue(client, books).status_code == 404
    for name in ("expense-code", "expense-approve", "expense-exclude"):
        assert client.post(reverse(name, args=[books.company.pk, expense.pk])).status_code == 404
    assert client.post(reverse("expense-bulk", args=[books.company.pk]), {}).status_code == 404


def test_an_expense_of_another_company_under_my_company_url_is_404(client, books, member):
    foreign = ExpenseFactory(company=make_books().company)

    response = client.post(reverse("expense-code", args=[books.company.pk, foreign.pk]), {})

    assert response.status_code == 404


class _SomeoneElseFirst:
    """Runs another person's UPDATE of the row just before this request's own conditional
    UPDATE of it: the race two people clicking at once produce (found by the load run). It
    runs on the request's connection, so the refusal's rollback undoes it too."""

    def __init__(self, expense, status):
        self.expense, self.status, self.done = expense, status, False

    def __call__(self, execute, sql, params, many, context):
        if not self.done and sql.startswith('UPDATE "expenses_expense" SET "status"'):
            self.done = True
            Expense.objects.filter(pk=self.expense.pk).update(status=self.status)
        return execute(sql, params, many, context)


def test_two_approvers_at_once_the_second_is_told_someone_else_was_first(client, books, member):
    from django.db import connection

    expense = ExpenseFactory(company=books.company)
    expense_set_coding(expense=expense, by=None, account=books.travel, tax_rate=books.vat)
    expense.refresh_from_db()
    assert expense.status == ExpenseStatus.CATEGORIZED

    with connection.execute_wrapper(_SomeoneElseFirst(expense, ExpenseStatus.APPROVED)):
        response = client.post(
            reverse("expense-approve", args=[books.company.pk, expense.pk]), headers=HTMX
        )

    assert response.status_code == 200
    assert "Someone else changed this expense a moment ago." in response.content.decode()
    # This request's approval wrote nothing.
    assert not expense.events.filter(to_status=ExpenseStatus.APPROVED).exists()


def test_coding_a_row_someone_approves_meanwhile_is_refused_and_writes_nothing(
    client, books, member
):
    from django.db import connection

    from expenses.models import ExpenseEvent

    expense = ExpenseFactory(company=books.company)
    events = ExpenseEvent.objects.filter(expense=expense).count()

    with connection.execute_wrapper(_SomeoneElseFirst(expense, ExpenseStatus.EXCLUDED)):
        response = client.post(
            reverse("expense-code", args=[books.company.pk, expense.pk]),
            {"account": books.travel.pk, "tax_rate": books.vat.pk},
            headers=HTMX,
        )

    assert response.status_code == 200
    assert "Someone else changed this expense a moment ago." in response.content.decode()
    assert not expense.lines.exists()  # the coding was rolled back with the refusal
    assert ExpenseEvent.objects.filter(expense=expense).count() == events


@pytest.mark.parametrize("fields", [(), ("employee_name", "card_label")])
def test_the_text_filters_can_read_the_searched_text_index(fields):
    """On PostgreSQL the filters narrow by the one trigram index of the searched text: migration
    0006 builds it from the same expression as `SearchedText`, or the planner could not use it
    and every search would read all of a company's expenses."""
    if connection.vendor != "postgresql":
        pytest.skip("a PostgreSQL index; the PostgreSQL run of the suite checks it")
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        plan = Expense.objects.filter(searched("trainline", *fields)).explain()

    assert "Bitmap Index Scan on expense_searched_trgm_idx" in plan
