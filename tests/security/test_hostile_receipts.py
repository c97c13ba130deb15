"""Receipts uploaded through the expense page that lie about their type, are too big, empty,
or carry path-traversal names: each is refused with a clear message, nothing is written outside
the media folder, and the receipts already attached are untouched."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from companies.models import Role
from expenses.models import Receipt
from tests.factories import ExpenseFactory, MembershipFactory, ReceiptFactory

pytestmark = pytest.mark.django_db

PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


@pytest.fixture
def media(settings) -> Path:
    return Path(settings.STORAGES["default"]["OPTIONS"]["location"])


@pytest.fixture
def page(db):
    expense = ExpenseFactory()
    kept = ReceiptFactory(expense=expense)
    user = MembershipFactory(company=expense.company, role=Role.BOOKKEEPER).user
    client = Client()
    client.force_login(user)
    upload_url = reverse("expense-receipt-upload", args=[expense.company_id, expense.pk])
    return client, expense, kept, upload_url


def _files(root: Path) -> set[Path]:
    return {p for p in root.rglob("*") if p.is_file()}


def _upload(client, url, name, content, content_type="application/pdf"):
    upload = SimpleUploadedFile(name, content, content_type=content_type)
    response = client.post(url, {"receipts": [upload]}, follow=True)
    assert response.status_code == 200
    return [str(m) for m in response.context["messages"]], response.content.decode()


def _assert_nothing_lost(expense, kept):
    kept.refresh_from_db()
    assert kept.file.storage.exists(kept.file.name)
    assert kept.file.read() == b"%PDF-1.4 receipt"
    assert list(expense.receipts.values_list("pk", flat=True)) == [kept.pk]


@pytest.mark.parametrize(
    ("name", "content", "content_type", "says"),
    [
        (
            "receipt.pdf",
            b"<!DOCTYPE html><script>alert(1)</script>",
            "application/pdf",
            "is an HTML page, which Xero does not take",
        ),
        (
            "photo.jpg",
            b"<svg xmlns='http://www.w3.org/2000/svg' onload='alert(1)'/>",
            "image/jpeg",
            "an SVG drawing (which can carry script)",
        ),
        ("invoice.pdf", b"MZ\x90\x00" + b"\x00" * 60, "application/pdf", "a Windows program"),
        ("scan.png", b"PK\x03\x04" + b"\x00" * 60, "image/png", "a ZIP archive"),
        ("notes.pdf", b"just some text", "application/pdf", "not a format we recognise"),
        ("empty.pdf", b"", "application/pdf", "The file is empty"),
        ("photo.webp", b"RIFF\x00\x00\x00\x00WEBPVP8 ", "image/webp", "a WebP image"),
    ],
)
def test_a_receipt_that_is_not_what_it_says_is_refused_clearly(
    page, media, name, content, content_type, says
):
    client, expense, kept, url = page
    before = _files(media)

    shown, _ = _upload(client, url, name, content, content_type)

    assert len(shown) == 1
    assert shown[0].startswith(f"{name}: ")
    assert says in shown[0]
    assert _files(media) == before
    _assert_nothing_lost(expense, kept)


def test_an_oversized_receipt_is_refused_naming_the_limit(page, media, settings):
    settings.RECEIPT_MAX_BYTES = 64 * 1024
    client, expense, kept, url = page
    before = _files(media)

    shown, _ = _upload(client, url, "big.pdf", PDF + b"0" * (65 * 1024))

    assert "larger than 64 KB: the portal takes receipts up to 64 KB" in shown[0]
    assert _files(media) == before
    _assert_nothing_lost(expense, kept)


@pytest.mark.parametrize(
    "name",
    [
        "../../../../etc/passwd.pdf",
        "..\\..\\..\\windows\\system32\\evil.pdf",
        "/tmp/absolute.pdf",
        "....//....//escape.pdf",
        "%2e%2e%2fencoded.pdf",
        "receipt.pdf\x00.html",
        "CON.pdf",
    ],
)
def test_a_traversal_name_is_stored_inside_media_under_its_hash(page, media, tmp_path, name):
    client, expense, kept, url = page
    outside = {p for p in tmp_path.parent.rglob("*") if p.is_file() and media not in p.parents}

    shown, _ = _upload(client, url, name, PDF)

    receipt = expense.receipts.exclude(pk=kept.pk).get()
    stored = (media / receipt.file.name).resolve()
    assert media.resolve() in stored.parents
    assert stored.name.startswith(receipt.sha256)
    assert "/" not in receipt.original_name
    assert "\\" not in receipt.original_name
    assert "\x00" not in receipt.original_name
    assert receipt.original_name.endswith(".pdf")
    now_outside = {p for p in tmp_path.parent.rglob("*") if p.is_file() and media not in p.parents}
    assert now_outside == outside
    assert shown[0].endswith("attached.")
    kept.refresh_from_db()
    assert kept.file.read() == b"%PDF-1.4 receipt"


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    # Names the test client itself cannot send (its basename is empty, "." or "..") left out.
    name=st.text(max_size=300).filter(
        lambda n: os.path.basename(n.replace("\\", "/")) not in {"", ".", ".."}
    ),
    content=st.one_of(st.binary(max_size=200), st.binary(max_size=100).map(lambda b: PDF + b)),
    content_type=st.sampled_from(["application/pdf", "image/png", "text/html", "", "x/y"]),
)
def test_any_upload_gets_an_answer_and_stays_inside_media(page, media, name, content, content_type):
    client, expense, kept, url = page
    receipts_before = expense.receipts.count()

    shown, html = _upload(client, url, name, content, content_type or "application/pdf")

    assert len(shown) == 1
    assert shown[0].endswith("attached.") or "receipt" in shown[0].lower() or "file" in shown[0]
    for receipt in Receipt.objects.filter(expense=expense):
        stored = (media / receipt.file.name).resolve()
        assert media.resolve() in stored.parents
    assert expense.receipts.count() in {receipts_before, receipts_before + 1}
    assert "<script>alert" not in html
    kept.refresh_from_db()
    assert kept.file.storage.exists(kept.file.name)


def test_a_served_receipt_is_sent_as_what_it_is_never_sniffed(page):
    client, expense, _, url = page
    _upload(client, url, "looks-like.html", PNG, "text/html")
    receipt = expense.receipts.get(content_type="image/png")

    response = client.get(
        reverse("expense-receipt-file", args=[expense.company_id, expense.pk, receipt.pk])
    )

    assert response["Content-Type"] == "image/png"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert receipt.original_name == "looks-like.png"
    assert 'filename="looks-like.png"' in response["Content-Disposition"]
