"""A shopper on a phone inside WeChat: category, search, product, SKU sheet (with screenshots)."""

import re

import pytest
from django.urls import clear_url_caches

from catalog.demo import seed
from catalog.models import Product

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def shop(settings):
    settings.ROOT_URLCONF = "tests.catalog.urls_with_media"
    clear_url_caches()
    seed(lambda line: None)
    yield
    clear_url_caches()


def test_browse_category_search_open_product_and_pick_sku(live_server, page, screenshot, shop, settings):
    page.goto(live_server.url + "/")
    assert page.locator(".shop-grid__item").count() >= 6
    assert page.locator(".shop-card").count() == 10
    page.wait_for_load_state("networkidle")
    screenshot("catalog-home")

    page.get_by_role("link", name="分类", exact=True).click()
    page.wait_for_url("**/categories/")
    assert page.locator(".catalog-rail__item").count() >= 6
    page.locator(".catalog-rail__item", has_text="酒水").click()  # htmx swaps the right panel
    page.wait_for_url(re.compile(r".*/categories/\?c=\d+"))
    page.locator(".catalog-subgrid__item", has_text="白酒").wait_for()
    assert page.locator(".catalog-rail__item.is-on").inner_text() == "酒水"
    screenshot("catalog-categories")

    page.locator(".catalog-subgrid__item", has_text="白酒").click()
    page.wait_for_url(re.compile(r".*/categories/\d+/$"))
    assert page.locator(".shop-card").count() == 4
    page.get_by_role("link", name=re.compile("价格")).click()
    page.wait_for_url("**sort=price_asc**")
    names = page.locator(".shop-card__name").all_inner_texts()
    assert names[0].startswith("汾酒")
    page.wait_for_load_state("networkidle")
    screenshot("catalog-list-price-asc")

    page.goto(live_server.url + "/search/?q=")
    page.fill("input[name=q]", "牙膏")
    page.get_by_role("button", name="搜索").click()
    page.wait_for_url("**/search/?q=**")
    found = page.locator(".shop-card__name").all_inner_texts()
    assert found and all("牙膏" in name for name in found)
    screenshot("catalog-search")

    page.goto(live_server.url + "/search/?q=T恤")
    page.locator(".shop-card", has_text="男士纯棉短袖T恤").click()
    page.wait_for_url(re.compile(r".*/products/\d+/$"))
    assert page.locator(".catalog-info__name").inner_text() == "男士纯棉短袖T恤"
    page.wait_for_load_state("networkidle")
    screenshot("catalog-product")

    page.get_by_role("button", name="立即购买").first.click()
    sheet = page.locator("#sku-sheet")
    assert sheet.is_visible()
    # one row per option type; the plain SKU list (the no-JavaScript fallback) is hidden
    assert sheet.locator("[data-option-name]").evaluate_all("rows => rows.map(r => r.dataset.optionName)") == ["颜色", "尺码"]
    assert not sheet.locator("[data-sku-list]").is_visible()
    product = Product.objects.get(name="男士纯棉短袖T恤")
    range_text = sheet.locator("[data-sku-price]").inner_text()

    def chosen_sku_id():
        return sheet.locator("input[name=sku_id]:checked").evaluate_all("inputs => inputs.map(i => i.value)")

    def value(name):
        return sheet.locator(".catalog-picker__value", has_text=re.compile(f"^{name}$"))

    value("黑色").click()
    assert value("黑色").get_attribute("aria-checked") == "true"
    assert chosen_sku_id() == []  # 尺码 not chosen yet
    assert sheet.locator("[data-sku-price]").inner_text() == range_text
    assert "尺码" in sheet.locator("[data-sku-stock]").inner_text()

    value("XL").click()
    black_xl = product.skus.get(spec_text="黑色 / XL")
    assert chosen_sku_id() == [str(black_xl.pk)]
    assert sheet.locator("[data-sku-price]").inner_text().replace("¥", "") == f"{black_xl.price:.2f}"
    assert page.locator("[data-sku-chosen]").inner_text() == "黑色 / XL"

    value("M").click()
    black_m = product.skus.get(spec_text="黑色 / M")
    assert black_m.price == black_xl.price  # clothing sizes cost the same (in the demo a bigger pack costs more)
    assert chosen_sku_id() == [str(black_m.pk)]
    assert sheet.locator("[data-sku-price]").inner_text().replace("¥", "") == f"{black_m.price:.2f}"
    sheet.get_by_role("button", name="增加").click()
    assert sheet.locator("input[name=quantity]").input_value() == "2"
    path = screenshot("catalog-sku-sheet", page)
    page.screenshot(path=str(path.with_name("catalog-sku-sheet-phone.png")))  # what the 390x844 screen shows

    # the form posts the chosen SKU
    posted = []
    page.route("**/orders/buy-now/**", lambda route: (posted.append(route.request.post_data), route.abort()))
    sheet.get_by_role("button", name="立即购买").click()
    page.wait_for_timeout(300)
    assert posted and f"sku_id={black_m.pk}" in posted[0] and "quantity=2" in posted[0]


def test_infinite_scroll_loads_the_next_pages(live_server, page, shop):
    from decimal import Decimal

    from catalog import services
    from catalog.models import Category

    fruit = Category.objects.get(name="水果")
    for i in range(41):
        services.create_product(
            name=f"测试水果{i:02d}", category=fruit, status=Product.Status.LISTED, price=Decimal("9.90"), sort_weight=-1
        )
    page.goto(live_server.url + f"/categories/{fruit.pk}/")
    cards = page.locator(".shop-card")
    assert cards.count() == 20
    page.mouse.wheel(0, 20000)
    page.wait_for_function("() => document.querySelectorAll('.shop-card').length >= 40")
    page.mouse.wheel(0, 20000)
    page.wait_for_function("() => document.querySelectorAll('.shop-card').length >= 45")
    page.locator(".catalog-end").wait_for()
    assert cards.count() == 45  # 4 demo fruits + 41, each once
    names = cards.locator(".shop-card__name").all_inner_texts()
    assert len(set(names)) == 45


def demo_stock(request, product, skus):
    """Out for the first SKU, low for the second, plenty for the rest."""
    states = {}
    for index, sku in enumerate(skus):
        states[sku.pk] = [{"available": 0, "state": "out"}, {"available": 2, "state": "low"}][index] if index < 2 else {
            "available": 50, "state": "in_stock"}
    return states


def test_sku_sheet_shows_stock_states(live_server, page, screenshot, shop, settings):
    settings.CATALOG_STOCK_PROVIDER = "tests.catalog.test_browser.demo_stock"
    product = Product.objects.get(name="膳魔师保温杯 500ml")
    first, second = product.skus.order_by("sort_order", "id")[:2]
    page.goto(live_server.url + f"/products/{product.pk}/")
    page.get_by_role("button", name="加入购物车").first.click()
    sheet = page.locator("#sku-sheet")
    out_value = sheet.locator(".catalog-picker__value", has_text=first.spec_text)
    low_value = sheet.locator(".catalog-picker__value", has_text=second.spec_text)
    assert out_value.is_disabled()  # its only SKU is out of stock in the chosen store
    low_value.click()
    assert sheet.locator("[data-sku-stock]").inner_text() == "仅剩 2 件"
    assert sheet.locator("input[name=sku_id]:checked").input_value() == str(second.pk)
    screenshot("catalog-sku-sheet-stock", page)


def test_sku_values_leading_only_to_missing_or_sold_out_skus_are_disabled(live_server, page, screenshot, shop, settings):
    settings.CATALOG_STOCK_PROVIDER = "tests.catalog.test_browser.demo_stock"
    product = Product.objects.get(name="男士纯棉短袖T恤")
    skus = list(product.skus.order_by("sort_order", "id"))
    # white M is out (first SKU, demo_stock); white L is not sold at all
    white_l = next(s for s in skus if s.spec_text == "白色 / L")
    white_l.is_enabled = False
    white_l.save()
    page.goto(live_server.url + f"/products/{product.pk}/")
    page.get_by_role("button", name="加入购物车").first.click()
    sheet = page.locator("#sku-sheet")

    def value(name):
        return sheet.locator(".catalog-picker__value", has_text=re.compile(f"^{name}$"))

    assert not value("M").is_disabled() and not value("L").is_disabled()  # other colours have them
    value("白色").click()
    assert value("M").is_disabled() and value("L").is_disabled() and not value("XL").is_disabled()
    value("白色").click()  # a second tap clears the choice
    value("L").click()
    assert value("白色").is_disabled() and not value("黑色").is_disabled()
    screenshot("catalog-sku-sheet-disabled", page)


def test_sku_sheet_without_javascript_lists_every_sku(live_server, browser, shop):
    from tests.conftest import ARTIFACTS

    context = browser.new_context(java_script_enabled=False, viewport={"width": 390, "height": 844}, locale="zh-CN")
    page = context.new_page()
    product = Product.objects.get(name="男士纯棉短袖T恤")
    page.goto(live_server.url + f"/products/{product.pk}/")
    sheet = page.locator("#sku-sheet")
    assert page.locator("[data-sku-picker]").is_hidden()
    page.locator(".catalog-actionbar").get_by_role("button", name="加入购物车").click()
    assert sheet.is_visible()  # the action bar links to the sheet in the page
    labels = sheet.locator(".catalog-sku")
    assert labels.count() == product.skus.filter(is_enabled=True).count()
    labels.filter(has_text="灰色 / L").click()
    grey_l = product.skus.get(spec_text="灰色 / L")
    posted = []
    page.route("**/orders/cart/add/**", lambda route: (posted.append(route.request.post_data), route.abort()))
    page.screenshot(path=str(ARTIFACTS / "screenshots" / "catalog-sku-sheet-nojs.png"), full_page=True)
    sheet.get_by_role("button", name="加入购物车").click()
    page.wait_for_timeout(300)
    assert posted and f"sku_id={grey_l.pk}" in posted[0]
    context.close()


# --- the product editor (HQ in the admin, on a desktop screen) -------------------------------
DESKTOP = {
    "viewport": {"width": 1366, "height": 900}, "is_mobile": False, "has_touch": False, "device_scale_factor": 1,
    "user_agent": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
                  "Chrome/131.0 Safari/537.36",
}


def _product_state(item):
    """Everything the editor could change, but the update time."""
    from catalog.models import OptionValue, ProductImage, Sku

    row = Product.objects.filter(pk=item.pk).values().get()
    row.pop("updated_at")
    return {
        "product": row,
        "skus": list(Sku.objects.filter(product=item).order_by("pk").values(
            "pk", "code", "option_key", "spec_text", "price", "market_price", "cost_price", "barcode", "weight",
            "image", "is_enabled", "sort_order")),
        "images": list(ProductImage.objects.filter(product=item).order_by("pk").values(
            "pk", "image", "width", "height", "alt", "sort_order")),
        "options": list(OptionValue.objects.filter(option_type__product=item).order_by("pk").values_list(
            "pk", "option_type__name", "value", "sort_order")),
    }


@pytest.fixture
def shirt_with_images(settings):
    from catalog.services import add_product_image
    from tests.catalog.factories import png_bytes, product, upload

    settings.ROOT_URLCONF = "tests.catalog.urls_with_media"
    clear_url_caches()
    item = product("纯棉T恤", options={"颜色": ["白色", "黑色"], "尺码": ["M", "L"]}, price="59.00",
                   description="<p>纯棉面料，透气舒适</p>")
    add_product_image(item, upload("front.png", png_bytes(size=(300, 300))))
    add_product_image(item, upload("back.png", png_bytes(size=(300, 300), colour=(30, 30, 200))))
    item.refresh_from_db()
    yield item
    clear_url_caches()


@pytest.mark.browser_context_args(**DESKTOP)
def test_hq_edits_a_product_with_the_rich_text_editor_and_fills_all_sku_prices(
    live_server, page, screenshot, shirt_with_images, django_user_model
):
    from decimal import Decimal

    item = shirt_with_images
    assert item.images.count() == 2 and item.option_types.count() == 2 and item.skus.count() == 4
    django_user_model.objects.create_superuser("hq-editor", password="pw-2026-editor")
    page.goto(live_server.url + "/accounts/staff-login/")
    page.fill("input[name=login]", "hq-editor")
    page.fill("input[name=password]", "pw-2026-editor")
    page.locator("form button[type=submit]").last.click()
    page.wait_for_load_state()
    change_url = f"{live_server.url}/admin/catalog/product/{item.pk}/change/"
    page.goto(change_url)
    editor = page.locator(".catalog-rich .ql-editor")
    editor.wait_for()
    assert editor.inner_text().strip() == "纯棉面料，透气舒适"
    assert page.locator("textarea[name=description]").is_hidden()  # the editor stands in for it
    fill_row = page.locator("[data-sku-fill]")
    assert fill_row.is_visible()
    page.wait_for_load_state("networkidle")
    screenshot("catalog-admin-product-editor")

    def save_and_continue():
        page.locator("input[name=_continue]").click()
        page.wait_for_url(change_url)
        page.locator(".catalog-rich .ql-editor").wait_for()
        message = page.locator("ul.messagelist li.success")
        assert message.count() == 1, page.locator("ul.messagelist, .errornote, .errorlist").all_inner_texts()
        return message.inner_text()

    # 1. saved unchanged: a success message, nothing changed in the database
    before = _product_state(item)
    assert "成功" in save_and_continue()
    assert _product_state(item) == before

    # 2. a word made bold in the editor, every SKU's price set by 批量填充
    editor.click()
    page.keyboard.press("Control+End")
    page.keyboard.type(" soft cotton")
    for _ in "cotton":
        page.keyboard.press("Shift+ArrowLeft")
    page.get_by_role("button", name="加粗").click()
    assert editor.locator("strong").inner_text() == "cotton"
    fill_row.get_by_label("售价").fill("88.00")
    fill_row.get_by_role("button", name="批量填充").click()
    sku_prices = page.locator("#skus-group tr.form-row input[name$='-price']:not([name$='_price'])")
    assert sku_prices.count() == 4
    assert sku_prices.evaluate_all("inputs => inputs.map(i => i.value)") == ["88.00"] * 4
    assert "4" in fill_row.locator("[role=status]").inner_text()
    screenshot("catalog-admin-product-editor-filled")
    save_and_continue()
    item.refresh_from_db()
    assert item.description == "<p>纯棉面料，透气舒适 soft <strong>cotton</strong></p>"
    assert set(item.skus.values_list("price", flat=True)) == {Decimal("88.00")}
    assert item.price_min == item.price_max == Decimal("88.00")
    changed = _product_state(item)
    assert changed["images"] == before["images"] and changed["options"] == before["options"]
    assert [s["market_price"] for s in changed["skus"]] == [s["market_price"] for s in before["skus"]]
    assert "<strong>cotton</strong>" in page.locator(".catalog-rich .ql-editor").inner_html()
    screenshot("catalog-admin-product-editor-saved")

    # 3. saved once more unchanged: the bold HTML and the prices stay as they are
    save_and_continue()
    assert _product_state(item) == changed
