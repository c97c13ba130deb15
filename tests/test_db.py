"""`any_of`: the IN lookup with its values sent as one array parameter on PostgreSQL; and
`ModelRow`: instances read from a hand-written join as the ORM would have read them."""

from __future__ import annotations

import uuid

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from companies.models import LedgerAccount, TaxRate
from expenses.models import Expense, ExpenseLine
from sfe_portal.db import ModelRow
from tests.factories import (
    ExpenseFactory,
    ExpenseLineFactory,
    LedgerAccountFactory,
    TaxRateFactory,
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


def _fields(instance):
    return {f.attname: getattr(instance, f.attname) for f in instance._meta.concrete_fields}


def test_a_model_row_reads_instances_as_the_orm_does_and_none_for_a_missed_join():
    # JSON, booleans, decimals, dates and UUID-free text: the conversions differ by database.
    account = LedgerAccountFactory(
        is_bank_account=True, valid_transaction_types=["Payment", "Refund"]
    )
    rate = TaxRateFactory(company=account.company)
    reader = ModelRow((LedgerAccount, "a"), (TaxRate, "t"))
    accounts, rates = LedgerAccount._meta.db_table, TaxRate._meta.db_table
    sql = (
        f"SELECT {reader.columns()}, 42 FROM {accounts} a "
        f"LEFT JOIN {rates} t ON t.id = %s WHERE a.id = %s"
    )

    with connection.cursor() as cursor:
        cursor.execute(sql, [rate.pk, account.pk])
        found = cursor.fetchone()
        cursor.execute(sql, [-1, account.pk])
        missed = cursor.fetchone()

    (read_account, read_rate), rest = reader.read(found)
    assert _fields(read_account) == _fields(LedgerAccount.objects.get(pk=account.pk))
    assert _fields(read_rate) == _fields(TaxRate.objects.get(pk=rate.pk))
    assert read_account._state.adding is False
    assert list(rest) == [42]
    (_, no_rate), _ = reader.read(missed)
    assert no_rate is None


def test_postgresql_connections_cost_random_reads_as_on_ssd():
    if connection.vendor != "postgresql":
        pytest.skip("a PostgreSQL setting; the PostgreSQL run of the suite checks it")
    with connection.cursor() as cursor:
        cursor.execute("SHOW random_page_cost")
        assert cursor.fetchone() == ("1.1",)
