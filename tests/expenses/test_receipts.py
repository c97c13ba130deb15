"""Receipts are judged by their bytes against what the customer's ledger takes, stored under
their hash, added once, and removed only while nothing has been sent."""

import hashlib

import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile

from companies.platforms import ApiGeneration, Platform
from expenses.models import EventKind, ExpenseEvent, ExpenseStatus, Receipt
from expenses.receipts import (
    receipt_add,
    receipt_display_name,
    receipt_preview_kind,
    receipt_remove,
    sniff_file_kind,
)
from expenses.services import ExpenseRefused
from tests.factories import (
    CompanyFactory,
    ExpenseFactory,
    ReceiptFactory,
    ReceiptUploadFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

MB = 1024 * 1024
PDF = b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + b"\x00" * 40
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 40
WEBP = b"RIFF\x24\x00\x00\x00WEBPVP8 " + b"\x00" * 40
TIFF = b"II*\x00\x08\x00\x00\x00" + b"\x00" * 40
BMP = b"BM" + (60).to_bytes(4, "little") + b"\x00" * 4 + (54).to_bytes(4, "little")
BMP += (40).to_bytes(4, "little") + b"\x00" * 40
HEIC = b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + b"\x00" * 40
HTML = b"<!DOCTYPE html><html><script>alert(1)</script></html>"
EXE = b"MZ\x90\x00\x03\x00\x00\x00" + b"\x00" * 40


def _upload(name, content):
    return SimpleUploadedFile(name, content, content_type="image/jpeg")


def _expense(platform=Platform.XERO, **fields):
    return ExpenseFactory(company=CompanyFactory(platform=platform), **fields)


def _problem(refused):
    [problem] = refused.value.problems
    assert problem.field == "receipt"
    return problem


# --- Adding -----------------------------------------------------------------------------------


def test_pdf_receipt_is_stored_under_its_hash_with_an_event():
    expense = _expense()
    user = UserFactory()

    receipt = receipt_add(expense=expense, upload=_upload("Lunch.pdf", PDF), by=user)

    digest = hashlib.sha256(PDF).hexdigest()
    assert receipt.sha256 == digest
    assert receipt.size == len(PDF)
    assert receipt.content_type == "application/pdf"
    assert receipt.original_name == "Lunch.pdf"
    assert receipt.uploaded_by == user
    assert receipt.file.name == f"receipts/{expense.company_id}/{expense.pk}/{digest}.pdf"
    with receipt.file.open("rb") as stored:
        assert stored.read() == PDF
    event = ExpenseEvent.objects.get(expense=expense, kind=EventKind.RECEIPT_ADDED)
    assert event.actor == user
    assert event.data["receipt_id"] == receipt.pk
    assert event.data["sha256"] == digest


def test_same_file_twice_returns_the_first_receipt_and_records_once():
    expense = _expense()
    first = receipt_add(expense=expense, upload=_upload("a.pdf", PDF), by=None)

    second = receipt_add(expense=expense, upload=_upload("copy of a.pdf", PDF), by=None)

    assert second.pk == first.pk
    assert Receipt.objects.filter(expense=expense).count() == 1
    assert ExpenseEvent.objects.filter(kind=EventKind.RECEIPT_ADDED).count() == 1


def test_same_file_on_two_expenses_is_two_receipts():
    company = CompanyFactory()
    one, two = ExpenseFactory(company=company), ExpenseFactory(company=company)

    first = receipt_add(expense=one, upload=_upload("a.pdf", PDF), by=None)
    second = receipt_add(expense=two, upload=_upload("a.pdf", PDF), by=None)

    assert first.pk != second.pk
    assert first.file.name != second.file.name


def test_empty_file_is_refused():
    with pytest.raises(ExpenseRefused) as refused:
        receipt_add(expense=_expense(), upload=_upload("empty.pdf", b""), by=None)

    assert "empty" in _problem(refused).message
    assert not Receipt.objects.exists()


def test_file_over_xeros_limit_is_refused_naming_the_limit(settings):
    settings.RECEIPT_MAX_BYTES = 500 * MB
    content = PDF + b"\x00" * (10 * MB + 1 - len(PDF))

    with pytest.raises(ExpenseRefused) as refused:
        receipt_add(expense=_expense(Platform.XERO), upload=_upload("big.pdf", content), by=None)

    problem = _problem(refused)
    assert "Xero takes attachments up to 10 MB" in problem.message
    assert "smaller" in problem.fix
    assert not Receipt.objects.exists()
    assert not default_storage.exists("receipts")


def test_xero_in_the_newer_generation_takes_the_documents_smaller_limit(settings):
    """The newer document gives Xero 3 MB where Codat's docs say 10: the smaller one holds, so
    the portal refuses what Codat might turn away after the portal took it."""
    settings.RECEIPT_MAX_BYTES = 500 * MB
    content = PDF + b"\x00" * (3 * MB + 1 - len(PDF))
    newer = CompanyFactory(platform=Platform.XERO, expenses_api=ApiGeneration.EXPENSES)

    with pytest.raises(ExpenseRefused) as refused:
        receipt_add(
            expense=ExpenseFactory(company=newer), upload=_upload("b.pdf", content), by=None
        )

    assert "Xero takes attachments up to 3 MB" in _problem(refused).message
    assert receipt_add(expense=_expense(Platform.XERO), upload=_upload("b.pdf", content), by=None)


def test_same_size_file_is_taken_by_quickbooks_with_its_larger_limit(settings):
    settings.RECEIPT_MAX_BYTES = 500 * MB
    content = PDF + b"\x00" * (10 * MB + 1 - len(PDF))

    receipt = receipt_add(
        expense=_expense(Platform.QUICKBOOKS_ONLINE), upload=_upload("big.pdf", content), by=None
    )

    assert receipt.size == 10 * MB + 1


def test_portal_cap_applies_below_the_platform_limit(settings):
    settings.RECEIPT_MAX_BYTES = 2048

    with pytest.raises(ExpenseRefused) as refused:
        receipt_add(
            expense=_expense(Platform.DYNAMICS_365),
            upload=_upload("scan.pdf", PDF + b"\x00" * 2048),
            by=None,
        )

    assert "the portal takes receipts up to 2 KB" in _problem(refused).message


def test_unrecognised_bytes_named_pdf_are_refused():
    with pytest.raises(ExpenseRefused) as refused:
        receipt_add(expense=_expense(), upload=_upload("receipt.pdf", b"just some text\n"), by=None)

    problem = _problem(refused)
    assert "not a format we recognise" in problem.message
    assert "PDF, PNG, JPEG, GIF, TIFF or BMP" in problem.fix


@pytest.mark.parametrize(
    ("content", "described"),
    [(HTML, "an HTML page"), (EXE, "a Windows program"), (b"<svg onload=x>", "an SVG")],
)
def test_dangerous_content_named_jpg_is_refused_saying_what_it_is(content, described):
    with pytest.raises(ExpenseRefused) as refused:
        receipt_add(expense=_expense(), upload=_upload("photo.jpg", content), by=None)

    assert f"'photo.jpg' is {described}" in _problem(refused).message
    assert not Receipt.objects.exists()


def test_png_named_pdf_is_accepted_as_the_png_it_is():
    receipt = receipt_add(expense=_expense(), upload=_upload("receipt.pdf", PNG), by=None)

    assert receipt.content_type == "image/png"
    assert receipt.original_name == "receipt.png"
    assert receipt.file.name.endswith(".png")


def test_format_the_platform_does_not_take_is_refused_naming_it():
    with pytest.raises(ExpenseRefused) as refused:
        receipt_add(expense=_expense(Platform.XERO), upload=_upload("x.webp", WEBP), by=None)

    assert "is a WebP image, which Xero does not take" in _problem(refused).message


@pytest.mark.parametrize(
    ("content", "content_type"),
    [
        (WEBP, "image/webp"),
        (HEIC, "image/heic"),
        (TIFF, "image/tiff"),
        (BMP, "image/bmp"),
        (JPEG, "image/jpeg"),
    ],
)
def test_dynamics_takes_every_image_format(content, content_type):
    receipt = receipt_add(
        expense=_expense(Platform.DYNAMICS_365), upload=_upload("photo", content), by=None
    )

    assert receipt.content_type == content_type


def test_receipt_on_a_type_the_platform_cannot_attach_to_is_refused():
    expense = _expense(Platform.QUICKBOOKS_ONLINE, type="Reward")

    with pytest.raises(ExpenseRefused) as refused:
        receipt_add(expense=expense, upload=_upload("a.pdf", PDF), by=None)

    problem = _problem(refused)
    assert "QuickBooks Online does not take receipts on Reward transactions" in problem.message
    assert "Payment and Refund" in problem.fix


@pytest.mark.parametrize(
    ("given", "shown"),
    [
        ("../../etc/passwd.pdf", "passwd.pdf"),
        ("..\\..\\Windows\\system32\\evil.pdf", "evil.pdf"),
        ("/var/www/.htaccess", "htaccess.pdf"),
        ("bad\x00name\r\n.pdf", "badname.pdf"),
        ('what<>:"|?*.pdf', "what_______.pdf"),
        ("Receipt from Mr. Smith", "Receipt from Mr. Smith.pdf"),
        ("", "receipt.pdf"),
        ("..", "receipt.pdf"),
    ],
)
def test_display_name_is_sanitised(given, shown):
    assert receipt_display_name(given, sniff_file_kind(PDF)) == shown


def test_traversal_name_never_reaches_the_storage_path():
    expense = _expense()

    receipt = receipt_add(
        expense=expense, upload=_upload("../../../../tmp/owned.pdf", PDF), by=None
    )

    assert receipt.original_name == "owned.pdf"
    assert receipt.file.name.startswith(f"receipts/{expense.company_id}/{expense.pk}/")
    assert ".." not in receipt.file.name


def test_long_name_is_truncated_keeping_the_extension():
    receipt = receipt_add(expense=_expense(), upload=_upload("a" * 400 + ".pdf", PDF), by=None)

    assert len(receipt.original_name) == 255
    assert receipt.original_name.endswith("a.pdf")


# --- Removing ---------------------------------------------------------------------------------


def test_remove_deletes_the_receipt_records_it_and_drops_the_file_after_commit(
    django_capture_on_commit_callbacks,
):
    expense = _expense()
    user = UserFactory()
    receipt = receipt_add(expense=expense, upload=_upload("a.pdf", PDF), by=None)
    name = receipt.file.name

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        receipt_remove(receipt=receipt, by=user)
        assert default_storage.exists(name)  # still there until the removal commits
    for callback in callbacks:
        callback()

    assert not Receipt.objects.filter(expense=expense).exists()
    assert not default_storage.exists(name)
    event = ExpenseEvent.objects.get(expense=expense, kind=EventKind.RECEIPT_REMOVED)
    assert event.actor == user
    assert "a.pdf" in event.message


@pytest.mark.parametrize("status", [ExpenseStatus.SYNCING, ExpenseStatus.SYNCED])
def test_remove_is_refused_once_the_expense_is_in_sync(status):
    receipt = ReceiptFactory(expense=_expense(status=status))

    with pytest.raises(ExpenseRefused) as refused:
        receipt_remove(receipt=receipt, by=None)

    assert "cannot change" in _problem(refused).message
    assert Receipt.objects.filter(pk=receipt.pk).exists()


def test_remove_is_refused_once_the_receipt_was_sent_to_codat():
    upload = ReceiptUploadFactory(receipt=ReceiptFactory(expense=_expense(status="failed")))

    with pytest.raises(ExpenseRefused) as refused:
        receipt_remove(receipt=upload.receipt, by=None)

    assert "already been sent" in _problem(refused).message
    assert Receipt.objects.filter(pk=upload.receipt.pk).exists()
    assert not ExpenseEvent.objects.filter(kind=EventKind.RECEIPT_REMOVED).exists()


def test_a_removed_file_can_be_added_again(django_capture_on_commit_callbacks):
    expense = _expense()
    receipt = receipt_add(expense=expense, upload=_upload("a.pdf", PDF), by=None)
    with django_capture_on_commit_callbacks(execute=True):
        receipt_remove(receipt=receipt, by=None)

    again = receipt_add(expense=expense, upload=_upload("a.pdf", PDF), by=None)

    assert again.pk != receipt.pk
    assert default_storage.exists(again.file.name)


# --- Previews ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content_type", "kind"),
    [
        ("application/pdf", "pdf"),
        ("image/png", "image"),
        ("image/jpeg", "image"),
        ("image/webp", "image"),
        ("image/tiff", "other"),
        ("image/heic", "other"),
        ("text/html", "other"),
    ],
)
def test_preview_kind_follows_the_sniffed_content_type(content_type, kind):
    assert receipt_preview_kind(ReceiptFactory.build(content_type=content_type)) == kind
