"""Support imports expenses from CSV in the admin: every row gets an answer, and a file that
cannot be read is refused whole, naming the line."""

import pytest
from django.contrib.auth.models import Permission
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from expenses.csv_import import MAX_ROWS, CsvRefused, expenses_import_csv
from expenses.ingest import MAX_BATCH
from expenses.models import EventKind, Expense, ExpenseEvent, ExpenseSource
from tests.factories import CompanyFactory, StaffFactory, UserFactory

pytestmark = pytest.mark.django_db

HEADER = (
    "external_id,type,issue_date,currency,amount,currency_rate,merchant_name,card_label,"
    "employee_name,notes"
)
IMPORT_URL = "admin:expenses_expense_import_csv"


def _csv(*lines, header=HEADER, encoding="utf-8"):
    return SimpleUploadedFile("spend.csv", "\r\n".join([header, *lines]).encode(encoding))


def _row(external_id, amount="12.00", type="Payment", issue_date="2026-11-02"):
    return f"{external_id},{type},{issue_date},GBP,{amount},,Pret A Manger,Visa 1234,Ada,"


def _import(company, upload, by=None):
    return expenses_import_csv(company=company, upload=upload, by=by)


def test_rows_become_expenses_from_the_csv_source():
    company = CompanyFactory()
    user = UserFactory()

    report = _import(company, _csv(_row("t-1"), _row("t-2", amount="30.50")), by=user)

    assert [(r.row, r.external_id, r.outcome) for r in report.rows] == [
        (2, "t-1", "created"),
        (3, "t-2", "created"),
    ]
    expense = Expense.objects.get(company=company, external_id="t-2")
    assert str(expense.amount) == "30.50"
    assert expense.source == ExpenseSource.CSV
    assert expense.card_label == "Visa 1234"
    assert ExpenseEvent.objects.get(expense=expense, kind=EventKind.CREATED).actor == user
    assert report.summary.startswith("2 rows read from spend.csv")
    assert "2 created, 0 already there, 0 refused" in report.summary


def test_byte_order_mark_is_ignored():
    company = CompanyFactory()
    upload = SimpleUploadedFile(
        "excel.csv", ("\ufeff" + HEADER + "\r\n" + _row("t-1")).encode("utf-8")
    )

    report = _import(company, upload)

    assert report.rows[0].outcome == "created"


def test_columns_in_any_order_with_spaces_and_only_the_required_ones():
    company = CompanyFactory()
    upload = _csv(
        "  9.99 , 2026-11-03 ,EUR, Refund ,t-9",
        header=" amount,issue_date , currency,type,External_ID ",
    )

    report = _import(company, upload)

    assert report.rows[0].outcome == "created"
    expense = Expense.objects.get(company=company, external_id="t-9")
    assert (expense.type, expense.currency, str(expense.amount)) == ("Refund", "EUR", "9.99")


def test_missing_and_unknown_columns_are_named():
    with pytest.raises(CsvRefused) as refused:
        _import(
            CompanyFactory(),
            _csv("t-1,Payment,2026-11-02,GBP,x", header="external_id,type,date,currency,merchant"),
        )

    message = str(refused.value)
    assert message.startswith("Line 1 (the header) does not match.")
    assert "Unknown columns: 'date', 'merchant'." in message
    assert "Missing columns: issue_date, amount." in message
    assert not Expense.objects.exists()


def test_bad_rows_are_refused_with_their_row_number_and_field():
    company = CompanyFactory()

    report = _import(
        company,
        _csv(
            _row("t-1"),
            _row("t-2", amount="-5.00"),
            _row("t-3", issue_date="02/11/2026"),
            _row("t-4", type="Purchase"),
        ),
    )

    outcomes = {r.row: (r.outcome, [e.field for e in r.errors]) for r in report.rows}
    assert outcomes == {
        2: ("created", []),
        3: ("error", ["amount"]),
        4: ("error", ["issue_date"]),
        5: ("error", ["type"]),
    }
    assert "never negative" in report.rows[1].errors[0].message
    assert [r.row for r in report.refused] == [3, 4, 5]
    assert Expense.objects.filter(company=company).count() == 1


def test_repeats_are_reported_as_already_there():
    company = CompanyFactory()
    _import(company, _csv(_row("t-1"), _row("t-2")))

    report = _import(company, _csv(_row("t-1"), _row("t-2"), _row("t-2"), _row("t-3")))

    assert [r.outcome for r in report.rows] == ["existing", "existing", "existing", "created"]
    assert report.rows[0].expense_id == str(Expense.objects.get(external_id="t-1").pk)
    assert Expense.objects.filter(company=company).count() == 3


def test_repeat_with_other_values_is_refused_not_merged():
    company = CompanyFactory()
    _import(company, _csv(_row("t-1")))

    report = _import(company, _csv(_row("t-1", amount="99.00")))

    [result] = report.rows
    assert result.outcome == "error"
    assert result.errors[0].field == "amount"


def test_rows_across_batches_keep_their_row_numbers():
    company = CompanyFactory()
    lines = [_row(f"t-{n}") for n in range(MAX_BATCH)] + [_row("t-0"), _row("t-late", "x")]

    report = _import(company, _csv(*lines))

    assert len(report.rows) == MAX_BATCH + 2
    assert report.rows[-2].row == MAX_BATCH + 2
    assert report.rows[-2].outcome == "existing"
    assert (report.rows[-1].row, report.rows[-1].outcome) == (MAX_BATCH + 3, "error")


def test_blank_rows_are_skipped_and_counted():
    report = _import(CompanyFactory(), _csv(_row("t-1"), ",,,,,,,,,", "", _row("t-2")))

    assert [r.row for r in report.rows] == [2, 5]
    assert report.blank_rows == [3, 4]
    assert "2 blank rows skipped" in report.summary


def test_bad_encoding_names_the_line():
    upload = _csv(_row("t-1"), "t-2,Payment,2026-11-02,GBP,5.00,,Café,,,", encoding="latin-1")

    with pytest.raises(CsvRefused) as refused:
        _import(CompanyFactory(), upload)

    assert str(refused.value).startswith("Line 3 is not valid UTF-8 (byte 0xe9).")
    assert not Expense.objects.exists()


def test_ragged_row_names_the_line_and_nothing_is_imported():
    with pytest.raises(CsvRefused) as refused:
        _import(CompanyFactory(), _csv(_row("t-1"), _row("t-2") + ",extra"))

    assert str(refused.value).startswith("Line 3 (row 3) has 11 values but the header has 10")
    assert not Expense.objects.exists()


def test_broken_quotes_name_the_line():
    with pytest.raises(CsvRefused) as refused:
        _import(
            CompanyFactory(),
            _csv(_row("t-1"), 't-2,Payment,2026-11-02,GBP,5.00,,"Pret" x,,,'),
        )

    assert str(refused.value).startswith("Line 3 cannot be read as CSV")


def test_too_many_rows_are_refused_before_anything_is_saved():
    lines = [_row(f"t-{n}") for n in range(MAX_ROWS + 1)]

    with pytest.raises(CsvRefused) as refused:
        _import(CompanyFactory(), _csv(*lines))

    assert "more than 10,000 expenses" in str(refused.value)
    assert not Expense.objects.exists()


def test_empty_file_is_refused():
    with pytest.raises(CsvRefused) as refused:
        _import(CompanyFactory(), SimpleUploadedFile("empty.csv", b""))

    assert "empty" in str(refused.value)


# --- The admin screen -------------------------------------------------------------------------


def test_changelist_links_to_the_import(admin_client):
    response = admin_client.get(reverse("admin:expenses_expense_changelist"))

    assert reverse(IMPORT_URL).encode() in response.content


def test_import_page_explains_the_columns(admin_client):
    CompanyFactory(name="Acme Ltd")

    response = admin_client.get(reverse(IMPORT_URL))

    content = response.content.decode()
    assert response.status_code == 200
    assert "<code>currency_rate</code>" in content
    assert "Acme Ltd" in content
    assert 'enctype="multipart/form-data"' in content


def test_admin_import_shows_every_row_and_a_summary(admin_client):
    company = CompanyFactory(name="Acme Ltd")
    upload = _csv(_row("t-1"), _row("t-2", amount="-1"))

    response = admin_client.post(reverse(IMPORT_URL), {"company": company.pk, "file": upload})

    assert response.status_code == 200
    messages = [str(m) for m in response.context["messages"]]
    assert messages == [
        "2 rows read from spend.csv for Acme Ltd: 1 created, 0 already there, 1 refused."
    ]
    content = response.content.decode()
    assert "Refused rows (1)" in content
    assert "never negative" in content
    assert Expense.objects.filter(company=company).count() == 1


def test_admin_import_shows_why_a_file_was_refused(admin_client):
    company = CompanyFactory()
    upload = _csv(_row("t-1"), header="external_id,type")

    response = admin_client.post(reverse(IMPORT_URL), {"company": company.pk, "file": upload})

    assert response.status_code == 200
    assert "Missing columns: issue_date, currency, amount." in response.content.decode()
    assert not Expense.objects.exists()


def test_non_staff_are_sent_to_the_admin_login(client):
    client.force_login(UserFactory())

    response = client.get(reverse(IMPORT_URL))

    assert response.status_code == 302
    assert response.url.startswith(reverse("admin:login"))


def test_staff_without_change_permission_are_refused(client):
    client.force_login(StaffFactory())

    get = client.get(reverse(IMPORT_URL))
    post = client.post(
        reverse(IMPORT_URL), {"company": CompanyFactory().pk, "file": _csv(_row("t-1"))}
    )

    assert get.status_code == 403
    assert post.status_code == 403
    assert not Expense.objects.exists()


def test_staff_with_change_permission_may_import(client):
    staff = StaffFactory()
    staff.user_permissions.add(Permission.objects.get(codename="change_expense"))
    client.force_login(staff)

    response = client.post(
        reverse(IMPORT_URL), {"company": CompanyFactory().pk, "file": _csv(_row("t-1"))}
    )

    assert response.status_code == 200
    assert Expense.objects.get().external_id == "t-1"
