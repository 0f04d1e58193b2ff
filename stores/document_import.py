"""CSV import of a receipt's lines or a stocktake's counts into a draft document.

The file is what Excel or WPS saves: UTF-8 with or without a BOM, or GBK/GB18030 (Excel's "CSV"
on a Chinese Windows). The first row names the columns (Chinese or English, in any order):

    SKU编码 / 条码 / code / barcode   the SKU, by its code or its barcode (one of them)
    数量 / 实盘数量 / quantity / count  a whole number (a count may be 0)
    成本单价 / cost                     optional, receipts only: yuan, at most two decimals

Everything is read and checked before anything is written: a bad cell, an unknown or ambiguous
code, a SKU twice, a cell that starts like a spreadsheet formula (= + - @) and the file is refused
with every error listed by its line number, and the document is left as it was. A good file sets
the lines in one transaction (a SKU already on the document takes the file's figures). Nothing is
posted: the document stays a draft to be checked and posted as usual.
"""

import codecs
import csv
import io
import re

from django.db import transaction
from django.utils.translation import gettext as _

from core.csv_export import FORMULA_STARTS

from . import documents
from .errors import DocumentError, DocumentImportError
from .models import StockDocument

MAX_BYTES = 2 * 1024 * 1024
MAX_ROWS = 5000
MAX_ERRORS = 50

CODE_HEADERS = {"sku编码", "编码", "sku", "code", "sku code", "条码", "条形码", "barcode"}
QUANTITY_HEADERS = {"数量", "实盘数量", "盘点数量", "quantity", "qty", "count", "counted"}
COST_HEADERS = {"成本单价", "成本价", "成本", "unit_cost", "unit cost", "cost"}


def decode(data):
    """The text of an uploaded CSV: UTF-8 (BOM or not), else GB18030 (a superset of GBK)."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise DocumentError(_("不支持 UTF-16 编码的文件，请另存为 CSV（UTF-8 或 GBK）"), code="bad_file")
    if data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8):]
    for encoding in ("utf-8", "gb18030"):
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        if "\x00" in text:
            break
        return text
    raise DocumentError(_("无法识别文件编码，请另存为 CSV（UTF-8 或 GBK）"), code="bad_file")


def looks_like_formula(value):
    """A cell a spreadsheet would evaluate (=, +, -, @ first), unless it is a plain signed number
    (-1 is a bad quantity, reported as such, not a formula)."""
    return value.startswith(FORMULA_STARTS) and not re.fullmatch(r"[-+]?[0-9]+(\.[0-9]+)?", value)


def _column(header, names):
    found = [i for i, cell in enumerate(header) if cell.strip().lower() in names]
    return found[0] if len(found) == 1 else (None if not found else -1)


def parse(document, data):
    """[(line_no, sku_id, quantity, unit_cost)] from the file's bytes, or DocumentImportError
    listing every bad line (DocumentError for a file that cannot be read at all)."""
    from .selectors import skus_for_code

    if len(data) > MAX_BYTES:
        raise DocumentError(_("文件过大（最大 2 MB）"), code="bad_file")
    text = decode(data)
    try:
        rows = list(csv.reader(io.StringIO(text, newline="")))
    except csv.Error as exc:
        raise DocumentError(_("无法读取 CSV 文件：%(error)s") % {"error": exc}, code="bad_file") from exc
    if not rows or not any(cell.strip() for cell in rows[0]):
        raise DocumentError(_("文件是空的"), code="bad_file")
    if len(rows) > MAX_ROWS + 1:
        raise DocumentError(_("一次最多导入 %(n)s 行") % {"n": MAX_ROWS}, code="bad_file")
    header = rows[0]
    code_at, quantity_at = _column(header, CODE_HEADERS), _column(header, QUANTITY_HEADERS)
    cost_at = _column(header, COST_HEADERS) if document.kind == StockDocument.Kind.RECEIPT else None
    if code_at is None or quantity_at is None or code_at == -1 or quantity_at == -1 or cost_at == -1:
        raise DocumentError(
            _("第 1 行应为表头，且各有一列：SKU编码或条码、数量（入库单可加一列成本单价）"), code="bad_file"
        )
    count = document.kind == StockDocument.Kind.STOCKTAKE
    parsed, errors, seen = [], [], {}
    for line_no, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue

        def cell(at, row=row):
            return row[at].strip() if at is not None and at < len(row) else ""

        code, quantity, cost = cell(code_at), cell(quantity_at), cell(cost_at)
        formula = next((value for value in (code, quantity, cost) if looks_like_formula(value)), None)
        if formula is not None:
            errors.append((line_no, _("「%(cell)s」像是公式，请只填写数值或文字") % {"cell": formula[:20]}))
            continue
        if not code:
            errors.append((line_no, _("缺少 SKU编码或条码")))
            continue
        found = skus_for_code(code)
        if not found:
            errors.append((line_no, _("找不到编码或条码「%(code)s」") % {"code": code[:40]}))
            continue
        if len(found) > 1:
            errors.append((line_no, _("条码「%(code)s」对应多个商品，请改用 SKU编码") % {"code": code[:40]}))
            continue
        sku_id = found[0].pk
        if sku_id in seen:
            errors.append((line_no, _("与第 %(n)s 行是同一个商品") % {"n": seen[sku_id]}))
            continue
        seen[sku_id] = line_no
        try:
            value = documents.parse_quantity(quantity, allow_zero=count)
            unit_cost = documents.parse_cost(cost) if cost_at is not None else None
        except DocumentError as exc:
            errors.append((line_no, str(exc)))
            continue
        parsed.append((line_no, sku_id, value, unit_cost))
        if len(errors) >= MAX_ERRORS:
            break
    if errors:
        raise DocumentImportError(errors)
    if not parsed:
        raise DocumentError(_("文件里没有数据行"), code="bad_file")
    return parsed


@transaction.atomic
def import_lines(document, data, *, by):
    """Set a draft receipt's lines or a draft stocktake's counts from a CSV file (bytes). Returns
    the number of lines set. Any error: nothing changes (see the module's docstring)."""
    if document.kind not in (StockDocument.Kind.RECEIPT, StockDocument.Kind.STOCKTAKE):
        raise DocumentError(_("只有入库单和盘点单可以导入"), code="invalid_kind")
    document = documents._lock(document)
    documents._require_store(by, document.store)
    documents._require_draft(document)
    rows = parse(document, data)
    for _line_no, sku_id, quantity, unit_cost in rows:
        if document.kind == StockDocument.Kind.STOCKTAKE:
            documents.record_count(document, sku_id, quantity, by=by)
        else:
            documents.set_line(document, sku_id, quantity, unit_cost=unit_cost, by=by)
    documents._event(document, "imported", by, _("%(n)s 行") % {"n": len(rows)})
    return len(rows)
