"""Two people coding one row at the same moment: the second waits for the first and then
replaces its lines, instead of failing on the line-position constraint (found by the load run)."""

import threading
from decimal import Decimal

import pytest
from django.db import connections, transaction

from expenses.coding import LineInput, expense_lines_replace
from expenses.models import Expense, ExpenseLine
from tests.expenses.conftest import make_books
from tests.factories import ExpenseFactory, ExpenseLineFactory

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_second_coding_waits_for_the_first_and_replaces_its_lines():
    # On PostgreSQL this is the race itself; SQLite runs one writer at a time, so there the
    # second simply starts after the first.
    books = make_books()
    expense = ExpenseFactory(company=books.company, amount=Decimal("12.00"))
    ExpenseLineFactory(expense=expense, position=0)
    second_error: list[BaseException] = []

    def second() -> None:
        try:
            mine = Expense.objects.get(pk=expense.pk)
            expense_lines_replace(
                expense=mine, lines=[LineInput(Decimal("12.00"), account=books.meals)]
            )
        except BaseException as error:
            second_error.append(error)
        finally:
            connections.close_all()

    with transaction.atomic():
        expense_lines_replace(
            expense=expense, lines=[LineInput(Decimal("12.00"), account=books.travel)]
        )
        other = threading.Thread(target=second)
        other.start()
        other.join(timeout=1)  # it is waiting on this open transaction
    other.join(timeout=30)

    assert not other.is_alive()
    assert second_error == []
    assert list(ExpenseLine.objects.filter(expense=expense).values_list("account", flat=True)) == [
        books.meals.pk
    ]
