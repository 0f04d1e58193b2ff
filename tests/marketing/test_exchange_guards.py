"""The points-mall item page shows why an exchange cannot happen (limit reached, points short or
negative, sold out) as a disabled button with the reason, instead of a form that answers 400;
exchanging and cancelling ask first (data-confirm, a WeUI dialog); the toasts name real pages."""

import pytest
from django.conf import settings
from django.contrib.messages import get_messages
from django.urls import reverse

from marketing import services
from marketing.models import PointsExchange
from members.models import Member, PointsEntry
from stores.services import receive_stock
from tests.members.factories import make_member
from tests.stores.conftest import make_sku, make_store

from .factories import make_coupon_item, make_product_item

pytestmark = pytest.mark.django_db

SESSION = 1 if settings.SESSION_ENGINE == "django.contrib.sessions.backends.db" else 0
LOGGED_IN = SESSION + 1


def _shopper(points=1000):
    return make_member(points=points, phone_verified=True).user


def _page(client, item):
    response = client.get(reverse("marketing:mall_item", args=[item.pk]))
    assert response.status_code == 200
    return response.content.decode()


def _exchange(client, item, request_id, **extra):
    return client.post(
        reverse("marketing:mall_exchange", args=[item.pk]), {"request_id": request_id, "points": item.points, **extra}
    )


def _messages(response):
    return [str(m) for m in get_messages(response.wsgi_request)]


def test_a_reached_per_member_limit_disables_the_button_with_the_reason(client, django_assert_num_queries):
    item = make_coupon_item(points=100, per_member_limit=1)
    user = _shopper()
    client.force_login(user)
    page = _page(client, item)
    assert 'type="submit"' in page and "已达兑换上限" not in page
    services.exchange_points(user, item.pk, request_id="first")
    with django_assert_num_queries(LOGGED_IN + 3):  # item, balance, the member's exchanges of it
        response = client.get(reverse("marketing:mall_item", args=[item.pk]))
    page = response.content.decode()
    assert response.context["limit_reached"] is True
    assert "已达兑换上限" in page and 'data-reason="member_limit">每人限兑 1 次，您已兑换<' in page
    assert 'class="weui-btn weui-btn_primary mk-bar__btn"' not in page
    # a forged post still changes nothing
    response = _exchange(client, item, "second")
    assert response.status_code == 400
    assert PointsExchange.objects.filter(user=user).count() == 1


def test_a_cancelled_exchange_frees_the_limit_again(client):
    sku = make_sku("积分好礼")
    store = make_store("自提店")
    receive_stock(store, sku, 3)
    item = make_product_item(sku, points=300, per_member_limit=1)
    user = _shopper()
    client.force_login(user)
    exchange = services.exchange_points(user, item.pk, request_id="first", store_id=store.pk)
    assert "已达兑换上限" in _page(client, item)
    services.cancel_exchange(exchange.pk, user=user)
    page = _page(client, item)
    assert "已达兑换上限" not in page and "确认兑换 · 300 积分" in page


def test_points_short_or_negative_disable_the_button_with_the_reason(client):
    item = make_coupon_item(points=500)
    user = _shopper(points=120)
    client.force_login(user)
    page = _page(client, item)
    assert "积分不足" in page and 'data-reason="insufficient_points">还差 380 积分<' in page
    assert 'type="submit"' not in page
    Member.objects.filter(user=user).update(points_balance=-20)
    PointsEntry.objects.filter(member__user=user).delete()  # the page reads the balance row only
    page = _page(client, item)
    assert 'data-reason="negative_balance">积分余额为负（因退款扣回），暂不能使用积分<' in page


def test_a_sold_out_item_says_so_and_has_no_button(client):
    item = make_coupon_item(points=100, quantity=1)
    other = _shopper()
    services.exchange_points(other, item.pk, request_id="last-one")
    client.force_login(_shopper())
    page = _page(client, item)
    assert "已兑完" in page and 'type="submit"' not in page


def test_exchanging_asks_first_and_the_toast_names_my_coupons(client):
    item = make_coupon_item(points=100, title="满100减10兑换")
    user = _shopper()
    client.force_login(user)
    page = _page(client, item)
    assert 'data-confirm="确定用 100 积分兑换“满100减10兑换”？兑换后优惠券放入“我的优惠券”。"' in page
    assert "data-submit-once" in page
    response = _exchange(client, item, "rid-1")
    assert _messages(response) == ["兑换成功，优惠券已放入“我的优惠券”"]
    # the second submit of the same form returns the first exchange
    again = _exchange(client, item, "rid-1")
    assert again["Location"] == response["Location"]
    assert PointsExchange.objects.filter(user=user).count() == 1


@pytest.mark.parametrize("points", ["１００", "1" * 5000, "\x00", ""])
def test_a_tampered_price_changes_nothing(client, points):
    item = make_coupon_item(points=100)
    user = _shopper()
    client.force_login(user)
    response = client.post(
        reverse("marketing:mall_exchange", args=[item.pk]), {"request_id": "rid", "points": points}
    )
    assert response.status_code == 400
    assert not PointsExchange.objects.filter(user=user).exists()
    assert Member.objects.get(user=user).points_balance == 1000


def test_cancelling_an_exchange_asks_first(client):
    sku = make_sku("积分好礼")
    store = make_store("自提店")
    receive_stock(store, sku, 3)
    item = make_product_item(sku, points=300)
    user = _shopper()
    client.force_login(user)
    exchange = services.exchange_points(user, item.pk, request_id="first", store_id=store.pk)
    page = client.get(reverse("marketing:exchange_detail", args=[exchange.pk])).content.decode()
    assert 'data-confirm="取消兑换后 300 积分退回，门店不再为您保留商品。"' in page and "data-confirm-warn" in page
