"""The member centre's body is kept under everything it shows (members.centre): every change a shopper
can make or suffer shows on the very next visit, one member never sees another's, and the page
answers from the database while Redis is down. Here because the figures come from every app."""

import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from marketing import services as marketing_services
from marketing.models import MemberCoupon
from members import services as member_services
from members.models import Address, Member, MemberLevel, PointsEntry
from tests.marketing.factories import make_coupon

from .factories import checkout, make_shopper, pay
from .test_views_common import fill_cart

pytestmark = pytest.mark.django_db
ME = "/members/me/"


def _visit(client):
    response = client.get(ME, HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert response.status_code == 200
    return response.content.decode()


def _figure(page, marker):
    """The number shown in the element whose opening tag contains `marker`."""
    found = re.search(re.escape(marker) + r'[^>]*>(-?\d+)<', page)
    assert found, marker
    return int(found.group(1))


def _coupons(page):
    return int(re.search(r'class="mc-stat__num">(\d+)<', page).group(1))


def _order_badge(page, tab):
    cell = page.split(f'data-order-tab="{tab}"')[1].split("</a>")[0]
    found = re.search(r'weui-badge"[^>]*>(\d+)<', cell)
    return int(found.group(1)) if found else 0


@pytest.fixture
def member_client(client, shopper):
    client.force_login(shopper)
    _visit(client)  # the body is kept from here on
    return client


def test_points_earned_show_at_once(member_client, shopper):
    member = Member.objects.get(user=shopper)
    member_services.earn_points(member, 37, PointsEntry.Kind.REVIEW, "review:cache-test")
    page = _visit(member_client)
    assert _figure(page, 'id="mc-points"') == 37
    assert "+37" in page  # the new ledger row among the recent ones


def test_signing_in_shows_the_streak(member_client, shopper):
    assert "每日签到领积分" in _visit(member_client)
    member_client.post(reverse("members:sign_in"))
    page = _visit(member_client)
    assert "已连续签到 1 天" in page and "每日签到领积分" not in page


def test_a_coupon_claimed_used_or_run_out_changes_the_count(member_client, shopper):
    coupon = make_coupon(claimable=True, per_member_limit=2)
    copy = marketing_services.claim_coupon(shopper, coupon.pk)
    assert _coupons(_visit(member_client)) == 1
    marketing_services.claim_coupon(shopper, coupon.pk)
    assert _coupons(_visit(member_client)) == 2
    # a copy past its end date stops counting with no write at all (here: moved into the past)
    MemberCoupon.objects.filter(pk=copy.pk).update(valid_until=timezone.now() - timedelta(seconds=1))
    assert _coupons(_visit(member_client)) == 1


def test_orders_placed_and_paid_move_the_shortcut_badges(member_client, shopper, store, tea):
    order = checkout(shopper, store, [(tea, 1)])
    page = _visit(member_client)
    assert _order_badge(page, "pending_payment") == 1 and _order_badge(page, "to_pickup") == 0
    pay(order)
    page = _visit(member_client)
    assert _order_badge(page, "pending_payment") == 0 and _order_badge(page, "to_pickup") == 1


def test_the_cart_badge_follows_the_cart(member_client, shopper, nuts):
    fill_cart(shopper, [nuts], 3)
    assert 'aria-label="购物车中有 3 件商品">3</span>' in _visit(member_client)


def test_addresses_name_and_level_changes_show(member_client, shopper):
    member_services.save_address(shopper, Address(
        receiver="李四", phone="13800138001", province="浙江省", city="杭州市", district="西湖区", detail="x",
    ), make_default=True)
    page = _visit(member_client)
    assert "杭州市西湖区 · 2 个" in page
    shopper.nickname = "新昵称"
    shopper.save(update_fields=["nickname"])
    assert "新昵称" in _visit(member_client)
    level = Member.objects.select_related("level").get(user=shopper).level
    MemberLevel.objects.filter(pk=level.pk).update(name="青铜会员")  # HQ renames the tier
    assert "青铜会员" in _visit(member_client)


def test_one_member_never_sees_anothers_page(client, store):
    first, second = make_shopper(), make_shopper()
    Member.objects.filter(user=second).update(points_balance=0)
    client.force_login(first)
    mine = _visit(client)
    client.force_login(second)
    theirs = _visit(client)
    assert first.nickname in mine and first.nickname not in theirs
    assert second.nickname in theirs


@pytest.mark.redis
def test_the_member_centre_answers_while_redis_is_down(client, shopper, settings):
    from core.cache import reset_breakers

    client.force_login(shopper)
    _visit(client)
    real = settings.CACHES["default"]
    if real["BACKEND"] != "core.cache.ResilientRedisCache":
        pytest.skip("needs production's cache backend")
    reset_breakers()
    try:
        settings.CACHES = {"default": {**real, "LOCATION": "redis://127.0.0.1:6390/0"}}  # nothing listens
        member = Member.objects.get(user=shopper)
        member_services.earn_points(member, 12, PointsEntry.Kind.REVIEW, "review:redis-down")
        page = _visit(client)
        assert _figure(page, 'id="mc-points"') == 12
    finally:
        reset_breakers()
