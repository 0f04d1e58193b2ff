"""The queue's rows are cached by what they show: a row never shows an old status, amount, buyer
or goods, and its key changes with every one of them."""

import re
from decimal import Decimal

import pytest
from django.urls import reverse

from orders import services
from orders.backoffice.queue import row_cache_key
from orders.models import Order

from .backoffice_support import make_clerk, make_hq, paid
from .factories import make_sku

pytestmark = pytest.mark.django_db
QUEUE = reverse("orders_bo:queue")


@pytest.fixture
def plenty(store):
    return make_sku("每日坚果礼盒", price="20.00", stock=500, store=store)


def _row_of(response, order):
    match = re.search(rf'<tr data-order="{order.number}">(.*?)</tr>', response.content.decode(), re.S)
    assert match, order.number
    return match.group(1)


def test_a_cached_row_shows_what_the_order_is_now(client, store, shopper, plenty, manager):
    order = paid(shopper, store, [(plenty, 1)], fulfilment="express")
    client.force_login(make_clerk(store))
    first = _row_of(client.get(QUEUE), order)
    assert "待发货" in first and "bo-tag--warn" in first
    assert _row_of(client.get(QUEUE), order) == first  # from the cache
    services.ship_order(order, by=manager, parcels=[("shunfeng", "SF1234567890")])  # a conditional UPDATE
    shipped = _row_of(client.get(QUEUE), order)
    assert "待发货" not in shipped and "已发货" in shipped and "bo-tag--warn" not in shipped
    Order.objects.filter(pk=order.pk).update(refunded_amount=Decimal("3.00"))
    assert "已退 ¥3.00" in _row_of(client.get(QUEUE), order)


def test_a_row_names_the_store_only_where_many_are_listed(client, store, shopper, plenty):
    order = paid(shopper, store, [(plenty, 1)])
    client.force_login(make_clerk(store))
    assert store.name not in _row_of(client.get(QUEUE), order)
    client.force_login(make_hq())
    assert store.name in _row_of(client.get(QUEUE), order)


def _change(row, name, value):
    setattr(row, name, value)


@pytest.mark.parametrize("change", [
    lambda row: _change(row, "status", "completed"),
    lambda row: _change(row, "fulfilment", "pickup"),
    lambda row: _change(row, "paid_at", None),
    lambda row: _change(row, "paid_amount", row.paid_amount + 1),
    lambda row: _change(row, "pay_amount", row.pay_amount + 1),
    lambda row: _change(row, "refunded_amount", row.refunded_amount + 1),
    lambda row: _change(row, "receiver_name", "欧阳娜娜"),
    lambda row: _change(row, "pickup_slot_start", row.created_at),
    lambda row: _change(row, "created_at", row.created_at.replace(year=2020)),
    lambda row: _change(row, "lines_text", "别的商品×2"),
    lambda row: _change(row.user, "nickname", "改了昵称"),
    lambda row: _change(row.user, "phone", "+8613999998888"),
])
def test_the_row_key_changes_with_everything_the_row_shows(client, store, shopper, plenty, change):
    paid(shopper, store, [(plenty, 1)], fulfilment="express")
    client.force_login(make_clerk(store))
    [row] = client.get(QUEUE).context["rows"]
    key = row_cache_key(row, many=False)
    assert row_cache_key(row, many=True) != key
    change(row)
    assert row_cache_key(row, many=False) != key
