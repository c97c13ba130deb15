"""`any_of`: the IN lookup with its values sent as one array parameter on PostgreSQL."""

from __future__ import annotations

import uuid

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from expenses.models import Expense, ExpenseLine
from tests.factories import (
    ExpenseFactory,
    ExpenseLineFactory,
)

pytestmark = pytest.mark.django_db


def test_any_of_finds_what_in_finds():
    expenses = [ExpenseFactory() for _ in range(4)]
    for expense in expenses:
        ExpenseLineFactory(expense=expense)
    wanted = [expenses[0].pk, str(expenses[2].pk), expenses[0].pk, None, uuid.uuid4()]

    def ids(queryset):
        return sorted(queryset.values_list("pk", flat=True))

    assert ids(Expense.objects.filter(pk__any_of=wanted)) == ids(
        Expense.objects.filter(pk__in=wanted)
    )
    assert ids(Expense.objects.filter(pk__any_of=wanted)) == sorted(
        [expenses[0].pk, expenses[2].pk]
    )
    # Through a foreign key, and across a join.
    assert ids(ExpenseLine.objects.filter(expense_id__any_of=wanted)) == ids(
        ExpenseLine.objects.filter(expense_id__in=wanted)
    )
    assert ids(Expense.objects.filter(lines__expense_id__any_of=wanted).distinct()) == ids(
        Expense.objects.filter(pk__in=wanted)
    )
    assert list(Expense.objects.filter(pk__any_of=[])) == []
    assert list(Expense.objects.filter(pk__any_of=[None])) == []


def test_any_of_sends_a_thousand_ids_as_one_parameter():
    if connection.vendor != "postgresql":
        pytest.skip("arrays are PostgreSQL's; elsewhere any_of is the plain IN")
    expense = ExpenseFactory()
    ids = [expense.pk, *(uuid.uuid4() for _ in range(999))]

    with CaptureQueriesContext(connection) as queries:
        assert list(Expense.objects.filter(pk__any_of=ids).values_list("pk", flat=True)) == [
            expense.pk
        ]

    [query] = queries.captured_queries
    assert "= ANY(" in query["sql"]
    assert " IN (" not in query["sql"]


def test_any_of_writes_ids_as_one_array_literal_of_the_columns_type():
    """UUIDs and integers go as one literal cast to the column's array type: psycopg quoted a
    list of them element by element."""
    if connection.vendor != "postgresql":
        pytest.skip("arrays are PostgreSQL's; elsewhere any_of is the plain IN")
    from sfe_portal.db import id_array

    expense = ExpenseFactory()
    other = uuid.uuid4()
    assert id_array([expense.pk, other]) == f"{{{expense.pk},{other}}}"

    with CaptureQueriesContext(connection) as queries:
        assert list(Expense.objects.filter(company_id__any_of=[expense.company_id, 10**9])) == [
            expense
        ]
        assert list(Expense.objects.filter(pk__any_of=[expense.pk, other])) == [expense]

    integers, uuids = (query["sql"] for query in queries.captured_queries)
    assert f"= ANY(CAST('{{{expense.company_id},{10**9}}}' AS bigint[]))" in integers
    assert f"= ANY(CAST('{{{expense.pk},{other}}}' AS uuid[]))" in uuids


def test_postgresql_connections_cost_random_reads_as_on_ssd():
    if connection.vendor != "postgresql":
        pytest.skip("a PostgreSQL setting; the PostgreSQL run of the suite checks it")
    with connection.cursor() as cursor:
        cursor.execute("SHOW random_page_cost")
        assert cursor.fetchone() == ("1.1",)
