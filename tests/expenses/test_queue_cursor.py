"""The queue's keyset cursor comes from the address bar: whatever it holds, the queue answers
with a page, never an error. A cursor that is not one the queue made shows the first page."""

import base64
import uuid
from decimal import Decimal

import pytest
from django.urls import reverse

from tests.factories import ExpenseFactory

pytestmark = pytest.mark.django_db


def _cursor(key: str) -> str:
    return base64.urlsafe_b64encode(f"{key}|{uuid.uuid4()}".encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "amount",
    ["NaN", "Infinity", "-Infinity", "sNaN", "-sNaN", "inf", "1E+999999999", "-1E+99999"],
)
@pytest.mark.parametrize("sort", ["largest", "smallest"])
def test_a_cursor_with_an_amount_that_is_no_amount_shows_the_first_page(
    client, books, member, amount, sort
):
    ExpenseFactory(company=books.company, amount=Decimal("12.50"))

    response = client.get(
        reverse("expense-queue", args=[books.company.pk]), {"sort": sort, "after": _cursor(amount)}
    )

    assert response.status_code == 200
    assert len(response.context["page"].rows) == 1


def test_a_real_amount_cursor_still_pages(client, books, member):
    for amount in ["30", "20", "10"]:
        ExpenseFactory(company=books.company, amount=Decimal(amount))

    response = client.get(
        reverse("expense-queue", args=[books.company.pk]),
        {"sort": "largest", "after": _cursor("25")},
    )

    assert [row.expense.amount for row in response.context["page"].rows] == [20, 10]
