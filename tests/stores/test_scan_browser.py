"""A barcode read by the phone fills the product picker (issue 11, items 3 and 8), at 390 px in
Chromium: a photo of an EAN-13 barcode (drawn from the standard's tables, tests/codes.py) through
拍照识别 is decoded by the app's own decoder, searched as a scanner gun's Enter would be, and its
one exact match is picked; the quantity typed adds the line to a stocktake sheet. A barcode that
matches nothing picks nothing and says so."""

import pytest
from django.contrib.auth.models import Permission

from stores import documents
from tests.codes import ean13_check_digit, ean13_png

from .conftest import make_hq, make_sku, make_store
from .test_documents_browser import login, no_page_scroll

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def barcode_file(code):
    return {"name": "barcode.png", "mimeType": "image/png", "buffer": ean13_png(code)}


def test_the_drawn_barcodes_carry_a_right_check_digit():
    assert ean13_check_digit("690123456789") == "2"
    assert ean13_check_digit("400638133393") == "1"


def test_a_photographed_ean13_barcode_fills_the_picker(live_server, page, screenshot):
    from stores.services import receive_stock

    store = make_store("扫码店", code="scan-photo")
    water = make_sku("矿泉水")
    water.barcode = "6901234567892"
    water.save()
    other = make_sku("苏打水")
    other.barcode = "4006381333931"
    other.save()
    receive_stock(store, water, 12, reference="test:scan-photo")
    hq = make_hq("hq_scan_photo")
    hq.user_permissions.add(*Permission.objects.filter(
        content_type__app_label="stores", codename__in=["view_stockdocument", "add_stockdocument",
                                                        "change_stockdocument"]))
    sheet = documents.create_document(store, "stocktake", by=hq)
    login(page.context, live_server, hq)
    page.goto(f"{live_server.url}/backoffice/stores/documents/{sheet.pk}/")
    page.locator("[data-scan-photo]").wait_for()

    page.locator("[data-testid=scan-photo]").set_input_files(files=[barcode_file(water.barcode)])
    chosen = page.locator("[data-picker-chosen]:not([hidden])")
    chosen.wait_for()
    assert water.code in chosen.inner_text()
    assert page.evaluate("() => document.activeElement.name") == "quantity"
    assert no_page_scroll(page)
    screenshot("scan-barcode-1-picked")
    page.keyboard.type("11")
    page.keyboard.press("Enter")
    page.locator("[data-testid=document-line]").first.wait_for()
    line = sheet.lines.get()
    assert (line.sku_id, line.counted) == (water.pk, 11)

    # a barcode of a SKU with no stock row here is still found (a count may find goods the books lack)
    page.locator("[data-testid=scan-photo]").set_input_files(files=[barcode_file(other.barcode)])
    chosen.wait_for()
    assert other.code in chosen.inner_text()
    assert no_page_scroll(page)
    screenshot("scan-barcode-2-second")


def test_a_barcode_that_matches_nothing_picks_nothing(live_server, page):
    store = make_store("扫码店二", code="scan-none")
    hq = make_hq("hq_scan_none")
    hq.user_permissions.add(*Permission.objects.filter(
        content_type__app_label="stores", codename__in=["view_stockdocument", "add_stockdocument",
                                                        "change_stockdocument"]))
    doc = documents.create_document(store, "receipt", by=hq)
    login(page.context, live_server, hq)
    page.goto(f"{live_server.url}/backoffice/stores/documents/{doc.pk}/")
    page.locator("[data-scan-photo]").wait_for()
    page.locator("[data-testid=scan-photo]").set_input_files(files=[barcode_file("6901234567892")])
    none = page.locator("[data-testid=picker-none]")
    none.wait_for()
    assert "6901234567892" in none.inner_text()
    assert page.locator(".sdo-picker__input").input_value() == "6901234567892"
    assert page.locator("[data-picker-chosen]:not([hidden])").count() == 0
    assert page.locator("[data-pick]").count() == 0
