"""Receipts: the files finance staff attach to an expense, later uploaded to the ledger.

A receipt is accepted only if the customer's accounting software will take it (size, file type
and transaction type per platform: `PlatformRules.receipts`), judged by the file's own bytes,
never by the name or the browser's content type. The stored name is the content hash
(`receipt_upload_to`); the user's name is kept only for display.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass
from typing import Literal

from django.conf import settings
from django.contrib.auth.models import User
from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, transaction

from companies.models import Company
from companies.platforms import MB, ReceiptRules, TransactionType, rules_for
from expenses.models import EventKind, Expense, ExpenseEvent, Receipt
from expenses.services import ExpenseRefused
from expenses.validation import Problem

NAME_MAX = 255
# Enough bytes to tell every accepted format (and the common impostors) apart.
HEAD_BYTES = 64


@dataclass(frozen=True)
class FileKind:
    key: str
    label: str
    content_type: str
    extension: str  # the one the stored copy and the display name carry
    extensions: frozenset[str]  # names that honestly describe this content
    preview: Literal["image", "pdf", "other"]


_KINDS = (
    FileKind("pdf", "PDF", "application/pdf", "pdf", frozenset({"pdf"}), "pdf"),
    FileKind("png", "PNG image", "image/png", "png", frozenset({"png"}), "image"),
    FileKind(
        "jpeg",
        "JPEG image",
        "image/jpeg",
        "jpg",
        frozenset({"jpg", "jpeg", "jpe", "pjpg", "pjpeg"}),
        "image",
    ),
    FileKind("gif", "GIF image", "image/gif", "gif", frozenset({"gif"}), "image"),
    FileKind("webp", "WebP image", "image/webp", "webp", frozenset({"webp"}), "image"),
    # Browsers other than Safari cannot draw TIFF or HEIC, so they get a download link.
    FileKind("tiff", "TIFF image", "image/tiff", "tif", frozenset({"tif", "tiff"}), "other"),
    FileKind("bmp", "BMP image", "image/bmp", "bmp", frozenset({"bmp"}), "image"),
    FileKind("heic", "HEIC photo", "image/heic", "heic", frozenset({"heic", "heif"}), "other"),
)
FILE_KINDS = {kind.key: kind for kind in _KINDS}
_BY_CONTENT_TYPE = {kind.content_type: kind for kind in _KINDS}


_HEIC_BRANDS = {b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"hevm", b"hevs"}
_BMP_HEADER_SIZES = {12, 40, 52, 56, 64, 108, 124}


def sniff_file_kind(head: bytes) -> FileKind | None:
    """The accepted format these first bytes begin, or None."""
    if head.startswith(b"%PDF-"):
        return FILE_KINDS["pdf"]
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return FILE_KINDS["png"]
    if head.startswith(b"\xff\xd8\xff"):
        return FILE_KINDS["jpeg"]
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return FILE_KINDS["gif"]
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return FILE_KINDS["webp"]
    if head[:4] in (b"II*\x00", b"MM\x00*"):
        return FILE_KINDS["tiff"]
    if head[4:8] == b"ftyp" and head[8:12] in _HEIC_BRANDS:
        return FILE_KINDS["heic"]
    # "BM" alone is too common a start; the reserved bytes and the DIB header size pin it down.
    if (
        head[:2] == b"BM"
        and head[6:10] == b"\x00\x00\x00\x00"
        and int.from_bytes(head[14:18], "little") in _BMP_HEADER_SIZES
    ):
        return FILE_KINDS["bmp"]
    return None


def _describe_unknown(head: bytes) -> str | None:
    """A plain name for content we refuse, so the message says what the file really is."""
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if text.startswith((b"<!doctype html", b"<html", b"<head", b"<body", b"<script")):
        return "an HTML page"
    if text.startswith(b"<svg") or (text.startswith(b"<?xml") and b"<svg" in text):
        return "an SVG drawing (which can carry script)"
    if text.startswith(b"<?xml"):
        return "an XML document"
    if head.startswith(b"MZ"):
        return "a Windows program"
    if head.startswith(b"\x7fELF"):
        return "a program"
    if head.startswith(b"PK\x03\x04"):
        return "a ZIP archive or office document"
    if head.startswith(b"#!"):
        return "a script"
    return None


def receipt_limits(*, company: Company) -> ReceiptRules:
    """What the company's platform takes as a receipt, in the generation the company speaks."""
    return rules_for(company.platform, company.expenses_api).receipts


def _clean_name(raw: str) -> str:
    name = unicodedata.normalize("NFC", raw or "")
    name = re.split(r"[\\/]", name)[-1]  # drop folders, whichever separator the client used
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C")
    name = re.sub(r'[<>:"|?*]', "_", name)
    return re.sub(r"\s+", " ", name).strip().lstrip(".").strip()


def receipt_display_name(raw: str, kind: FileKind) -> str:
    """The user's file name made safe to show: no folders, no control characters, at most 255
    characters, and the extension of what the file really is. Never used as a storage path."""
    name = _clean_name(raw)
    stem, dot, extension = name.rpartition(".")
    if not dot or not re.fullmatch(r"[A-Za-z0-9]{1,5}", extension) or extension.isdigit():
        stem, extension = name, ""  # "Receipt from Mr. Smith" has no extension to replace
    if extension.lower() not in kind.extensions:
        extension = kind.extension  # the name said something else: show what the file is
    stem = stem.strip() or "receipt"
    return stem[: NAME_MAX - len(extension) - 1] + "." + extension


def _human_size(size: int) -> str:
    if size >= MB:
        return f"{size / MB:.0f} MB" if size % MB == 0 else f"{size / MB:.1f} MB"
    return f"{size / 1024:.0f} KB"


def _refuse(message: str, fix: str) -> ExpenseRefused:
    return ExpenseRefused([Problem("receipt", message, fix)])


def _read(upload: UploadedFile, limit: int) -> tuple[str, int, bytes]:
    """sha256, size and first bytes of the upload, reading it in chunks; stops past `limit`."""
    digest = hashlib.sha256()
    size = 0
    head = b""
    for chunk in upload.chunks():
        if len(head) < HEAD_BYTES:
            head += chunk[: HEAD_BYTES - len(head)]
        size += len(chunk)
        if size > limit:
            break  # no point hashing a file that is refused anyway
        digest.update(chunk)
    return digest.hexdigest(), size, head


def _size_limit(platform_label: str, limits: ReceiptRules) -> tuple[int, str]:
    portal = settings.RECEIPT_MAX_BYTES
    if portal < limits.max_bytes:
        return portal, f"the portal takes receipts up to {_human_size(portal)}"
    return (
        limits.max_bytes,
        f"{platform_label} takes attachments up to {_human_size(limits.max_bytes)}",
    )


def _kinds(limits: ReceiptRules) -> list[FileKind]:
    return [_BY_CONTENT_TYPE[content_type] for content_type in limits.content_types]


def _listed(words: list[str], conjunction: str) -> str:
    """'A, B and C'; a single word alone."""
    if len(words) < 2:
        return "".join(words)
    return ", ".join(words[:-1]) + f" {conjunction} " + words[-1]


def _kind_list(limits: ReceiptRules) -> str:
    return _listed([kind.label.split(" ")[0] for kind in _kinds(limits)], "or")


def receipts_refused(*, expense: Expense) -> Problem | None:
    """Why no receipt of this expense can reach its platform, or None when one can: the page
    says so before an upload is offered, and an upload is refused with the same words."""
    company = expense.company
    rules = rules_for(company.platform, company.expenses_api)
    if rules.takes_receipts(expense.type):
        return None
    labels = [t.label for t in TransactionType if rules.takes_receipts(t)]
    if labels:
        reach = f"only {_listed(labels, 'and')} receipts reach {company.platform_label}."
    else:
        reach = f"{company.platform_label} takes no receipts from {rules.api_name}."
    return Problem(
        "receipt",
        f"{company.platform_label} does not take receipts on "
        f"{TransactionType(expense.type).label} transactions.",
        f"Keep this receipt in your own records; {reach}",
    )


def receipt_accepted_formats(*, company: Company) -> str:
    """'PDF, PNG, JPEG …', for the upload form."""
    return _kind_list(receipt_limits(company=company))


def receipt_accept_attribute(*, company: Company) -> str:
    """The file chooser's `accept` list: every name the platform's receipt formats go by."""
    limits = receipt_limits(company=company)
    return ",".join(
        "." + extension
        for kind in _kinds(limits)
        for extension in [kind.extension, *sorted(kind.extensions - {kind.extension})]
    )


@transaction.atomic
def receipt_add(*, expense: Expense, upload: UploadedFile, by: User | None) -> Receipt:
    """Attach `upload` to `expense`, or return the receipt already holding the same bytes.

    Refused (`ExpenseRefused`, field "receipt") when the file is empty, larger than the
    platform or the portal takes, not a receipt format the platform takes (judged by its bytes),
    or the expense's type cannot carry attachments on the platform. A file whose name names
    another format is accepted as what it really is, and its display name says so.
    """
    company = expense.company
    platform_label = company.platform_label
    limits = receipt_limits(company=company)
    refused = receipts_refused(expense=expense)
    if refused is not None:
        raise ExpenseRefused([refused])
    max_bytes, limit_text = _size_limit(platform_label, limits)
    sha256, size, head = _read(upload, max_bytes)
    if size == 0:
        raise _refuse("The file is empty.", "Choose the receipt file again and upload it.")
    if size > max_bytes:
        raise _refuse(
            f"The file is larger than {_human_size(max_bytes)}: {limit_text}.",
            "Upload a smaller scan or photo, or a compressed PDF.",
        )
    kind = sniff_file_kind(head)
    if kind is None or kind.content_type not in limits.content_types:
        shown = _clean_name(upload.name or "")[:80] or "the file"
        what = f"a {kind.label}" if kind else _describe_unknown(head)
        if what is None:
            message = (
                f"The content of '{shown}' is not a format we recognise, so it cannot go to "
                f"{platform_label} as a receipt."
            )
        else:
            message = f"'{shown}' is {what}, which {platform_label} does not take as a receipt."
        raise _refuse(message, f"Upload the receipt as a {_kind_list(limits)} file.")

    existing = Receipt.objects.filter(expense=expense, sha256=sha256).first()
    if existing is not None:
        return existing  # the same file again: nothing to add

    receipt = Receipt(
        expense=expense,
        original_name=receipt_display_name(upload.name or "", kind),
        content_type=kind.content_type,
        size=size,
        sha256=sha256,
        uploaded_by=by,
    )
    # The storage name comes from receipt_upload_to (the hash); only the extension is ours.
    # Storage cannot join the database transaction. If a caller's enclosing transaction rolls
    # back after we return, the stored copy stays behind referenced by nothing: harmless, and
    # better than a receipt row whose file is missing.
    receipt.file.save(f"receipt.{kind.extension}", upload, save=False)
    try:
        with transaction.atomic():
            receipt.save()
    except IntegrityError:
        # Someone attached the same file a moment ago: theirs stands, our copy goes.
        receipt.file.storage.delete(receipt.file.name)
        return Receipt.objects.get(expense=expense, sha256=sha256)
    except BaseException:
        receipt.file.storage.delete(receipt.file.name)
        raise
    ExpenseEvent.objects.create(
        expense=expense,
        kind=EventKind.RECEIPT_ADDED,
        actor=by,
        message=f"Receipt '{receipt.original_name}' added",
        data={
            "receipt_id": receipt.pk,
            "sha256": sha256,
            "size": size,
            "content_type": kind.content_type,
            "name_given": (upload.name or "")[:NAME_MAX],
        },
    )
    return receipt


@transaction.atomic
def receipt_remove(*, receipt: Receipt, by: User | None) -> None:
    """Take a receipt off its expense while the expense can still change and the receipt has
    not been sent to Codat. The stored file goes once the removal is committed."""
    expense = Expense.objects.select_for_update().get(pk=receipt.expense_id)
    if not expense.is_editable:
        raise _refuse(
            f"The expense is {expense.get_status_display().lower()}, so its receipts cannot "
            "change.",
            "Wait for the sync to finish; receipts of a synced expense stay as they are.",
        )
    if receipt.uploads.exists():
        raise _refuse(
            f"Receipt '{receipt.original_name}' has already been sent to the accounting software.",
            "Delete it there; Codat cannot remove an attachment.",
        )
    storage, name = receipt.file.storage, receipt.file.name
    ExpenseEvent.objects.create(
        expense=expense,
        kind=EventKind.RECEIPT_REMOVED,
        actor=by,
        message=f"Receipt '{receipt.original_name}' removed",
        data={"receipt_id": receipt.pk, "sha256": receipt.sha256, "size": receipt.size},
    )
    receipt.delete()
    if name:
        # After commit: a rolled-back removal must still find its file.
        transaction.on_commit(lambda: storage.delete(name))


def receipt_signed_url(receipt: Receipt) -> str | None:
    """A short-lived signed URL to the private object when receipts live in a bucket (its
    lifetime is AWS_QUERYSTRING_EXPIRE), shown inline under the receipt's own name; None on the
    file system, where the portal serves the file itself."""
    storage = receipt.file.storage
    if not getattr(storage, "querystring_auth", False) or not receipt.file.name:
        return None
    ascii_name = receipt.original_name.encode("ascii", "replace").decode().replace('"', "'")
    return str(
        storage.url(
            receipt.file.name,
            parameters={
                "ResponseContentType": receipt.content_type or "application/octet-stream",
                "ResponseContentDisposition": f'inline; filename="{ascii_name}"',
                "ResponseCacheControl": "private, max-age=300",
            },
        )
    )


def receipt_preview_kind(receipt: Receipt) -> Literal["image", "pdf", "other"]:
    """How the detail page shows the receipt: inline image, embedded PDF, or a download link."""
    kind = _BY_CONTENT_TYPE.get(receipt.content_type)
    return kind.preview if kind else "other"
