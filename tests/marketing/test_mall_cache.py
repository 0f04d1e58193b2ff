"""The points mall's grid is kept for every shopper (marketing.mall_cache) and every writer of what a
card shows makes the next visit render it afresh; the balance above it is never kept."""

import re
import time
from datetime import timedelta

import pytest
from django.contrib import admin
from django.contrib.messages.storage.fallback import FallbackStorage
from django.test import RequestFactory
from django.utils import timezone

from catalog import cache as catalog_cache
from catalog.models import Sku
from marketing import services
from marketing.models import Coupon, PointsExchange, PointsItem
from members import services as member_services
from members.models import Member, PointsEntry
from orders.services.cart import add_for_member
from tests.stores.conftest import make_sku

from .factories import make_coupon, make_coupon_item
from .test_views import LOGGED_IN, _product_with_stock, _shopper

pytestmark = pytest.mark.django_db
MALL = "/marketing/points-mall/"


def _visit(client, **params):
    response = client.get(MALL, params, HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert response.status_code == 200
    return response.content.decode()


def test_a_warm_mall_reads_only_the_balance_and_the_badge(client, django_assert_num_queries):
    make_coupon_item(title="十元券")
    client.force_login(_shopper(points=120))
    _visit(client)
    with django_assert_num_queries(LOGGED_IN + 1):  # the balance with the badge's count; no items
        page = _visit(client)
    assert "十元券" in page and 'id="mk-balance">120<' in page


def _badge(page):
    return re.search(r"<span[^>]*data-cart-badge[^>]*>[^<]*<", page).group(0)


def test_the_badge_read_with_the_balance_is_exact_at_once(client, django_assert_num_queries):
    """settings.POINTS_MALL_COUNTS: the cart's pieces come in the balance's statement, read on
    every request, so a line added shows on the very next visit."""
    sku = make_sku("积分页徽标")
    user = _shopper(points=120)
    client.force_login(user)
    assert 'hidden>0<' in _badge(_visit(client))
    add_for_member(user, sku.pk, 2)
    with django_assert_num_queries(LOGGED_IN + 1):
        page = _visit(client)
    assert _badge(page).endswith(">2<") and "hidden" not in _badge(page)
    add_for_member(user, sku.pk, 98)
    member_services.earn_points(Member.objects.get(user=user), 5, PointsEntry.Kind.REVIEW, "review:badge")
    page = _visit(client)
    assert _badge(page).endswith(">99+<") and 'id="mk-balance">125<' in page
    client.force_login(_shopper(points=1))  # another member's cart is not theirs
    assert 'hidden>0<' in _badge(_visit(client))


def test_a_member_without_a_profile_gets_zero_points_and_their_badge(client):
    sku = make_sku("无档案徽标")
    user = _shopper(points=0)
    add_for_member(user, sku.pk, 3)
    Member.objects.filter(user=user).delete()
    client.force_login(user)
    page = _visit(client)
    assert 'id="mk-balance">0<' in page and _badge(page).endswith(">3<")


def test_the_balance_is_each_members_own_and_current(client):
    make_coupon_item(title="十元券")
    first, second = _shopper(points=111), _shopper(points=222)
    client.force_login(first)
    assert 'id="mk-balance">111<' in _visit(client)
    member_services.earn_points(Member.objects.get(user=first), 9, PointsEntry.Kind.REVIEW, "review:mall")
    assert 'id="mk-balance">120<' in _visit(client)
    client.force_login(second)
    assert 'id="mk-balance">222<' in _visit(client)
    client.logout()
    assert "登录后兑换" in _visit(client) and 'id="mk-balance"' not in _visit(client)


def test_an_exchange_and_its_cancellation_move_the_remaining_count(client):
    item, (store,) = _product_with_stock(units=5, quantity=3, title="保温杯")
    user = _shopper(points=5000)
    client.force_login(user)
    assert "剩3件" in _visit(client)
    exchange = services.exchange_points(user, item.pk, request_id="mall-cache-1", store_id=store.pk)
    assert "剩2件" in _visit(client)
    services.cancel_exchange(exchange.pk, user=user)
    assert PointsExchange.objects.get(pk=exchange.pk).status == PointsExchange.Status.CANCELLED
    assert "剩3件" in _visit(client)


def test_the_last_coupon_claimed_elsewhere_shows_sold_out(client):
    coupon = make_coupon(total=1, claimable=True)
    make_coupon_item(coupon, title="限量券")
    client.force_login(_shopper())
    assert "已兑完" not in _visit(client)
    services.claim_coupon(_shopper(), coupon.pk)  # another shopper, in the coupon centre
    assert "已兑完" in _visit(client)


def test_staff_edits_and_the_stop_action_show_at_once(client, admin_user):
    coupon = make_coupon()
    item = make_coupon_item(coupon, title="旧名字")
    client.force_login(_shopper())
    assert "旧名字" in _visit(client)
    item.title = "新名字"
    item.save()
    assert "新名字" in _visit(client) and "旧名字" not in _visit(client)
    request = RequestFactory().post("/admin/")
    request.user, request.session = admin_user, {}
    request._messages = FallbackStorage(request)
    admin.site._registry[Coupon].deactivate(request, Coupon.objects.filter(pk=coupon.pk))
    assert "已兑完" in _visit(client)
    PointsItem.objects.get(pk=item.pk).delete()
    assert "新名字" not in _visit(client)


def test_a_catalogue_change_reaches_the_cards(client):
    item, _stores = _product_with_stock(title="马克杯")
    client.force_login(_shopper())
    _visit(client)
    Sku.objects.filter(pk=item.sku_id).update(spec_text="450ml 蓝色")
    catalog_cache.bump()  # what catalog's writers call
    assert "450ml 蓝色" in _visit(client)


def test_windows_open_and_close_with_no_write(client):
    soon = timezone.now() + timedelta(seconds=2)
    make_coupon_item(title="限时券", ends_at=soon)
    make_coupon_item(title="预告券", starts_at=soon)
    client.force_login(_shopper())
    page = _visit(client)
    assert "限时券" in page and "预告券" not in page
    time.sleep(max(0.0, (soon - timezone.now()).total_seconds()) + 0.2)
    page = _visit(client)
    assert "限时券" not in page and "预告券" in page


def test_each_tab_keeps_its_own_grid(client):
    make_coupon_item(title="券品")
    item, _stores = _product_with_stock(title="实物品")
    client.force_login(_shopper())
    _visit(client)
    coupons, goods = _visit(client, kind="coupon"), _visit(client, kind="product")
    assert "券品" in coupons and "实物品" not in coupons
    assert "实物品" in goods and "券品" not in goods


@pytest.mark.redis
def test_the_mall_answers_while_redis_is_down(client, settings):
    from core.cache import reset_breakers

    make_coupon_item(title="十元券")
    client.force_login(_shopper(points=50))
    _visit(client)
    real = settings.CACHES["default"]
    if real["BACKEND"] != "core.cache.ResilientRedisCache":
        pytest.skip("needs production's cache backend")
    reset_breakers()
    try:
        settings.CACHES = {"default": {**real, "LOCATION": "redis://127.0.0.1:6390/0"}}  # nothing listens
        make_coupon_item(title="二十元券")
        page = _visit(client)
        assert "十元券" in page and "二十元券" in page
    finally:
        reset_breakers()
