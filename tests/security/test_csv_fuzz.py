"""Fuzzed CSV imports through the admin screen: whatever the file, the page answers (never a
500), a refused file names the line and saves nothing, and every refused row names its field.
"""

from __future__ import annotations

import csv
import io
import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from expenses.csv_import import COLUMNS, REQUIRED_COLUMNS
from expenses.models import Expense
from tests.factories import CompanyFactory, StaffFactory

pytestmark = pytest.mark.django_db

IMPORT_URL = "admin:expenses_expense_import_csv"
FUZZ = settings(
    max_examples=50,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

cell = st.one_of(
    st.text(max_size=30),
    st.sampled_from(
        [
            "",
            "Payment",
            "Refund",
            "2026-11-02",
            "2026-13-45",
            "GBP",
            "gbp",
            "12.50",
            "-3",
            "1e9",
            "NaN",
            "9" * 30,
            "<script>alert('x')</script>",
            '"quoted, with comma"',
            '=HYPERLINK("http://evil")',
            "\u202eevil",
            "x" * 400,
        ]
    ),
)


@pytest.fixture
def staff_client():
    client = Client()
    client.force_login(StaffFactory(is_superuser=True))
    return client


def _post(client: Client, company, data: bytes):
    upload = SimpleUploadedFile("spend.csv", data, content_type="text/csv")
    return client.post(reverse(IMPORT_URL), {"company": company.pk, "file": upload})


def _check_answer(response, company, before: int) -> None:
    assert response.status_code == 200
    content = response.content.decode()
    created = Expense.objects.filter(company=company).count() - before
    form = response.context["form"]
    report = response.context["report"]
    if report is None:  # refused as a whole: nothing saved, and the reason names a line or size
        errors = form.errors.get("file", [])
        assert errors, content[:2000]
        assert created == 0
        assert any(
            re.search(r"Line \d+|empty|larger than|more than|Choose|submitted", e) for e in errors
        ), errors
        return
    assert report.counts["created"] == created
    for row in report.refused:
        assert row.row >= 2
        assert row.errors
        assert all(e.field and e.message for e in row.errors), row
    assert "<script>alert" not in content  # refused values are shown escaped, if at all


@FUZZ
@given(data=st.binary(max_size=2000))
def test_any_bytes_get_an_answer_not_an_error(staff_client, data):
    company = CompanyFactory()

    _check_answer(_post(staff_client, company, data), company, 0)


@FUZZ
@given(
    header=st.permutations(COLUMNS).flatmap(
        lambda cols: st.integers(len(REQUIRED_COLUMNS) - 1, len(cols)).map(lambda n: cols[:n])
    ),
    draw=st.data(),
    delimiter=st.sampled_from([",", ";", "\t"]),
    line_end=st.sampled_from(["\r\n", "\n", "\r"]),
    bom=st.booleans(),
)
def test_generated_spreadsheets_are_answered_row_by_row(
    staff_client, header, draw, delimiter, line_end, bom
):
    width = len(header)
    # Mostly rows as wide as the header, so they reach the row checks; some ragged ones.
    row = st.one_of(
        st.lists(cell, min_size=width, max_size=width),
        st.lists(cell, max_size=12),
    )
    rows = draw.draw(st.lists(row, max_size=6))
    company = CompanyFactory()
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator=line_end)
    writer.writerow(header)
    writer.writerows(rows)
    data = ("\ufeff" if bom else "") + buffer.getvalue()

    _check_answer(_post(staff_client, company, data.encode("utf-8")), company, 0)


@pytest.mark.parametrize(
    ("data", "says"),
    [
        (
            b"external_id,type,issue_date,currency,amount\n"
            + b'"'
            + b"x" * 200_000
            + b'",Payment,2026-11-02,GBP,1\n',
            "Line 2",
        ),
        (b"\xff\xfe" + "external_id".encode("utf-16-le"), "Line 1"),
        (b'external_id,type,issue_date,currency,amount\n"unterminated,Payment\n', "Line"),
        (b"\n\n\n", "empty"),
    ],
)
def test_unreadable_files_name_the_line_and_save_nothing(staff_client, data, says):
    company = CompanyFactory()

    response = _post(staff_client, company, data)

    assert response.status_code == 200
    assert says in " ".join(response.context["form"].errors["file"])
    assert not Expense.objects.exists()


def test_a_nul_byte_in_a_cell_refuses_that_row_naming_the_field(staff_client):
    company = CompanyFactory()
    data = (
        b"external_id,type,issue_date,currency,amount,merchant_name\n"
        b"t-1,Payment,2026-11-02,GBP,1,Pret\n"
        b"t-2,Payment,2026-11-02,GBP,1,Pr\x00et\n"
    )

    response = _post(staff_client, company, data)

    report = response.context["report"]
    assert [(r.row, r.outcome) for r in report.rows] == [(2, "created"), (3, "error")]
    assert report.refused[0].errors[0].field == "merchant_name"
    assert "Null characters" in report.refused[0].errors[0].message
