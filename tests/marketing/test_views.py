"""Shopper pages of the points mall, exchange records, coupon wallet and coupon centre."""

from datetime import timedelta

import pytest
from django.conf import settings
from django.contrib.messages import get_messages
from django.shortcuts import resolve_url
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from marketing import services
from marketing.models import Coupon, MemberCoupon, PointsExchange, PointsItem
from members.models import Member
from stores.models import Stock
from stores.services import receive_stock
from tests.members.factories import make_member
from tests.stores.conftest import make_sku, make_store

from .factories import make_coupon, make_coupon_item, make_product_item

pytestmark = pytest.mark.django_db

# with database sessions the session is one query; the user is one more on every logged-in page
SESSION = 1 if settings.SESSION_ENGINE == "django.contrib.sessions.backends.db" else 0
LOGGED_IN = SESSION + 1
# the 购物车 badge on the tab bar counts the cart (orders.context_processors.cart_badge)
TAB_BAR_BADGE = 1


def _shopper(points=1000, **extra):
    extra.setdefault("phone_verified", True)
    return make_member(points=points, **extra).user


def _balance(user):
    return Member.objects.get(user=user).points_balance


def _stock(store, sku):
    row = Stock.objects.filter(store=store, sku=sku).values("on_hand", "reserved").first()
    return (row["on_hand"], row["reserved"]) if row else (0, 0)


def _messages(response):
    return [str(m) for m in get_messages(response.wsgi_request)]


def _product_with_stock(stores=1, units=3, **item_extra):
    sku = make_sku("积分好礼")
    made = [make_store(f"自提店{i}") for i in range(stores)]
    for store in made:
        receive_stock(store, sku, units)
    return make_product_item(sku, points=300, **item_extra), made


def _with_cover(sku):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from catalog.models import ProductImage
    from tests.members.test_views import _png

    picture = ProductImage.objects.create(
        product=sku.product, image=SimpleUploadedFile("cover.png", _png().read(), content_type="image/png")
    )
    sku.product.cover = picture
    sku.product.save(update_fields=["cover"])
    return picture


def _mixed_items(n):
    """Coupon items and product items, the products with a cover or a SKU image."""
    items = []
    for i in range(n):
        if i % 2:
            sku = make_sku(f"礼品{i}")
            picture = _with_cover(sku)
            if i % 4 == 1:
                sku.image = picture
                sku.save(update_fields=["image"])
            items.append(make_product_item(sku, points=200 + i, quantity=5))
        else:
            items.append(make_coupon_item(points=100 + i, quantity=3 if i % 3 == 0 else None))
    return items


def _exchange(client, item, store=None, request_id="rid-1"):
    data = {"request_id": request_id}
    if store is not None:
        data["store_id"] = store if isinstance(store, str) else store.pk
    return client.post(reverse("marketing:mall_exchange", args=[item.pk]), data)


# --- the mall list ---------------------------------------------------------------------------
@pytest.mark.parametrize("n", [1, 10])
def test_mall_query_count_does_not_grow_with_items(client, django_assert_num_queries, n):
    _mixed_items(n)
    client.force_login(_shopper())
    # the balance (the badge's count read with it), items (coupon, SKU, product, images joined)
    with django_assert_num_queries(LOGGED_IN + 2):
        response = client.get(reverse("marketing:mall"))
    assert response.status_code == 200
    assert len(response.context["items"]) == n


@pytest.mark.parametrize("n", [1, 10])
def test_anonymous_visitors_browse_the_mall_in_one_query(client, django_assert_num_queries, n):
    _mixed_items(n)
    with django_assert_num_queries(1):
        response = client.get(reverse("marketing:mall"))
    body = response.content.decode()
    assert "登录后兑换" in body
    assert f"{resolve_url(settings.LOGIN_URL)}?next=/marketing/points-mall/" in body


def test_mall_cards_show_coupon_terms_points_remaining_and_sold_out(client):
    coupon = make_coupon(amount="20.00", threshold="199.00")
    make_coupon_item(coupon, points=150, quantity=5, title="二十元券")
    gone = make_coupon_item(points=50, quantity=1, title="抢光了")
    PointsItem.objects.filter(pk=gone.pk).update(exchanged_count=1)
    client.force_login(_shopper(points=321))
    body = client.get(reverse("marketing:mall")).content.decode()
    assert "¥20" in body and "满199元可用" in body and "150" in body
    assert "剩5件" in body
    assert "已兑完" in body and "is-sold-out" in body
    assert 'id="mk-balance">321<' in body


def test_mall_tabs_filter_by_kind_and_ignore_unknown_kinds(client):
    coupon_item = make_coupon_item(title="券品")
    product_item = make_product_item(make_sku(), title="实物品")
    assert list(client.get(reverse("marketing:mall"), {"kind": "coupon"}).context["items"]) == [coupon_item]
    assert list(client.get(reverse("marketing:mall"), {"kind": "product"}).context["items"]) == [product_item]
    response = client.get(reverse("marketing:mall"), {"kind": "<script>"})
    assert response.status_code == 200 and len(response.context["items"]) == 2


def test_closed_and_future_items_are_not_in_the_mall(client):
    make_coupon_item(title="下架了", is_active=False)
    make_coupon_item(title="还没开始", starts_at=timezone.now() + timedelta(days=1))
    make_coupon_item(title="已结束", ends_at=timezone.now() - timedelta(minutes=1))
    assert client.get(reverse("marketing:mall")).context["items"] == []


# --- the item page ---------------------------------------------------------------------------
def test_coupon_item_page_query_count_and_confirm_form(client, django_assert_num_queries):
    item = make_coupon_item(points=100)
    client.force_login(_shopper())
    with django_assert_num_queries(LOGGED_IN + 2):  # item, balance
        response = client.get(reverse("marketing:mall_item", args=[item.pk]))
    body = response.content.decode()
    assert reverse("marketing:mall_exchange", args=[item.pk]) in body
    assert 'name="request_id"' in body
    assert "确认兑换" in body


@pytest.mark.parametrize("stores", [1, 6])
def test_product_item_page_query_count_does_not_grow_with_stores(client, django_assert_num_queries, stores):
    item, _made = _product_with_stock(stores=stores)
    client.force_login(_shopper())
    with django_assert_num_queries(LOGGED_IN + 4):  # item, stock per store, stores, balance
        response = client.get(reverse("marketing:mall_item", args=[item.pk]))
    assert len(response.context["stores"]) == stores


def test_store_without_stock_is_disabled_and_labelled(client):
    item, (store,) = _product_with_stock()
    empty = make_store("空店")
    client.force_login(_shopper())
    response = client.get(reverse("marketing:mall_item", args=[item.pk]))
    body = response.content.decode()
    assert "暂无库存" in body
    assert f'value="{empty.pk}" id="store-{empty.pk}" required disabled' in body
    # the only store with stock is picked for the shopper
    assert f'value="{store.pk}" id="store-{store.pk}" required checked' in body


def test_chosen_store_is_the_default_when_it_has_stock(client):
    item, (first, second) = _product_with_stock(stores=2)
    client.force_login(_shopper())
    client.cookies["md_store"] = str(second.pk)
    response = client.get(reverse("marketing:mall_item", args=[item.pk]))
    assert response.context["chosen_store_id"] == second.pk
    client.cookies["md_store"] = str(make_store("没货的店").pk)
    assert client.get(reverse("marketing:mall_item", args=[item.pk])).context["chosen_store_id"] is None


def test_short_points_show_the_insufficient_state_without_a_submit(client):
    item = make_coupon_item(points=500)
    client.force_login(_shopper(points=100))
    response = client.get(reverse("marketing:mall_item", args=[item.pk]))
    body = response.content.decode()
    assert response.context["short_of_points"] is True
    assert "积分不足" in body and 'type="submit"' not in body.split('class="mk-bar"', 1)[1]


def test_anonymous_item_page_links_to_login_and_back(client):
    item = make_coupon_item()
    body = client.get(reverse("marketing:mall_item", args=[item.pk])).content.decode()
    assert f"{resolve_url(settings.LOGIN_URL)}?next=/marketing/points-mall/{item.pk}/" in body
    assert "登录后兑换" in body


@pytest.mark.parametrize("state", ["unknown", "inactive", "ended"])
def test_unknown_or_closed_item_is_404(client, state):
    item = make_coupon_item()
    if state == "inactive":
        PointsItem.objects.filter(pk=item.pk).update(is_active=False)
    elif state == "ended":
        PointsItem.objects.filter(pk=item.pk).update(ends_at=timezone.now() - timedelta(seconds=1))
    pk = item.pk + 999 if state == "unknown" else item.pk
    assert client.get(reverse("marketing:mall_item", args=[pk])).status_code == 404


def test_item_without_picture_falls_back_to_the_product_cover(client):
    sku = make_sku("带图商品")
    _with_cover(sku)
    item = make_product_item(sku)
    body = client.get(reverse("marketing:mall_item", args=[item.pk])).content.decode()
    assert "cover" in body and "catalog-noimg" not in body


# --- exchanging ------------------------------------------------------------------------------
def test_coupon_exchange_issues_the_coupon_and_redirects_to_the_record(client):
    item = make_coupon_item(points=100)
    user = _shopper(points=1000)
    client.force_login(user)
    response = _exchange(client, item)
    exchange = PointsExchange.objects.get(user=user)
    assert response.status_code == 302
    assert response["Location"] == reverse("marketing:exchange_detail", args=[exchange.pk])
    assert exchange.status == PointsExchange.Status.DONE
    assert MemberCoupon.objects.filter(user=user, coupon=item.coupon).count() == 1
    assert _balance(user) == 900
    assert "兑换成功" in _messages(response)[0]
    detail = client.get(response["Location"]).content.decode()
    assert reverse("marketing:coupons") in detail


def test_product_exchange_reserves_a_unit_and_shows_the_pickup_code_and_qr(client):
    item, (store,) = _product_with_stock(units=3)
    user = _shopper(points=1000)
    client.force_login(user)
    response = _exchange(client, item, store)
    exchange = PointsExchange.objects.get(user=user)
    assert response.status_code == 302
    assert exchange.status == PointsExchange.Status.AWAITING_PICKUP and exchange.store == store
    assert _stock(store, item.sku) == (3, 1)
    assert _balance(user) == 700
    body = client.get(response["Location"]).content.decode()
    assert f'id="mk-pickup-code">{exchange.pickup_code}<' in body
    assert '<svg class="mk-qr" role="img"' in body and "<path" in body
    assert store.name in body and store.phone in body and store.address in body
    assert reverse("marketing:exchange_cancel", args=[exchange.pk]) in body


def test_the_same_request_id_posted_twice_exchanges_once(client):
    item, (store,) = _product_with_stock(units=3)
    user = _shopper(points=1000)
    client.force_login(user)
    first = _exchange(client, item, store, request_id="same-form")
    second = _exchange(client, item, store, request_id="same-form")
    assert first["Location"] == second["Location"]
    assert PointsExchange.objects.filter(user=user).count() == 1
    assert _balance(user) == 700 and _stock(store, item.sku) == (3, 1)


def _assert_nothing_changed(user, item, store=None, balance=1000, units=3):
    assert not PointsExchange.objects.filter(user=user).exists()
    assert _balance(user) == balance
    item.refresh_from_db()
    assert item.exchanged_count == 0
    if store is not None:
        assert _stock(store, item.sku) == (units, 0)


@pytest.mark.parametrize("store_input", ["abc", "999999", "", "-1", "1.5"])
def test_bad_store_id_shows_a_message_and_changes_nothing(client, store_input):
    item, (store,) = _product_with_stock()
    user = _shopper()
    client.force_login(user)
    response = _exchange(client, item, store_input)
    assert response.status_code == 400
    assert response.context["error"] in ("请选择自提门店", "该门店不支持自提，请换一家门店")
    assert response.context["error"] in response.content.decode()
    _assert_nothing_changed(user, item, store)


def test_store_without_stock_is_refused_and_nothing_changes(client):
    item, (store,) = _product_with_stock()
    empty = make_store("空店")
    user = _shopper()
    client.force_login(user)
    response = _exchange(client, item, empty)
    assert response.status_code == 400
    assert "库存" in response.context["error"]
    _assert_nothing_changed(user, item, store)


def test_store_not_open_for_pickup_is_refused(client):
    item, (store,) = _product_with_stock()
    closed = make_store("不自提的店", pickup_enabled=False)
    receive_stock(closed, item.sku, 3)
    user = _shopper()
    client.force_login(user)
    response = _exchange(client, item, closed)
    assert response.status_code == 400 and response.context["error"] == "该门店不支持自提，请换一家门店"
    _assert_nothing_changed(user, item, store)


def test_insufficient_points_are_refused_and_nothing_changes(client):
    item, (store,) = _product_with_stock()
    user = _shopper(points=299)
    client.force_login(user)
    response = _exchange(client, item, store)
    assert response.status_code == 400
    assert response.context["error"] == "积分不足：需要 300 积分，当前 299 积分"
    _assert_nothing_changed(user, item, store, balance=299)


def test_sold_out_item_is_refused_and_nothing_changes(client):
    item = make_coupon_item(points=100, quantity=1)
    PointsItem.objects.filter(pk=item.pk).update(exchanged_count=1)
    user = _shopper()
    client.force_login(user)
    response = _exchange(client, item)
    assert response.status_code == 400 and response.context["error"] == "该商品已兑完"
    assert not PointsExchange.objects.filter(user=user).exists() and _balance(user) == 1000
    assert not MemberCoupon.objects.filter(user=user).exists()
    assert Coupon.objects.get(pk=item.coupon_id).issued_count == 0


def test_member_limit_reached_is_refused(client):
    item = make_coupon_item(points=100, per_member_limit=1)
    user = _shopper()
    client.force_login(user)
    _exchange(client, item, request_id="a")
    response = _exchange(client, item, request_id="b")
    assert response.status_code == 400 and "每人限兑 1 次" in response.context["error"]
    assert PointsExchange.objects.filter(user=user).count() == 1 and _balance(user) == 900


def test_missing_request_id_is_refused(client):
    item = make_coupon_item(points=100)
    user = _shopper()
    client.force_login(user)
    response = client.post(reverse("marketing:mall_exchange", args=[item.pk]), {})
    assert response.status_code == 400 and response.context["error"] == "页面已过期，请刷新后重试"
    assert not PointsExchange.objects.filter(user=user).exists() and _balance(user) == 1000


def test_tampered_or_closed_item_id_is_404_and_changes_nothing(client):
    item = make_coupon_item(points=100)
    closed = make_coupon_item(points=100, is_active=False)
    user = _shopper()
    client.force_login(user)
    assert _exchange(client, PointsItem(pk=item.pk + 999)).status_code == 404
    assert _exchange(client, closed).status_code == 404
    assert client.post(f"/marketing/points-mall/{item.pk}x/exchange/", {"request_id": "r"}).status_code == 404
    assert not PointsExchange.objects.filter(user=user).exists() and _balance(user) == 1000


def test_goods_need_a_bound_phone_but_coupons_do_not(client):
    item, (store,) = _product_with_stock()
    user = _shopper(phone_verified=False)
    client.force_login(user)
    page = client.get(reverse("marketing:mall_item", args=[item.pk])).content.decode()
    assert "绑定手机号后兑换" in page
    assert f"?next=%2Fmarketing%2Fpoints-mall%2F{item.pk}%2F" in page
    response = _exchange(client, item, store)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_bind_phone"))
    assert f"next=%2Fmarketing%2Fpoints-mall%2F{item.pk}%2F" in response["Location"]
    _assert_nothing_changed(user, item, store)
    coupon_item = make_coupon_item(points=100)
    assert _exchange(client, coupon_item, request_id="c")["Location"].startswith("/marketing/points-mall/records/")
    assert _balance(user) == 900


def test_anonymous_exchange_is_sent_to_login(client):
    item = make_coupon_item()
    response = _exchange(client, item)
    assert response.status_code == 302 and response["Location"].startswith(resolve_url(settings.LOGIN_URL))
    assert not PointsExchange.objects.exists()


@pytest.mark.parametrize(
    "name", ["marketing:mall_exchange", "marketing:exchange_cancel", "marketing:coupon_claim"]
)
def test_post_only_endpoints_refuse_get(client, name):
    client.force_login(_shopper())
    assert client.get(reverse(name, args=[1])).status_code == 405


@pytest.mark.parametrize(
    "url",
    [
        "/marketing/points-mall/records/",
        "/marketing/points-mall/records/1/",
        "/marketing/coupons/",
    ],
)
def test_personal_pages_need_login(client, url):
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith(resolve_url(settings.LOGIN_URL))


# --- records ---------------------------------------------------------------------------------
@pytest.mark.parametrize("n", [1, 10])
def test_exchange_list_query_count_does_not_grow(client, django_assert_num_queries, n):
    user = _shopper(points=100_000)
    item, (store,) = _product_with_stock(units=20)
    coupon_item = make_coupon_item(points=10)
    for i in range(n):
        services.exchange_points(user, (item if i % 2 else coupon_item).pk, request_id=f"r{i}", store_id=store.pk)
    client.force_login(user)
    with django_assert_num_queries(LOGGED_IN + 1 + TAB_BAR_BADGE):
        response = client.get(reverse("marketing:exchanges"))
    assert len(response.context["exchanges"]) == n


def test_exchange_list_pages_without_counting(client):
    user = _shopper(points=100_000)
    item = make_coupon_item(points=10)
    for i in range(25):
        services.exchange_points(user, item.pk, request_id=f"r{i}")
    client.force_login(user)
    first = client.get(reverse("marketing:exchanges"))
    assert len(first.context["exchanges"]) == 20 and first.context["next_page"] == 2
    second = client.get(reverse("marketing:exchanges"), {"page": "2"})
    assert len(second.context["exchanges"]) == 5 and second.context["next_page"] is None
    assert client.get(reverse("marketing:exchanges"), {"page": "x"}).status_code == 200


@pytest.mark.parametrize("kind", ["product", "coupon"])
def test_exchange_detail_query_count(client, django_assert_num_queries, kind):
    user = _shopper()
    item, (store,) = _product_with_stock()
    if kind == "coupon":
        item = make_coupon_item(points=100)
    exchange = services.exchange_points(user, item.pk, request_id="r", store_id=store.pk)
    client.force_login(user)
    with django_assert_num_queries(LOGGED_IN + 1):  # the exchange with its store and coupon joined
        response = client.get(reverse("marketing:exchange_detail", args=[exchange.pk]))
    assert response.context["awaiting"] is (kind == "product")


def test_other_users_exchange_is_404_and_cannot_be_cancelled(client):
    owner = _shopper()
    item, (store,) = _product_with_stock()
    exchange = services.exchange_points(owner, item.pk, request_id="r", store_id=store.pk)
    client.force_login(_shopper())
    assert client.get(reverse("marketing:exchange_detail", args=[exchange.pk])).status_code == 404
    assert client.post(reverse("marketing:exchange_cancel", args=[exchange.pk])).status_code == 404
    assert client.post(reverse("marketing:exchange_cancel", args=[exchange.pk + 999])).status_code == 404
    exchange.refresh_from_db()
    assert exchange.status == PointsExchange.Status.AWAITING_PICKUP
    assert _balance(owner) == 700 and _stock(store, item.sku) == (3, 1)


def test_cancel_returns_points_and_the_unit_once(client):
    user = _shopper()
    item, (store,) = _product_with_stock()
    exchange = services.exchange_points(user, item.pk, request_id="r", store_id=store.pk)
    client.force_login(user)
    response = client.post(reverse("marketing:exchange_cancel", args=[exchange.pk]))
    assert response["Location"] == reverse("marketing:exchange_detail", args=[exchange.pk])
    assert "已取消兑换，积分已退回，可在“积分明细”查看" in _messages(response)
    client.post(reverse("marketing:exchange_cancel", args=[exchange.pk]))
    exchange.refresh_from_db()
    item.refresh_from_db()
    assert exchange.status == PointsExchange.Status.CANCELLED
    assert _balance(user) == 1000 and _stock(store, item.sku) == (3, 0) and item.exchanged_count == 0
    body = client.get(reverse("marketing:exchange_detail", args=[exchange.pk])).content.decode()
    assert "mk-qr" not in body and "已取消" in body


def test_coupon_exchange_cannot_be_cancelled(client):
    user = _shopper()
    item = make_coupon_item(points=100)
    exchange = services.exchange_points(user, item.pk, request_id="r")
    client.force_login(user)
    response = client.post(reverse("marketing:exchange_cancel", args=[exchange.pk]))
    assert response.status_code == 302
    assert _messages(response) == ["已完成的兑换不能取消"]
    exchange.refresh_from_db()
    assert exchange.status == PointsExchange.Status.DONE and _balance(user) == 900


# --- coupon wallet ---------------------------------------------------------------------------
def _give(user, coupon, n=1):
    return [services.issue_coupon(user, coupon, source=MemberCoupon.Source.GRANT) for _ in range(n)]


@pytest.mark.parametrize("n", [1, 10])
def test_wallet_query_count_does_not_grow(client, django_assert_num_queries, n):
    user = _shopper()
    for i in range(n):
        _give(user, make_coupon(amount=str(5 + i), threshold="100"))
    client.force_login(user)
    with django_assert_num_queries(LOGGED_IN + 1 + TAB_BAR_BADGE):
        response = client.get(reverse("marketing:coupons"))
    assert len(response.context["coupons"]) == n


def test_wallet_tabs_split_unused_used_and_expired(client):
    user = _shopper()
    unused, used, old = (_give(user, make_coupon(name=name))[0] for name in ("未用券", "已用券", "过期券"))
    services.use_coupon(used, reference="order:1")
    MemberCoupon.objects.filter(pk=old.pk).update(valid_until=timezone.now() - timedelta(days=1))
    client.force_login(user)
    names = {
        tab: [mc.coupon.name for mc in client.get(reverse("marketing:coupons"), {"tab": tab}).context["coupons"]]
        for tab in ("unused", "used", "expired")
    }
    assert names == {"unused": ["未用券"], "used": ["已用券"], "expired": ["过期券"]}
    body = client.get(reverse("marketing:coupons")).content.decode()
    assert "¥10" in body and "满100元可用" in body and "后台发放" in body
    assert client.get(reverse("marketing:coupons"), {"tab": "bogus"}).context["tab"] == "unused"


def test_wallet_shows_the_latest_copies_only_and_says_so(client, monkeypatch):
    from marketing import views

    monkeypatch.setattr(views, "WALLET_LIMIT", 2)
    user = _shopper()
    _give(user, make_coupon(per_member_limit=5), n=3)
    client.force_login(user)
    response = client.get(reverse("marketing:coupons"))
    assert len(response.context["coupons"]) == 2 and response.context["more"]
    assert "仅显示最近的 2 张" in response.content.decode()


# --- coupon centre ---------------------------------------------------------------------------
@pytest.mark.parametrize("n", [1, 10])
def test_coupon_centre_query_count_does_not_grow(client, django_assert_num_queries, n):
    for _i in range(n):
        make_coupon(claimable=True, total=50)
    client.force_login(_shopper())
    with django_assert_num_queries(LOGGED_IN + 1 + TAB_BAR_BADGE):
        response = client.get(reverse("marketing:coupon_centre"))
    assert len(response.context["coupons"]) == n


def test_anonymous_visitors_see_the_coupon_centre_with_login_links(client):
    make_coupon(claimable=True)
    body = client.get(reverse("marketing:coupon_centre")).content.decode()
    assert "登录领取" in body and f"{resolve_url(settings.LOGIN_URL)}?next=/marketing/coupons/centre/" in body


def test_claim_by_htmx_swaps_the_card_and_then_refuses_past_the_limit(client):
    coupon = make_coupon(claimable=True, per_member_limit=1, total=10)
    user = _shopper()
    client.force_login(user)
    url = reverse("marketing:coupon_claim", args=[coupon.pk])
    first = client.post(url, HTTP_HX_REQUEST="true")
    assert first.status_code == 200 and b"<html" not in first.content
    assert "领取成功" in first.content.decode() and "已领取" in first.content.decode()
    second = client.post(url, HTTP_HX_REQUEST="true")
    assert "每人限领 1 张，您已领取" in second.content.decode()
    assert MemberCoupon.objects.filter(user=user, coupon=coupon).count() == 1
    coupon.refresh_from_db()
    assert coupon.issued_count == 1


def test_claim_without_js_redirects_with_a_message(client):
    coupon = make_coupon(claimable=True, total=1)
    client.force_login(_shopper())
    response = client.post(reverse("marketing:coupon_claim", args=[coupon.pk]))
    assert response["Location"] == reverse("marketing:coupon_centre")
    assert _messages(response) == ["领取成功，已放入“我的优惠券”"]
    other = Client()
    other.force_login(_shopper())
    response = other.post(reverse("marketing:coupon_claim", args=[coupon.pk]))
    assert _messages(response) == ["优惠券已被领完"]


def test_claiming_a_coupon_that_is_not_claimable_changes_nothing(client):
    hidden = make_coupon(claimable=False)
    user = _shopper()
    client.force_login(user)
    response = client.post(reverse("marketing:coupon_claim", args=[hidden.pk]), HTTP_HX_REQUEST="true")
    assert "优惠券不存在或不可领取" in response.content.decode()
    assert not MemberCoupon.objects.filter(user=user).exists()


def test_anonymous_claim_is_sent_to_login(client):
    coupon = make_coupon(claimable=True)
    response = client.post(reverse("marketing:coupon_claim", args=[coupon.pk]))
    assert response.status_code == 302 and response["Location"].startswith(resolve_url(settings.LOGIN_URL))
    assert not MemberCoupon.objects.exists()


# --- entries from other pages ----------------------------------------------------------------
def test_member_centre_links_to_the_mall_and_the_coupon_centre(client):
    client.force_login(_shopper())
    body = client.get(reverse("members:me")).content.decode()
    assert reverse("marketing:mall") in body and reverse("marketing:coupon_centre") in body
    points = client.get(reverse("members:points")).content.decode()
    assert 'href="/marketing/points-mall/"' in points and "去兑换" in points


def test_home_page_shows_the_marketing_strip_and_other_pages_do_not(client):
    home = client.get("/")
    assert home.context["home_marketing_partial"] == "marketing/partials/_home_entry.html"
    assert reverse("marketing:coupon_centre") in home.content.decode()
    assert "home_marketing_partial" not in client.get(reverse("marketing:mall")).context


def test_home_marketing_context_processor_runs_no_query(rf, django_assert_num_queries):
    from django.urls import resolve

    from marketing.context_processors import home_marketing

    request = rf.get("/")
    request.resolver_match = resolve("/")
    with django_assert_num_queries(0):
        context = home_marketing(request)
    assert context["home_marketing_partial"] == "marketing/partials/_home_entry.html"
    assert context["home_top_partial"] == "marketing/partials/_home_top.html"
    with django_assert_num_queries(2):  # banners and notices, when the template first reads them (cold)
        assert context["home_content"]["banners"] == [] and context["home_content"]["notice"] is None


def test_overdue_pickup_shows_no_code_to_scan_but_can_be_cancelled(client):
    user = _shopper()
    item, (store,) = _product_with_stock()
    exchange = services.exchange_points(user, item.pk, request_id="r", store_id=store.pk)
    PointsExchange.objects.filter(pk=exchange.pk).update(pickup_deadline=timezone.now() - timedelta(minutes=1))
    client.force_login(user)
    response = client.get(reverse("marketing:exchange_detail", args=[exchange.pk]))
    body = response.content.decode()
    assert response.context["overdue"] is True
    assert "mk-qr" not in body and "已超过自提期限" in body
    assert reverse("marketing:exchange_cancel", args=[exchange.pk]) in body


def test_delisted_product_cannot_be_exchanged_and_nothing_changes(client):
    from catalog.models import Product

    item, (store,) = _product_with_stock()
    Product.objects.filter(pk=item.sku.product_id).update(status=Product.Status.DELISTED)
    user = _shopper()
    client.force_login(user)
    response = _exchange(client, item, store)
    assert response.status_code == 400 and response.context["error"] == "该商品已下架或暂不可售"
    _assert_nothing_changed(user, item, store)
