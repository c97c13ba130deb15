"""The ledger's base-currency amount: Codat's `currencyRate` multiplies the foreign amount
(the six example rows of `currencyRate` in Codat-Sync-Expenses-v1.json)."""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest

from sandbox.engine import base_amount
from tests.sandbox.conftest import Api, finish, link_company, payment, push

# (base, foreign, foreign amount, rate, base amount) as the OpenAPI document's tables give them.
SPEC_ROWS = [
    ("GBP", "USD", "20", "0.781", "15.62"),
    ("GBP", "EUR", "20", "0.885", "17.70"),
    ("GBP", "RUB", "20", "0.011", "0.22"),
    ("USD", "GBP", "20", "1.277", "25.54"),
    ("USD", "EUR", "20", "1.134", "22.68"),
    ("USD", "RUB", "20", "0.015", "0.30"),
]


@pytest.mark.parametrize(("base", "foreign", "amount", "rate", "expected"), SPEC_ROWS)
def test_the_base_amount_is_the_foreign_amount_times_the_rate(
    base: str, foreign: str, amount: str, rate: str, expected: str
) -> None:
    assert base_amount(Decimal(amount), booked=foreign, base=base, rate=rate) == Decimal(expected)


def test_a_record_in_the_base_currency_is_worth_its_total() -> None:
    assert base_amount(Decimal("20"), booked="GBP", base="GBP", rate="0.5") == Decimal("20.00")


@pytest.mark.parametrize(
    ("foreign", "rate", "expected"), [("GBP", 1.277, "25.54"), ("EUR", 1.134, "22.68")]
)
def test_the_ledger_json_and_page_show_the_base_amount(
    api: Api, client, foreign: str, rate: float, expected: str
) -> None:
    linked = link_company(api, "qhyg")  # QuickBooks Online, base USD, books the transaction's
    item = payment(linked, str(uuid.uuid4()), currency=foreign, currencyRate=rate)
    item["lines"][0]["netAmount"] = 20.00

    _status, txs = finish(api, linked, push(api, linked, [item]))

    assert txs[0]["status"] == "Completed", txs
    [record] = api.get(f"/_sandbox/companies/{linked.company_id}/ledger").json()
    assert (record["total"], record["currency"]) == ("20.00", foreign)
    assert record["baseAmount"] == expected
    page = client.get(f"/codat-sandbox/ledger/{linked.company_id}/").content.decode()
    assert f"USD {expected}</strong> in the base currency" in page
    assert f"rate {Decimal(str(rate)).normalize()} (USD per {foreign})" in page


def test_the_ledger_json_gives_the_total_when_no_rate_applies(api: Api) -> None:
    linked = link_company(api, "qhyg")

    finish(api, linked, push(api, linked, [payment(linked, str(uuid.uuid4()))]))

    [record] = api.get(f"/_sandbox/companies/{linked.company_id}/ledger").json()
    assert record["baseAmount"] == record["total"] == "100.00"
