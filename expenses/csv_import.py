"""Expenses from a CSV file that support uploads in the admin.

The file is read whole and checked before anything is saved: a file we cannot read (encoding,
quoting, ragged rows, unknown or missing columns, too big) is refused with the line to look
at, and nothing is imported. Each row then goes through `expenses_ingest`, the same checks as
the card platform's API, and gets its own answer: created, already there, or refused with the
field and the message. Row numbers are the spreadsheet's: the header is row 1.
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from dataclasses import dataclass, field
from typing import Literal

from django.contrib.auth.models import User
from django.core.files.uploadedfile import UploadedFile

from companies.models import Company
from expenses.ingest import MAX_BATCH, expenses_ingest
from expenses.models import ExpenseSource

MAX_ROWS = 10_000
MAX_BYTES = 5 * 1024 * 1024  # ample for 10,000 rows of card spend
REQUIRED_COLUMNS = ("external_id", "type", "issue_date", "currency", "amount")
OPTIONAL_COLUMNS = (
    "currency_rate",
    "merchant_name",
    "card_label",
    "employee_name",
    "notes",
)
COLUMNS = REQUIRED_COLUMNS + OPTIONAL_COLUMNS


class CsvRefused(Exception):
    """The file as a whole cannot be imported; the message says where and what to do."""


@dataclass
class CsvRowError:
    field: str
    message: str


@dataclass
class CsvRowResult:
    row: int  # the spreadsheet row: 1 is the header, 2 the first expense
    external_id: str
    outcome: Literal["created", "existing", "error"]
    expense_id: str | None = None
    errors: list[CsvRowError] = field(default_factory=list)


@dataclass
class CsvImportReport:
    company: Company
    file_name: str
    rows: list[CsvRowResult]
    blank_rows: list[int] = field(default_factory=list)

    @property
    def counts(self) -> Counter[str]:
        return Counter(result.outcome for result in self.rows)

    @property
    def refused(self) -> list[CsvRowResult]:
        return [result for result in self.rows if result.outcome == "error"]

    @property
    def summary(self) -> str:
        counts = self.counts
        text = (
            f"{len(self.rows)} rows read from {self.file_name} for {self.company}: "
            f"{counts['created']} created, {counts['existing']} already there, "
            f"{counts['error']} refused."
        )
        if self.blank_rows:
            text += f" {len(self.blank_rows)} blank rows skipped."
        return text


def _size_text(size: int) -> str:
    return f"{size / (1024 * 1024):.0f} MB"


def _read_bytes(upload: UploadedFile) -> bytes:
    if upload.size is not None and upload.size > MAX_BYTES:
        raise CsvRefused(
            f"The file is larger than {_size_text(MAX_BYTES)}. Split it into smaller files."
        )
    data = b"".join(upload.chunks())
    if len(data) > MAX_BYTES:
        raise CsvRefused(
            f"The file is larger than {_size_text(MAX_BYTES)}. Split it into smaller files."
        )
    if not data.strip():
        raise CsvRefused("The file is empty. Export the expenses again with a header row.")
    return data


def _decode(data: bytes) -> str:
    try:
        # utf-8-sig drops the byte-order mark Excel writes at the start of "CSV UTF-8".
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise CsvRefused(
            f"Line {line} is not valid UTF-8 (byte 0x{data[exc.start]:02x}). Save the file "
            'as "CSV UTF-8" and upload it again.'
        ) from exc


def _header(names: list[str]) -> list[str]:
    columns = [name.strip().lower() for name in names]
    unknown = [name for name in columns if name not in COLUMNS]
    missing = [name for name in REQUIRED_COLUMNS if name not in columns]
    repeated = sorted({name for name in columns if name and columns.count(name) > 1})
    problems = []
    if unknown:
        shown = ", ".join(f"'{name}'" if name else "one with no name" for name in unknown)
        problems.append(f"Unknown columns: {shown}.")
    if missing:
        problems.append(f"Missing columns: {', '.join(missing)}.")
    if repeated:
        problems.append(f"Repeated columns: {', '.join(repeated)}.")
    if problems:
        raise CsvRefused(
            "Line 1 (the header) does not match. "
            + " ".join(problems)
            + f" The columns are: {', '.join(COLUMNS)} (the first {len(REQUIRED_COLUMNS)} "
            "are required, in any order)."
        )
    return columns


def csv_parse(*, data: bytes) -> tuple[list[tuple[int, dict[str, str]]], list[int]]:
    """The rows of a CSV file as (row number, values by column), and the blank rows skipped.

    Raises `CsvRefused` naming the line for anything that stops the file being read as a whole.
    """
    reader = csv.reader(io.StringIO(_decode(data), newline=""), strict=True)
    rows: list[tuple[int, dict[str, str]]] = []
    blank: list[int] = []
    columns: list[str] | None = None
    row_number = 0
    try:
        for values in reader:
            row_number += 1
            if columns is None:
                columns = _header(values)
                continue
            if not any(value.strip() for value in values):
                blank.append(row_number)
                continue
            if len(values) != len(columns):
                raise CsvRefused(
                    f"Line {reader.line_num} (row {row_number}) has {len(values)} values but "
                    f"the header has {len(columns)} columns. Check for a missing or extra comma, "
                    "or a value with a comma that is not in quotes."
                )
            if len(rows) == MAX_ROWS:
                raise CsvRefused(
                    f"The file has more than {MAX_ROWS:,} expenses. Split it into smaller files."
                )
            cells = zip(columns, values, strict=True)
            rows.append((row_number, {name: value.strip() for name, value in cells}))
    except csv.Error as exc:
        raise CsvRefused(
            f"Line {reader.line_num} cannot be read as CSV ({exc}). Check its quotes."
        ) from exc
    if columns is None:
        raise CsvRefused("The file is empty. Export the expenses again with a header row.")
    return rows, blank


def expenses_import_csv(
    *, company: Company, upload: UploadedFile, by: User | None
) -> CsvImportReport:
    """Import every row of `upload` into `company`, answering row by row.

    Rows go to `expenses_ingest` in batches, each batch its own transaction. A failure part-way
    leaves the earlier batches saved; importing the same file again is safe, as rows already
    there are reported as such.
    """
    rows, blank = csv_parse(data=_read_bytes(upload))
    results: list[CsvRowResult] = []
    for start in range(0, len(rows), MAX_BATCH):
        batch = rows[start : start + MAX_BATCH]
        answers = expenses_ingest(
            company=company,
            items=[values for _, values in batch],
            source=ExpenseSource.CSV,
            by=by,
        )
        for (row_number, values), answer in zip(batch, answers, strict=True):
            results.append(
                CsvRowResult(
                    row=row_number,
                    external_id=values.get("external_id", ""),
                    outcome=answer.outcome,
                    expense_id=answer.expense_id,
                    errors=[CsvRowError(e.field, e.message) for e in answer.errors],
                )
            )
    return CsvImportReport(
        company=company, file_name=upload.name or "the file", rows=results, blank_rows=blank
    )
