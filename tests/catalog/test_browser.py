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
    skus = sheet.locator(".catalog-sku")
    assert skus.count() == 12
    choice = skus.filter(has_text="黑色 / XL")
    choice.click()
    assert choice.locator("input").is_checked()
    product = Product.objects.get(name="男士纯棉短袖T恤")
    price = product.skus.get(spec_text="黑色 / XL").price
    assert sheet.locator("[data-sku-price]").inner_text().replace("¥", "") == f"{price:.2f}"
    assert page.locator("[data-sku-chosen]").inner_text() == "黑色 / XL"
    sheet.get_by_role("button", name="增加").click()
    assert sheet.locator("input[name=quantity]").input_value() == "2"
    screenshot("catalog-sku-sheet", page)


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
    page.wait_for_function("document.querySelectorAll('.shop-card').length >= 40")
    page.mouse.wheel(0, 20000)
    page.wait_for_function("document.querySelectorAll('.shop-card').length >= 45")
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
    page.goto(live_server.url + f"/products/{product.pk}/")
    page.get_by_role("button", name="加入购物车").first.click()
    sheet = page.locator("#sku-sheet")
    first, second = sheet.locator(".catalog-sku").nth(0), sheet.locator(".catalog-sku").nth(1)
    assert first.locator("input").is_disabled() and "无货" in first.inner_text()
    assert "仅剩2件" in second.inner_text()
    second.click()
    assert sheet.locator("[data-sku-stock]").inner_text() == "仅剩2件"
    screenshot("catalog-sku-sheet-stock", page)
