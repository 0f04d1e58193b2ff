"""Back office 首页装修 (marketing.home_backoffice): HQ's round trips (open the form, save it
unchanged, save a change, submit twice), bad input refused with nothing changed, and store staff
kept out of every URL."""

import pytest
from django.urls import reverse

from catalog.models import Category, FeaturedProduct, HotSearchWord
from marketing.models import Banner, HomeNotice
from tests.catalog.factories import category, png_bytes, product, upload
from tests.forms import form_data
from tests.stores.conftest import make_staff as make_store_staff
from tests.stores.conftest import make_store

from .factories import make_coupon
from .test_home import make_home_editor

pytestmark = pytest.mark.django_db

FORM = "home-content-form"


@pytest.fixture
def hq_client(client):
    client.force_login(make_home_editor())
    return client


def _snapshot():
    return (
        list(Banner.objects.order_by("pk").values()), list(HomeNotice.objects.order_by("pk").values()),
        list(FeaturedProduct.objects.order_by("pk").values()), list(HotSearchWord.objects.order_by("pk").values()),
        list(Category.objects.order_by("pk").values("pk", "sort_order", "icon_name", "icon")),
    )


def _create_form(client, slug):
    response = client.get(reverse("marketing_bo:home_create", args=[slug]))
    assert response.status_code == 200
    return form_data(response.content, FORM)


def test_menu_leads_hq_to_the_home_page_editor(hq_client):
    html = hq_client.get(reverse("backoffice:dashboard")).content.decode()
    assert "首页装修" in html
    response = hq_client.get(reverse("marketing_bo:home"))
    assert response.status_code == 302
    for slug in ("banners", "notices", "featured", "categories", "hot-words"):
        assert hq_client.get(reverse("marketing_bo:home_list", args=[slug])).status_code == 200


def test_banner_round_trip(hq_client):
    item = product("坚果")
    data = _create_form(hq_client, "banners")
    data.update(title=["坚果节"], link_kind=["product"], product=[str(item.pk)], sort_order=["5"])
    data["image"] = upload()
    response = hq_client.post(reverse("marketing_bo:home_create", args=["banners"]), data)
    assert response.status_code == 302, response.content.decode()
    row = Banner.objects.get()
    assert (row.title, row.product_id, row.sort_order) == ("坚果节", item.pk, 5)
    # a second submit of the same form (same one-time id) adds nothing
    data["image"] = upload()
    hq_client.post(reverse("marketing_bo:home_create", args=["banners"]), data)
    assert Banner.objects.count() == 1

    edit_url = reverse("marketing_bo:home_edit", args=["banners", row.pk])
    unchanged = form_data(hq_client.get(edit_url).content, FORM)
    assert unchanged["product"] == [str(item.pk)]
    before = _snapshot()
    assert hq_client.post(edit_url, unchanged).status_code == 302
    after = _snapshot()
    assert [{k: v for k, v in r.items() if k != "updated_at"} for r in after[0]] == \
        [{k: v for k, v in r.items() if k != "updated_at"} for r in before[0]]

    changed = dict(unchanged, title=["坚果节加场"], link_kind=["path"], path=["/points-mall/"])
    assert hq_client.post(edit_url, changed).status_code == 302
    row.refresh_from_db()
    assert (row.title, row.link_kind, row.path, row.product_id) == ("坚果节加场", "path", "/points-mall/", None)
    assert "坚果节加场" in hq_client.get("/").content.decode()


def test_notice_featured_hot_word_round_trips(hq_client):
    item = product("牛奶")
    for slug, values, model in (
        ("notices", {"text": ["周末满减"], "link_path": ["/coupons/centre/"], "sort_order": ["1"], "is_active": ["on"]},
         HomeNotice),
        ("featured", {"product": [str(item.pk)], "sort_order": ["2"]}, FeaturedProduct),
        ("hot-words", {"word": ["  牛奶  "], "sort_order": ["3"], "is_active": ["on"]}, HotSearchWord),
    ):
        data = _create_form(hq_client, slug)
        data.update(values)
        url = reverse("marketing_bo:home_create", args=[slug])
        assert hq_client.post(url, data).status_code == 302
        hq_client.post(url, data)  # double submit
        assert model.objects.count() == 1, slug
        row = model.objects.get()
        edit_url = reverse("marketing_bo:home_edit", args=[slug, row.pk])
        unchanged = form_data(hq_client.get(edit_url).content, FORM)
        assert hq_client.post(edit_url, unchanged).status_code == 302
        assert hq_client.post(edit_url, dict(unchanged, sort_order=["9"])).status_code == 302
        row.refresh_from_db()
        assert row.sort_order == 9
    assert HotSearchWord.objects.get().word == "牛奶"
    assert "周末满减" in hq_client.get("/").content.decode()
    assert "牛奶" in hq_client.get("/search/").content.decode()


def test_category_grid_order_and_icon(hq_client):
    first, second = category("食品", sort_order=0), category("酒水", sort_order=1)
    url = reverse("marketing_bo:home_edit", args=["categories", second.pk])
    data = form_data(hq_client.get(url).content, FORM)
    assert hq_client.post(url, data).status_code == 302  # unchanged
    data.update(sort_order=["0"], icon_name=["bottle"])
    assert hq_client.post(url, data).status_code == 302
    second.refresh_from_db()
    first.sort_order = 5
    first.save()
    html = hq_client.get("/").content.decode()
    assert html.index("酒水") < html.index("食品")
    assert "#bottle" in html
    # a category is arranged here, never made or deleted here
    assert hq_client.get(reverse("marketing_bo:home_create", args=["categories"])).status_code == 404
    assert hq_client.post(reverse("marketing_bo:home_delete", args=["categories", first.pk])).status_code == 404
    assert Category.objects.count() == 2


@pytest.mark.parametrize("field,value", [
    ("sort_order", "５"), ("sort_order", "²"), ("sort_order", str(2**31)), ("sort_order", "-1"), ("sort_order", ""),
    ("text", ""), ("text", "x" * 100_000), ("text", "公告\x00"), ("link_path", "https://evil.example/"),
    ("link_path", "javascript:alert(1)"), ("starts_at", "2026-13-45T99:99"), ("starts_at", "９９"),
])
def test_bad_notice_input_is_refused_and_changes_nothing(hq_client, field, value):
    data = _create_form(hq_client, "notices")
    data.update(text=["正常公告"], sort_order=["0"])
    data[field] = [value]
    before = _snapshot()
    response = hq_client.post(reverse("marketing_bo:home_create", args=["notices"]), data)
    if "\x00" in value:  # a NUL anywhere is refused before the view (core.middleware)
        assert response.status_code == 400 and _snapshot() == before
        return
    assert response.status_code == 200
    assert "bo-errors" in response.content.decode()
    assert _snapshot() == before


@pytest.mark.parametrize("value", ["１", "99999999999999999999999", str(2**63), "abc", "-1", ""])
def test_tampered_product_id_is_refused(hq_client, value):
    data = _create_form(hq_client, "banners")
    data.update(title=["横幅"], link_kind=["product"], product=[value], image=upload())
    response = hq_client.post(reverse("marketing_bo:home_create", args=["banners"]), data)
    assert response.status_code == 200
    assert not Banner.objects.exists()


def test_draft_product_cannot_be_featured(hq_client):
    from catalog.models import Product

    draft = product("草稿", status=Product.Status.DRAFT)
    data = _create_form(hq_client, "featured")
    data.update(product=[str(draft.pk)], sort_order=["0"])
    assert hq_client.post(reverse("marketing_bo:home_create", args=["featured"]), data).status_code == 200
    assert not FeaturedProduct.objects.exists()


def test_banner_image_goes_through_the_upload_checks(hq_client, settings):
    data = _create_form(hq_client, "banners")
    url = reverse("marketing_bo:home_create", args=["banners"])
    data.update(title=["横幅"], link_kind=["none"], image=upload("x.png", b"not an image"))
    assert "bo-errors" in hq_client.post(url, data).content.decode()
    settings.IMAGE_MAX_PIXELS = 1000  # core.images: more pixels than this are refused before decoding
    data["image"] = upload("wide.png", png_bytes(size=(60, 20)))
    assert "图片像素过多" in hq_client.post(url, data).content.decode()
    assert not Banner.objects.exists()


def test_unknown_kind_and_rows_answer_404(hq_client):
    assert hq_client.get(reverse("marketing_bo:home_list", args=["nope"])).status_code == 404
    assert hq_client.get(reverse("marketing_bo:home_edit", args=["banners", 2**63 + 5])).status_code == 404
    assert hq_client.get(reverse("marketing_bo:home_edit", args=["banners", 999])).status_code == 404
    assert hq_client.get("/backoffice/marketing/home/banners/１/").status_code == 404


def test_delete_twice_deletes_once(hq_client):
    data = _create_form(hq_client, "hot-words")
    data.update(word=["咖啡"], sort_order=["0"])
    hq_client.post(reverse("marketing_bo:home_create", args=["hot-words"]), data)
    row = HotSearchWord.objects.get()
    url = reverse("marketing_bo:home_delete", args=["hot-words", row.pk])
    assert hq_client.post(url).status_code == 302
    assert hq_client.post(url).status_code == 302
    assert not HotSearchWord.objects.exists()
    assert hq_client.get(url).status_code == 405


def _every_url(banner, notice, featured, word, cat):
    urls = [reverse("marketing_bo:home")]
    for slug, row in (("banners", banner), ("notices", notice), ("featured", featured), ("hot-words", word),
                      ("categories", cat)):
        urls += [reverse("marketing_bo:home_list", args=[slug]), reverse("marketing_bo:home_create", args=[slug]),
                 reverse("marketing_bo:home_edit", args=[slug, row.pk]),
                 reverse("marketing_bo:home_delete", args=[slug, row.pk])]
    return urls


def test_store_staff_reach_none_of_it(client):
    store = make_store("门店", code="home-bo")
    clerk = make_store_staff(store)
    item = product("薯片")
    cat = Category.objects.get(pk=item.category_id)
    banner = Banner.objects.create(title="横幅", image=upload(), link_kind="coupon", coupon=make_coupon(claimable=True))
    notice = HomeNotice.objects.create(text="公告")
    featured = FeaturedProduct.objects.create(product=item)
    word = HotSearchWord.objects.create(word="薯片")
    before = _snapshot()
    client.force_login(clerk)
    assert "首页装修" not in client.get(reverse("backoffice:dashboard")).content.decode()
    for url in _every_url(banner, notice, featured, word, cat):
        assert client.get(url).status_code in (403, 404, 405), url
        response = client.post(url, {"title": "店员改", "text": "店员改", "word": "店员改", "sort_order": "0",
                                     "product": str(item.pk), "link_kind": "none", "icon_name": "gift"})
        assert response.status_code in (403, 404), url
    assert _snapshot() == before
    client.logout()
    assert client.get(reverse("marketing_bo:home_list", args=["banners"])).status_code == 302
