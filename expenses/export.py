"""Spreadsheet downloads: rows written as they are read, never the whole table in memory, and
every cell a spreadsheet could take for a formula neutralised.

Card data is hostile input: a merchant named `=HYPERLINK("http://x","y")` would run as a formula
in whoever opens the file. A cell that begins with `=`, `+`, `-`, `@`, a tab or a carriage
return is written with a single quote in front (OWASP's advice for CSV injection), so it is
shown as the text it is. Amounts are written by us, not typed in: they keep their sign.
"""

from __future__ import annotations

import csv
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from django.http import FileResponse, StreamingHttpResponse

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# The most rows a worksheet holds, the header row included (Excel's own limit).
XLSX_MAX_ROWS = 1_048_576


def neutralised(value: Any) -> str:
    """The cell's text, with a quote in front when a spreadsheet would read it as a formula."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (int, Decimal, float)):
        return str(value)  # a number we wrote: "-12.50" is a refund, not a formula
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    text = str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


class _Line:
    """A file-like object whose `write` hands back what it was given: csv.writer then makes
    one line of text per row, for a streaming response to send as it comes."""

    def write(self, text: str) -> str:
        return text


def csv_lines(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> Iterator[str]:
    """The header and each row as CSV text, one line at a time, every cell neutralised."""
    writer = csv.writer(_Line())
    # A byte-order mark first: Excel then reads the file as UTF-8, not the local code page.
    yield "\ufeff" + writer.writerow([neutralised(name) for name in header])
    for row in rows:
        yield writer.writerow([neutralised(cell) for cell in row])


def csv_response(
    *, filename: str, header: Sequence[str], rows: Iterable[Sequence[Any]]
) -> StreamingHttpResponse:
    """A CSV download sent as the rows are read: memory does not grow with the rows."""
    response = StreamingHttpResponse(
        (line.encode() for line in csv_lines(header, rows)),
        content_type="text/csv; charset=utf-8",
    )
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def xlsx_response(
    *, filename: str, header: Sequence[str], rows: Iterable[Sequence[Any]]
) -> FileResponse:
    """An XLSX download. The workbook is written row by row to a temporary file in XlsxWriter's
    constant-memory mode (a row is flushed when the next begins), then sent from the file: an
    XLSX is a zip archive, whose index comes last, so it cannot be sent before it is complete.
    A worksheet holds 1,048,575 rows under its header; past that, the last row says so."""
    out = tempfile.TemporaryFile(suffix=".xlsx")  # noqa: SIM115 - FileResponse closes it
    import xlsxwriter

    workbook = xlsxwriter.Workbook(
        out, {"constant_memory": True, "strings_to_formulas": False, "strings_to_urls": False}
    )
    sheet = workbook.add_worksheet("Export")
    sheet.write_row(0, 0, [neutralised(name) for name in header])
    for index, row in enumerate(rows, start=1):
        if index == XLSX_MAX_ROWS - 1:
            sheet.write_string(index, 0, "More rows than a worksheet holds: download the CSV.")
            break
        for column, cell in enumerate(row):
            # Numbers stay numbers, for sums; Excel keeps every number as a double anyway.
            if isinstance(cell, (int, Decimal)) and not isinstance(cell, bool):
                sheet.write_number(index, column, float(cell))
            else:
                sheet.write_string(index, column, neutralised(cell))
    workbook.close()
    out.seek(0)
    return FileResponse(
        out,
        as_attachment=True,
        filename=filename,
        content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    )
