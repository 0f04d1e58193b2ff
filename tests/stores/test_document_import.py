"""CSV import into a draft receipt or stocktake: encodings Excel writes, formulas, unknown codes and
bad numbers, every error by line, and nothing changed on any error."""

from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission
from django.contrib.messages import get_messages
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from stores import documents, services
from stores.document_import import import_lines
from stores.errors import DocumentError, DocumentImportError
from stores.models import StockDocumentLine, StoreStaff

from .conftest import make_sku, make_staff

pytestmark = pytest.mark.django_db


@pytest.fixture
def manager(store_a):
    user = make_staff(store_a, role=StoreStaff.Role.MANAGER, username="imp_mgr")
    user.user_permissions.add(*Permission.objects.filter(
        content_type__app_label="stores",
        codename__in=["view_stockdocument", "add_stockdocument", "change_stockdocument"]))
    return type(user).objects.get(pk=user.pk)


@pytest.fixture
def teas(db):
    green, black = make_sku("绿茶"), make_sku("红茶")
    black.barcode = "6901234567892"
    black.save()
    return green, black


def lines(doc):
    return sorted(StockDocumentLine.objects.filter(document=doc).values_list("sku_id", "quantity", "unit_cost",
                                                                            "counted"))


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gbk"])
def test_a_receipt_sheet_in_any_encoding_excel_writes(store_a, manager, teas, encoding):
    green, black = teas
    doc = documents.create_document(store_a, "receipt", by=manager)
    text = f"SKU编码,数量,成本单价\r\n{green.code},12,8.5\r\n6901234567892,3,\r\n,,\r\n"
    assert import_lines(doc, text.encode(encoding), by=manager) == 2
    assert lines(doc) == sorted([(green.pk, 12, Decimal("8.50"), None), (black.pk, 3, None, None)])
    assert doc.events.filter(action="imported").count() == 1
    assert doc.state == "draft"  # nothing posted


def test_a_count_sheet_with_english_headers_in_another_order(store_a, manager, teas):
    green, black = teas
    services.receive_stock(store_a, green, 10)
    sheet = documents.create_document(store_a, "stocktake", by=manager)
    data = f"quantity,code\n0,6901234567892\n9,{green.code}\n".encode()
    assert import_lines(sheet, data, by=manager) == 2
    counted = dict(sheet.lines.values_list("sku_id", "counted"))
    assert counted == {green.pk: 9, black.pk: 0}
    assert dict(sheet.lines.values_list("sku_id", "expected")) == {green.pk: 10, black.pk: 0}


def test_every_bad_line_is_reported_and_nothing_is_imported(store_a, manager, teas):
    green, black = teas
    other = make_sku("乙")
    other.barcode = black.barcode
    other.save()
    doc = documents.create_document(store_a, "receipt", by=manager)
    documents.set_line(doc, green, 1, by=manager)
    before = lines(doc)
    data = "\n".join([
        "SKU编码,数量,成本单价",
        f"{green.code},5,1.00",          # 2: good
        "=HYPERLINK(\"http://x\"),1,",   # 3: a formula
        f"{green.code},2,",              # 4: the same SKU again
        "NOPE-404,1,",                   # 5: unknown
        f"{black.barcode},1,",           # 6: a barcode of two SKUs
        f"{other.code},-1,",             # 7: negative
        f"{other.code},1.5,",            # 8: fraction
        f"{other.code},@SUM(A1),",       # 9: a formula in the quantity
        f"{other.code},1,-2",            # 10: a negative cost
        f"{other.code},99999999999,",    # 11: absurd
    ]).encode("gbk")
    with pytest.raises(DocumentImportError) as info:
        import_lines(doc, data, by=manager)
    reported = dict(info.value.errors)
    assert sorted(reported) == [3, 4, 5, 6, 7, 8, 9, 10, 11]
    assert "公式" in reported[3] and "第 2 行" in reported[4] and "NOPE-404" in reported[5]
    assert "多个商品" in reported[6] and "数量必须是" in reported[7] and "公式" in reported[9]
    assert lines(doc) == before
    assert not doc.events.filter(action="imported").exists()


@pytest.mark.parametrize("data, message", [
    (b"", "空"),
    (b"\xff\xfeS\x00K\x00", "UTF-16"),
    (b"\x81\x30\xff\xff\xfe", "编码"),
    (b"name,price\nx,1\n", "表头"),
    (b"SKU\xe7\xbc\x96\xe7\xa0\x81,\xe6\x95\xb0\xe9\x87\x8f\n", "没有数据"),
    (b"code,quantity\nA\x00B,1\n", "编码"),
    (b"code,code,quantity\nA,B,1\n", "表头"),
])
def test_files_that_cannot_be_read_are_refused_clearly(store_a, manager, data, message):
    doc = documents.create_document(store_a, "receipt", by=manager)
    with pytest.raises(DocumentError) as info:
        import_lines(doc, data, by=manager)
    assert message in str(info.value), str(info.value)
    assert not doc.lines.exists()


def test_a_posted_document_or_an_issue_takes_no_import(store_a, manager, teas):
    green, _black = teas
    doc = documents.create_document(store_a, "receipt", by=manager)
    documents.set_line(doc, green, 1, by=manager)
    documents.post_document(doc, by=manager)
    with pytest.raises(DocumentError) as info:
        import_lines(doc, f"code,quantity\n{green.code},5\n".encode(), by=manager)
    assert info.value.code == "not_draft"
    issue = documents.create_document(store_a, "issue", by=manager, issue_reason="damage")
    with pytest.raises(DocumentError) as info:
        import_lines(issue, f"code,quantity\n{green.code},5\n".encode(), by=manager)
    assert info.value.code == "invalid_kind"


def test_the_upload_page_lists_errors_by_line(client, store_a, manager, teas):
    green, _black = teas
    doc = documents.create_document(store_a, "receipt", by=manager)
    client.force_login(manager)
    url = reverse("stores_bo:document_import", args=[doc.pk])
    bad = SimpleUploadedFile("in.csv", "SKU编码,数量\nNOPE,1\n".encode("gbk"), content_type="text/csv")
    response = client.post(url, {"file": bad})
    notes = [str(m) for m in get_messages(response.wsgi_request)]
    assert response.status_code == 302 and any("第 2 行" in n and "NOPE" in n for n in notes)
    assert not doc.lines.exists()
    good = SimpleUploadedFile("in.csv", f"\ufeffSKU编码,数量\n{green.code},4\n".encode(), content_type="text/csv")
    client.post(url, {"file": good})
    assert list(doc.lines.values_list("sku_id", "quantity")) == [(green.pk, 4)]
    assert client.post(url, {}).status_code == 302
    # another store's manager: 404, nothing imported
    from .conftest import make_store

    other = make_staff(make_store("C店", code="store-c"), role=StoreStaff.Role.MANAGER, username="imp_mgr_c")
    other.user_permissions.add(*Permission.objects.filter(content_type__app_label="stores",
                                                          codename="change_stockdocument"))
    client.force_login(other)
    again = SimpleUploadedFile("in.csv", f"SKU编码,数量\n{green.code},9\n".encode(), content_type="text/csv")
    assert client.post(url, {"file": again}).status_code == 404
    assert list(doc.lines.values_list("sku_id", "quantity")) == [(green.pk, 4)]
