"""The home page and the search page on a 390 px phone inside WeChat: HQ's carousel (swipe and dots),
the notice bar, the category grid's icons, the search page's hot words and a recent search, and
the back arrow (with screenshots)."""

import re

import pytest
from django.core.files.base import ContentFile
from django.urls import clear_url_caches

from catalog.models import Category, FeaturedProduct, HotSearchWord
from marketing.home_demo import banner_image
from marketing.models import Banner, HomeNotice
from tests.catalog.factories import category, product

from .factories import make_coupon

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
PHONE_WIDTH = 390


@pytest.fixture
def arranged(settings):
    settings.ROOT_URLCONF = "tests.catalog.urls_with_media"
    clear_url_caches()
    food = category("休闲零食", sort_order=1, icon_name="cookie")
    category("酒水饮料", sort_order=0, icon_name="bottle")
    nuts = product("三只松鼠每日坚果 750g", cat=food, image=True)
    product("百草味芒果干 120g", cat=food, image=True)
    FeaturedProduct.objects.create(product=nuts)
    coupon = make_coupon("满100减10元券", claimable=True)
    for order, (title, colour, link) in enumerate((
        ("领券满100减10", (228, 57, 60), {"link_kind": "coupon", "coupon": coupon}),
        ("每日坚果 健康早餐", (230, 126, 34), {"link_kind": "product", "product": nuts}),
        ("积分好礼 兑不停", (52, 73, 94), {"link_kind": "path", "path": "/marketing/points-mall/"}),
    )):
        banner = Banner(title=title, sort_order=order, **link)
        banner.image.save(f"b{order}.jpg", ContentFile(banner_image(title, "门店自提 当日可取", colour)), save=False)
        banner.save()
    HomeNotice.objects.create(text="门店自提满39元免运费，下单后30分钟可取", link_path="/stores/")
    for order, word in enumerate(("坚果", "芒果干", "牛奶", "咖啡")):
        HotSearchWord.objects.create(word=word, sort_order=order)
    yield {"nuts": nuts, "coupon": coupon}
    clear_url_caches()


def no_horizontal_scroll(page):
    return page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth")


def test_home_carousel_notice_and_grid_at_phone_width(live_server, page, screenshot, arranged):
    page.goto(live_server.url + "/")
    carousel = page.locator(".mk-carousel")
    assert carousel.locator(".mk-carousel__slide").count() == 3
    assert carousel.locator("img").first.get_attribute("alt") == "领券满100减10"
    assert page.locator(".mk-notice").inner_text().strip() == "门店自提满39元免运费，下单后30分钟可取"
    # the grid in HQ's order, with icons from the sprite
    assert page.locator(".shop-grid__item").all_inner_texts()[:2] == ["酒水饮料", "休闲零食"]
    assert page.locator(".shop-grid__item use").first.get_attribute("href").endswith("#bottle")
    page.wait_for_load_state("networkidle")
    # the sprite's icons are drawn (a <use> of a missing symbol has no size)
    assert page.locator(".shop-tabbar .icon").first.evaluate("(el) => el.getBBox().width > 0")
    assert page.evaluate("() => window.innerWidth") == PHONE_WIDTH
    assert no_horizontal_scroll(page)
    screenshot("home-carousel-notice")

    # a dot scrolls the track to its slide, and the dot turns on
    carousel.locator("[data-mk-dot]").nth(2).click()
    page.wait_for_function("() => document.querySelectorAll('[data-mk-dot]')[2].classList.contains('is-on')")
    width = carousel.evaluate("(el) => el.querySelector('[data-mk-track]').clientWidth")
    page.wait_for_function(
        f"() => Math.abs(document.querySelector('[data-mk-track]').scrollLeft - {2 * width}) < 2")

    # the second slide goes to its product
    carousel.locator("[data-mk-dot]").nth(1).click()
    page.wait_for_function("() => document.querySelectorAll('[data-mk-dot]')[1].classList.contains('is-on')")
    carousel.locator(".mk-carousel__slide").nth(1).locator("a").click()
    page.wait_for_url(re.compile(rf".*/products/{arranged['nuts'].pk}/$"))


def test_search_hot_words_recent_search_and_back(live_server, page, screenshot, arranged):
    page.goto(live_server.url + "/")
    page.goto(live_server.url + "/search/")
    hot = page.locator(".catalog-words", has_text="热门搜索")
    assert hot.locator(".catalog-word").all_inner_texts() == ["坚果", "芒果干", "牛奶", "咖啡"]
    hot.locator(".catalog-word", has_text="芒果干").click()
    page.wait_for_url("**/search/?q=**")
    assert page.locator(".shop-card__name").all_inner_texts() == ["百草味芒果干 120g"]

    page.goto(live_server.url + "/search/")
    recent = page.locator(".catalog-words", has_text="最近搜索")
    assert recent.locator(".catalog-word").all_inner_texts() == ["芒果干"]
    assert page.evaluate("() => window.innerWidth") == PHONE_WIDTH
    assert no_horizontal_scroll(page)
    page.wait_for_load_state("networkidle")
    screenshot("search-hot-words-recent")

    recent.get_by_role("button", name="清除最近搜索").click()
    page.wait_for_load_state("networkidle")
    assert page.locator(".catalog-words", has_text="最近搜索").count() == 0

    # the back arrow: opened directly, it follows its link home
    page.get_by_role("link", name="返回").click()
    page.wait_for_url(live_server.url + "/")
    assert Category.objects.count() == 2


def test_back_office_home_editor_and_login_back_arrow(live_server, page, screenshot, arranged):
    from django.conf import settings as django_settings
    from django.test import Client

    from .test_home import make_home_editor

    page.goto(live_server.url + "/accounts/login/")
    assert page.locator(".shop-navbar .shop-back").is_visible()
    assert no_horizontal_scroll(page)
    screenshot("login-back-arrow")

    client = Client()
    client.force_login(make_home_editor())
    cookie = client.cookies[django_settings.SESSION_COOKIE_NAME]
    host = live_server.url.split("://", 1)[1].split(":")[0]
    page.context.add_cookies([{"name": cookie.key, "value": cookie.value, "domain": host, "path": "/"}])
    page.goto(live_server.url + "/backoffice/marketing/home/")
    page.wait_for_url("**/home/banners/")
    assert page.locator(".bo-table tbody tr").count() == 3
    screenshot("backoffice-home-banners")
    page.locator(".bo-table tbody tr").first.get_by_role("link", name="编辑").click()
    page.fill("input[name=title]", "领券满200减30")
    page.get_by_role("button", name="保存").click()
    page.wait_for_url("**/home/banners/")
    assert Banner.objects.filter(title="领券满200减30").count() == 1
    page.goto(live_server.url + "/")
    assert page.locator(".mk-carousel img").first.get_attribute("alt") == "领券满200减30"
