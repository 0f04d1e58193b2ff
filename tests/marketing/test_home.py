"""The home page HQ arranges (marketing.home): banners with schedules and safe links, the notice bar,
the featured list with its fallback, precise cache invalidation, and the page's query count."""

import uuid
from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from catalog import cache as catalog_cache
from catalog.models import FeaturedProduct, HotSearchWord, Product
from marketing import home
from marketing.models import Banner, HomeNotice
from tests.catalog.factories import category, product, upload
from tests.stores.conftest import make_hq, make_store
from tests.stores.conftest import make_staff as make_store_staff

from .factories import make_coupon

pytestmark = pytest.mark.django_db

HOME_PERMS = [
    ("marketing", "banner"), ("marketing", "homenotice"), ("catalog", "featuredproduct"),
    ("catalog", "hotsearchword"), ("catalog", "category"),
]


def make_home_editor():
    from django.contrib.auth.models import Permission

    user = make_hq()
    for app, model in HOME_PERMS:
        user.user_permissions.add(*Permission.objects.filter(
            content_type__app_label=app, codename__in=[f"view_{model}", f"change_{model}", f"add_{model}",
                                                        f"delete_{model}"]))
    return type(user).objects.get(pk=user.pk)


@pytest.fixture
def hq(db):
    return make_home_editor()


def banner(title="横幅", *, by, **fields):
    fields.setdefault("link_kind", Banner.LinkKind.NONE)
    row, _created = home.save_content(Banner(title=title, image=upload(), **fields), by=by)
    return row


def test_banner_links_to_product_category_coupon_or_site_path(hq):
    item = product("坚果")
    cat = category("酒水")
    coupon = make_coupon("满减", claimable=True)
    banner("商品", link_kind="product", product=item, by=hq, sort_order=1)
    banner("分类", link_kind="category", category=cat, by=hq, sort_order=2)
    banner("领券", link_kind="coupon", coupon=coupon, by=hq, sort_order=3)
    banner("积分", link_kind="path", path="/points-mall/", by=hq, sort_order=4)
    slides = home.home_content()["banners"]
    assert [(s.title, s.href) for s in slides] == [
        ("商品", f"/products/{item.pk}/"),
        ("分类", f"/categories/{cat.pk}/"),
        ("领券", reverse("marketing:coupon_centre") + f"#claim-{coupon.pk}"),
        ("积分", "/points-mall/"),
    ]


@pytest.mark.parametrize("path", [
    "https://evil.example/", "//evil.example/x", "javascript:alert(1)", "/\\evil", "points-mall/",
    "/a\x00b", "/a b", "/" + "x" * 300, "",
])
def test_banner_refuses_a_link_off_this_site(hq, path):
    with pytest.raises(ValidationError):
        home.save_content(Banner(title="坏链接", image=upload(), link_kind="path", path=path), by=hq)
    assert not Banner.objects.exists()


def test_a_banner_whose_target_is_gone_is_not_shown(hq):
    item = product("下架商品")
    coupon = make_coupon("停用券", claimable=True)
    banner("商品", link_kind="product", product=item, by=hq)
    banner("券", link_kind="coupon", coupon=coupon, by=hq)
    assert len(home.home_content()["banners"]) == 2
    Product.objects.filter(pk=item.pk).update(status=Product.Status.DELISTED)
    catalog_cache.bump()  # what services and the admin do on a product change
    coupon.is_active = False
    coupon.save()  # the coupon's receiver bumps the home area
    assert home.home_content()["banners"] == []


def test_schedule_boundaries(hq):
    start = timezone.now().replace(microsecond=0) + timedelta(hours=1)
    end = start + timedelta(hours=2)
    banner("定时", by=hq, starts_at=start, ends_at=end)
    home.save_content(HomeNotice(text="限时公告", starts_at=start, ends_at=end), by=hq)
    second = timedelta(seconds=1)
    for moment, showing in ((start - second, False), (start, True), (end - second, True), (end, False)):
        content = home.home_content(now=moment)
        assert bool(content["banners"]) is showing, moment
        assert (content["notice"] is not None) is showing, moment


def test_schedule_must_end_after_it_starts(hq):
    now = timezone.now()
    with pytest.raises(ValidationError):
        banner("倒序", by=hq, starts_at=now, ends_at=now)
    with pytest.raises(ValidationError):
        home.save_content(HomeNotice(text="倒序", starts_at=now, ends_at=now - timedelta(days=1)), by=hq)
    assert not Banner.objects.exists() and not HomeNotice.objects.exists()


def test_first_showing_notice_by_order(hq):
    home.save_content(HomeNotice(text="第二", sort_order=2), by=hq)
    home.save_content(HomeNotice(text="第一", sort_order=1), by=hq)
    home.save_content(HomeNotice(text="停用", sort_order=0, is_active=False), by=hq)
    assert home.home_content()["notice"]["text"] == "第一"


def test_same_request_id_saves_once(hq):
    request_id = uuid.uuid4()
    first, created = home.save_content(HomeNotice(text="一次"), by=hq, request_id=request_id)
    again, created_again = home.save_content(HomeNotice(text="一次"), by=hq, request_id=request_id)
    assert (created, created_again) == (True, False)
    assert again.pk == first.pk
    assert HomeNotice.objects.count() == 1


def test_store_staff_cannot_save_or_delete_home_content(hq):
    clerk = make_store_staff(make_store("门店", code="home-1"))
    notice, _ = home.save_content(HomeNotice(text="总部公告"), by=hq)
    with pytest.raises(home.HomeContentError):
        home.save_content(HomeNotice(text="店员公告"), by=clerk)
    with pytest.raises(home.HomeContentError):
        home.delete_content(HomeNotice, notice.pk, by=clerk)
    assert list(HomeNotice.objects.values_list("text", flat=True)) == ["总部公告"]


def test_delete_twice_deletes_once(hq):
    notice, _ = home.save_content(HomeNotice(text="删除"), by=hq)
    assert home.delete_content(HomeNotice, notice.pk, by=hq) is True
    assert home.delete_content(HomeNotice, notice.pk, by=hq) is False


# --- featured list ----------------------------------------------------------------------------
def test_featured_list_in_hq_order_skipping_unlisted_and_falling_back(hq):
    from catalog.selectors import recommended_products

    cat = category()
    heavy = product("权重高", cat=cat, sort_weight=99)
    light = product("权重低", cat=cat, sort_weight=1)
    hidden = product("下架", cat=cat, sort_weight=50)
    assert [p.name for p in recommended_products()] == ["权重高", "下架", "权重低"]  # the old rule
    home.save_content(FeaturedProduct(product=light, sort_order=1), by=hq)
    home.save_content(FeaturedProduct(product=heavy, sort_order=2), by=hq)
    home.save_content(FeaturedProduct(product=hidden, sort_order=0), by=hq)
    Product.objects.filter(pk=hidden.pk).update(status=Product.Status.DELISTED)
    assert [p.name for p in recommended_products()] == ["权重低", "权重高"]
    FeaturedProduct.objects.all().delete()
    assert [p.name for p in recommended_products()] == ["权重高", "权重低"]


def test_featuring_a_product_twice_is_refused(hq):
    item = product()
    home.save_content(FeaturedProduct(product=item), by=hq)
    with pytest.raises(ValidationError):
        home.save_content(FeaturedProduct(product=item), by=hq)
    assert FeaturedProduct.objects.count() == 1


# --- cache: editing home content bumps the home area only --------------------------------------
def test_editing_a_banner_bumps_only_the_home_area(hq):
    catalogue, search_area = catalog_cache.version(), catalog_cache.area_version("search")
    home_before = catalog_cache.area_version("home")
    banner("新横幅", by=hq)
    assert catalog_cache.area_version("home") != home_before
    assert catalog_cache.version() == catalogue
    assert catalog_cache.area_version("search") == search_area


def test_hot_words_bump_only_the_search_area(hq):
    catalogue, home_area = catalog_cache.version(), catalog_cache.area_version("home")
    search_before = catalog_cache.area_version("search")
    home.save_content(HotSearchWord(word="坚果"), by=hq)
    assert catalog_cache.area_version("search") != search_before
    assert (catalog_cache.version(), catalog_cache.area_version("home")) == (catalogue, home_area)


def test_home_page_shows_a_banner_edit_at_once(client, hq):
    row = banner("旧标题", by=hq)
    assert "旧标题" in client.get("/").content.decode()
    row.title = "新标题"
    home.save_content(row, by=hq)
    html = client.get("/").content.decode()
    assert "新标题" in html and "旧标题" not in html


# --- the home page ----------------------------------------------------------------------------
def _arrange(hq, n):
    from stores.services import receive_stock

    cat = category("首页")
    coupon = make_coupon("首页券", claimable=True)
    store = make_store("首页门店", code="home-arrange")
    for i in range(n):
        item = product(f"精选{i}", cat=cat, image=True)
        receive_stock(store, item.skus.first(), 3, reference=f"staff:home-arrange-{i}")  # on sale somewhere
        home.save_content(FeaturedProduct(product=item, sort_order=i), by=hq)
        banner(f"横幅{i}", by=hq, link_kind="product" if i % 2 else "coupon", product=item if i % 2 else None,
               coupon=None if i % 2 else coupon)
    home.save_content(HomeNotice(text="欢迎光临", link_path="/stores/"), by=hq)


@pytest.mark.parametrize("n", [1, 6])
def test_home_page_query_count_with_banners_notice_and_featured(client, hq, n, django_assert_num_queries, settings):
    _arrange(hq, n)
    catalog_cache.clear_local()
    # cold: category tree, featured candidates, banners, notices, and which of them a store can sell
    with django_assert_num_queries(5):
        response = client.get("/")
    html = response.content.decode()
    assert html.count('class="mk-carousel__slide"') == n
    assert "欢迎光临" in html and 'href="/stores/"' in html
    assert html.count("精选") >= n
    with django_assert_num_queries(0):  # warm: the whole page kept for visitors (catalog.pagecache)
        assert client.get("/")["X-Page-Cache"] == "hit"
    settings.CATALOG_PAGE_CACHE = False
    with django_assert_num_queries(1):  # built again: the fragments cached, the sold-out check read per request
        client.get("/")


def test_home_page_without_content_shows_no_empty_blocks(client):
    html = client.get("/").content.decode()
    assert "mk-carousel" not in html and "mk-notice" not in html


def test_demo_home_gives_the_hq_group_the_home_page_and_store_roles_nothing(db):
    from django.contrib.auth.models import Group

    from marketing.home_demo import seed
    from stores.scope import HQ_GROUP_NAME

    first = seed(lambda line: None)
    assert seed(lambda line: None) == 0 < first
    codenames = set(Group.objects.get(name=HQ_GROUP_NAME).permissions.values_list("codename", flat=True))
    assert {"change_banner", "change_homenotice", "change_featuredproduct", "change_hotsearchword",
            "change_category"} <= codenames
    assert "delete_category" not in codenames
    clerk = make_store_staff(make_store("门店", code="home-demo"))
    assert not any(clerk.has_perm(f"{app}.change_{model}") for app, model in HOME_PERMS)


def test_the_demo_home_page_names_products_of_the_demo_catalogue(db):
    """Every featured product and banner target of the demo home exists in the demo catalogue (a
    renamed demo product must not silently drop off the home page)."""
    from catalog import demo as catalog_demo
    from marketing import demo as marketing_demo
    from marketing import home_demo

    names = {p[0] for children in catalog_demo.CATALOGUE.values() for rows in children.values() for p in rows}
    assert set(home_demo.FEATURED) <= names
    assert {target for kind, target, _c, _s in home_demo.BANNERS.values()
            if kind == home_demo.Banner.LinkKind.PRODUCT} <= names
    assert {product for _p, product, *_rest in marketing_demo.PRODUCT_ITEMS.values()} <= names
