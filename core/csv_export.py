"""Streamed CSV downloads for the back office.

UTF-8 with a BOM so Excel opens Chinese correctly, written row by row so a large export never sits
in memory, and every text cell defused against spreadsheet formulas (CSV injection): a nickname
typed by a shopper such as "=HYPERLINK(...)" must arrive as text.
"""

import csv

from django.http import StreamingHttpResponse

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_safe(value):
    """A text cell that starts like a formula gets a leading apostrophe; other values pass."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


class _Echo:
    def write(self, value):
        return value


def streaming_csv(filename, header, rows):
    """A StreamingHttpResponse of `header` then each row of `rows` (an iterable of sequences)."""
    writer = csv.writer(_Echo())

    def generate():
        yield "\ufeff" + writer.writerow([csv_safe(str(cell)) for cell in header])
        for row in rows:
            yield writer.writerow([csv_safe(cell) for cell in row])

    response = StreamingHttpResponse(generate(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
