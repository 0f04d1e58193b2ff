"""HQ stocks a new product from a phone: a receipt (入库) into a store, lines added with the product
picker (search and a scanned barcode), posted after the confirmation; the product then shows in
stock on the shop's product page for that store. Screenshots at 390 px."""

import re

import pytest
from django.conf import settings
from django.contrib.auth.models import Permission
from django.test import Client

from catalog.models import Sku
from stores.context_processors import CHOSEN_COOKIE
from stores.models import Stock, StockDocument
from tests.catalog.factories import product as make_product

from .conftest import make_hq, make_store

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def login(context, live_server, user, **cookies):
    client = Client()
    client.force_login(user)
    host = live_server.url.split("://", 1)[1].split(":")[0]
    jar = [{"name": settings.SESSION_COOKIE_NAME, "value": client.cookies[settings.SESSION_COOKIE_NAME].value,
            "domain": host, "path": "/"}]
    jar += [{"name": name, "value": value, "domain": host, "path": "/"} for name, value in cookies.items()]
    context.add_cookies(jar)


def no_page_scroll(page):
    return page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth")


def test_hq_receives_a_four_sku_product_into_a_store_and_it_becomes_buyable(live_server, page, browser,
                                                                           screenshot):
    store = make_store("静安寺店", code="sh-jingan-doc")
    tee = make_product("纯棉T恤", options={"颜色": ["白色", "黑色"], "尺码": ["M", "L"]}, price="59.00")
    skus = list(Sku.objects.filter(product=tee).order_by("pk"))
    assert len(skus) == 4
    scanned = skus[3]
    scanned.barcode = "6901234567892"
    scanned.save()
    hq = make_hq("hq_phone")
    hq.user_permissions.add(*Permission.objects.filter(
        content_type__app_label="stores", codename__in=["view_stockdocument", "add_stockdocument",
                                                        "change_stockdocument"]))

    # the shopper's view before: every SKU is out of stock in the chosen store
    shopper = browser.new_context(**{"viewport": {"width": 390, "height": 844}, "device_scale_factor": 2,
                                     "is_mobile": True, "has_touch": True, "locale": "zh-CN"})
    shop = shopper.new_page()
    host = live_server.url.split("://", 1)[1].split(":")[0]
    shopper.add_cookies([{"name": CHOSEN_COOKIE, "value": str(store.pk), "domain": host, "path": "/"}])
    shop.goto(f"{live_server.url}/products/{tee.pk}/")
    assert shop.locator("input[name=sku_id]:disabled").count() == 4

    login(page.context, live_server, hq)
    base = live_server.url
    page.goto(f"{base}/backoffice/stores/documents/")
    page.get_by_role("link", name="+ 入库").click()
    page.wait_for_url("**/documents/new/receipt/")
    page.select_option("select[name=store]", str(store.pk))
    page.select_option("select[name=source]", "hq")
    assert no_page_scroll(page)
    screenshot("documents-1-new-receipt")
    page.get_by_role("button", name="创建并添加商品").click()
    page.locator("[data-testid=document-number]").wait_for()
    doc = StockDocument.objects.get()
    assert doc.store == store and doc.source == "hq"

    # three SKUs by searching and tapping, the fourth by its barcode and Enter (a scanner gun)
    search = page.locator(".sdo-picker__input")
    for i, sku in enumerate(skus[:3]):
        search.fill("纯棉")
        page.locator(f"[data-pick][data-sku='{sku.pk}']").wait_for()
        if i == 0:
            assert "无库存记录" in page.locator("[data-testid=picker-results]").inner_text()
            assert no_page_scroll(page)
            screenshot("documents-2-picker")
        page.locator(f"[data-pick][data-sku='{sku.pk}']").click()
        assert page.evaluate("() => document.activeElement.name") == "quantity"
        page.keyboard.type(str(10 + i))
        page.keyboard.press("Enter")
        page.locator("[data-testid=document-line]").nth(i).wait_for()
    search = page.locator(".sdo-picker__input")
    search.fill("6901234567892")
    search.press("Enter")
    page.locator("[data-picker-chosen]:not([hidden])").wait_for()
    page.keyboard.type("8")
    page.keyboard.press("Enter")
    page.locator("[data-testid=document-line]").nth(3).wait_for()
    assert dict(doc.lines.values_list("sku_id", "quantity")) == {
        skus[0].pk: 10, skus[1].pk: 11, skus[2].pk: 12, scanned.pk: 8}
    assert no_page_scroll(page)
    screenshot("documents-3-lines")

    page.locator("[data-testid=document-post]").click()
    dialog = page.locator(".obo-dialog")
    dialog.wait_for()
    assert "4 种商品共 41 件" in dialog.inner_text()
    screenshot("documents-4-confirm")
    dialog.get_by_role("button", name="确定").click()
    page.locator("[data-testid=document-state]", has_text="已过账").wait_for()
    assert {s.sku_id: s.on_hand for s in Stock.objects.filter(store=store)} == {
        skus[0].pk: 10, skus[1].pk: 11, skus[2].pk: 12, scanned.pk: 8}
    assert page.locator("[data-testid=document-timeline] li").count() == 2
    assert no_page_scroll(page)
    screenshot("documents-5-posted")

    page.goto(f"{base}/backoffice/stores/documents/")
    assert page.locator("[data-testid=document-list] tbody tr").count() == 1
    assert no_page_scroll(page)
    screenshot("documents-6-list")

    # the shop: the product is now buyable in that store
    shop.goto(f"{live_server.url}/products/{tee.pk}/")
    assert shop.locator("input[name=sku_id]:disabled").count() == 0
    shop.locator(".catalog-actionbar").get_by_role("button", name="加入购物车").click()
    sheet = shop.locator("#sku-sheet")
    sheet.locator(".catalog-picker__value", has_text=re.compile("^白色$")).click()
    sheet.locator(".catalog-picker__value", has_text=re.compile("^M$")).click()
    assert sheet.locator("[data-sku-stock]").inner_text() == "有货"
    screenshot("documents-7-shop-in-stock", shop)
    shopper.close()


def test_a_manager_counts_a_stocktake_on_a_phone_and_posts_the_variances(live_server, page, screenshot):
    from stores import services
    from stores.models import StoreStaff

    from .conftest import make_sku, make_staff

    store = make_store("南京西路店", code="sh-njxl-doc")
    tea, cup, nuts = make_sku("西湖龙井"), make_sku("保温杯"), make_sku("每日坚果")
    for sku, n in ((tea, 10), (cup, 4), (nuts, 6)):
        services.receive_stock(store, sku, n)
    manager = make_staff(store, role=StoreStaff.Role.MANAGER, username="count_mgr")
    manager.user_permissions.add(*Permission.objects.filter(
        content_type__app_label="stores", codename__in=["view_stockdocument", "add_stockdocument",
                                                        "change_stockdocument"]))
    login(page.context, live_server, manager)
    page.goto(f"{live_server.url}/backoffice/stores/documents/new/stocktake/")
    page.get_by_role("button", name="创建并添加商品").click()
    page.locator("[data-testid=document-number]").wait_for()
    assert page.locator("[data-testid=document-line]").count() == 3

    # by search: 8 teas on the shelf
    page.locator(".sdo-picker__input").fill("龙井")
    page.locator(f"[data-pick][data-sku='{tea.pk}']").click()
    page.keyboard.type("8")
    page.keyboard.press("Enter")
    page.locator("[data-testid=line-variance]", has_text="-2").wait_for()
    # on the card itself: 5 cups
    card = page.locator("[data-testid=document-line]", has_text="保温杯")
    card.locator("input[name=quantity]").fill("5")
    card.get_by_role("button", name="保存").click()
    page.locator("[data-testid=line-variance]", has_text="+1").wait_for()
    summary = page.locator("[data-testid=stocktake-summary]").inner_text()
    assert "+1" in summary and "-2" in summary
    assert no_page_scroll(page)
    screenshot("documents-8-stocktake-counted")

    page.locator("[data-testid=document-post]").click()
    dialog = page.locator(".obo-dialog")
    assert "盘盈 1 件，盘亏 2 件；未盘的 1 种商品不调整" in dialog.inner_text()
    dialog.get_by_role("button", name="确定").click()
    page.locator("[data-testid=document-state]", has_text="已过账").wait_for()
    assert dict(Stock.objects.filter(store=store).values_list("sku_id", "on_hand")) == {
        tea.pk: 8, cup.pk: 5, nuts.pk: 6}
    assert no_page_scroll(page)
    screenshot("documents-9-stocktake-posted")


def test_a_transfer_is_filled_with_the_product_picker(live_server, page, screenshot):
    from stores import services
    from stores.models import Transfer

    from .conftest import make_sku, make_staff

    source, destination = make_store("源店", code="src-doc"), make_store("目的店", code="dst-doc")
    tea, cup = make_sku("西湖龙井"), make_sku("保温杯")
    cup.barcode = "6907777777777"
    cup.save()
    services.receive_stock(source, tea, 10)
    services.receive_stock(source, cup, 4)
    clerk = make_staff(source, username="transfer_clerk")
    login(page.context, live_server, clerk)
    page.goto(f"{live_server.url}/backoffice/stores/transfers/new/")
    page.select_option("select[name=source]", str(source.pk))
    page.select_option("select[name=destination]", str(destination.pk))
    box = page.locator("[data-testid=transfer-picker]")
    box.locator(".sdo-picker__input").fill("龙井")
    box.locator(f"[data-pick][data-sku='{tea.pk}']").click()
    page.keyboard.press("Control+A")
    page.keyboard.type("3")
    page.keyboard.press("Enter")
    box.locator(".sdo-picker__input").fill("6907777777777")
    box.locator(".sdo-picker__input").press("Enter")
    box.locator("[data-picker-chosen]:not([hidden])").wait_for()
    page.keyboard.press("Control+A")
    page.keyboard.type("2")
    box.get_by_role("button", name="加入清单").click()
    assert page.locator("textarea[name=lines]").input_value() == f"{tea.code} 3\n{cup.code} 2\n"
    assert no_page_scroll(page)
    screenshot("documents-10-transfer-picker")
    page.get_by_role("button", name="保存草稿").click()
    page.wait_for_url("**/transfers/*/")
    transfer = Transfer.objects.get()
    assert sorted(transfer.lines.values_list("sku_id", "quantity")) == sorted([(tea.pk, 3), (cup.pk, 2)])


WX_STUB = """() => {
  const stub = {
    configured: null,
    config(cfg) { stub.configured = cfg; },
    ready(callback) { setTimeout(callback, 0); },
    error() {},
    scanQRCode(options) { options.success({ resultStr: "EAN_13,6901234567892" }); },
  };
  // jweixin.js, served by us, would replace window.wx: keep the stub (headless chromium has no WeixinJSBridge)
  Object.defineProperty(window, "wx", { get: () => stub, set: () => {}, configurable: false });
  Object.defineProperty(window, "jWeixin", { get: () => stub, set: () => {}, configurable: false });
}"""


def test_inside_wechat_the_scan_button_reads_a_barcode_with_wechats_scanner(live_server, page, settings):
    from django.core.cache import cache

    from stores.views import JSAPI_TICKET_CACHE_KEY

    from .conftest import make_sku

    settings.WECHAT_APP_ID, settings.WECHAT_APP_SECRET = "wx-test-app", "secret"
    cache.set(JSAPI_TICKET_CACHE_KEY, "test-jsapi-ticket", 600)
    store = make_store("扫码店", code="scan-doc")
    sku = make_sku("矿泉水")
    sku.barcode = "6901234567892"
    sku.save()
    hq = make_hq("hq_scan")
    hq.user_permissions.add(*Permission.objects.filter(
        content_type__app_label="stores", codename__in=["view_stockdocument", "add_stockdocument",
                                                        "change_stockdocument"]))
    from stores import documents

    doc = documents.create_document(store, "receipt", by=hq)
    login(page.context, live_server, hq)
    page.add_init_script(script=f"({WX_STUB})()")
    page.goto(f"{live_server.url}/backoffice/stores/documents/{doc.pk}/")
    scan = page.locator("[data-scan-camera]")
    scan.wait_for(state="visible")  # the WeChat user agent and a configured JS-SDK show it
    scan.click()
    chosen = page.locator("[data-picker-chosen]:not([hidden])")
    chosen.wait_for()
    assert sku.code in chosen.inner_text()
    assert "scanQRCode" in page.evaluate("() => window.wx.configured.jsApiList")
    page.keyboard.type("6")
    page.keyboard.press("Enter")
    page.locator("[data-testid=document-line]").first.wait_for()
    assert list(doc.lines.values_list("sku_id", "quantity")) == [(sku.pk, 6)]
