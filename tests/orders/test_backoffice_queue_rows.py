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


def _head_of(response):
    html = response.content.decode()
    start = html.index('<form class="bo-filters"')
    return html[start:html.index("</nav>", start)]


def test_the_cached_filters_and_tabs_show_the_counts_stores_and_filters_of_now(client, store, other_store, shopper,
                                                                            plenty):
    from stores.models import Store

    paid(shopper, store, [(plenty, 1)])
    client.force_login(make_hq())
    first = _head_of(client.get(QUEUE, {"store": store.pk}))
    assert _head_of(client.get(QUEUE, {"store": store.pk})) == first  # from the cache
    paid(shopper, store, [(plenty, 1)])  # a new order: the counts change at once
    tabs = {t["key"]: t["shown"] for t in client.get(QUEUE, {"store": store.pk}).context["tabs"]}
    counted = _head_of(client.get(QUEUE, {"store": store.pk}))
    assert tabs["to_fulfil"] == "2" and counted != first
    assert re.search(r'data-tab="to_fulfil"[^>]*>[^<]*<span class="obo-tab__count">2</span>', counted)
    Store.objects.filter(pk=other_store.pk).update(name="改名后的门店")  # the store chooser shows the new name
    assert "改名后的门店" in _head_of(client.get(QUEUE, {"store": store.pk}))
    searched = _head_of(client.get(QUEUE, {"store": store.pk, "q": "欧阳", "fulfilment": "express"}))
    assert 'value="欧阳"' in searched and '<option value="express" selected>' in searched
    bad = client.get(QUEUE, {"store": store.pk, "date_from": "2026-10-02", "date_to": "2026-10-01"})
    assert "开始日期不能晚于结束日期" in bad.content.decode()
    assert "开始日期不能晚于结束日期" in client.get(QUEUE, {"store": store.pk, "date_from": "2026-10-02",
                                                    "date_to": "2026-10-01"}).content.decode()


def test_the_plain_filters_written_by_hand_select_what_the_orm_selects(store, other_store, shopper, plenty):
    from datetime import datetime, time, timedelta

    from django.db import connection
    from django.http import QueryDict
    from django.utils import timezone

    from orders.backoffice.common import StoreChoice
    from orders.backoffice.queue import compiled_base, filtered_orders, plain_base
    from orders.backoffice_forms import QueueFilterForm

    other_sku = make_sku("外店商品", stock=10, store=other_store)
    orders = [paid(shopper, store, [(plenty, 1)], fulfilment=f) for f in ("express", "pickup", "express")]
    orders.append(paid(shopper, other_store, [(other_sku, 1)], fulfilment="express"))
    today = timezone.localdate()
    midnight = timezone.make_aware(datetime.combine(today - timedelta(days=3), time.min))
    Order.objects.filter(pk=orders[0].pk).update(created_at=midnight)  # on the boundary of a day
    Order.objects.filter(pk=orders[1].pk).update(created_at=midnight - timedelta(microseconds=1))

    def ids(compiled):
        sql, params = compiled
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT b.id FROM ({sql}) AS b ORDER BY b.id", params)
            return [row[0] for row in cursor.fetchall()]

    day = (today - timedelta(days=3)).isoformat()
    for choice in (StoreChoice(store, [store], False), StoreChoice(None, [store, other_store], True, hq=True)):
        for query in ("", f"date_from={day}", f"date_to={day}", f"date_from={day}&date_to={day}",
                      "fulfilment=express", f"fulfilment=pickup&date_to={day}", "date_from=bad", "q=+",
                      f"date_from={today.isoformat()}&date_to={day}"):
            form = QueueFilterForm(QueryDict(query) if query else None)
            orm = ids(compiled_base(filtered_orders(choice, form)[0]))
            assert ids(plain_base(choice, QueueFilterForm(QueryDict(query) if query else None))) == orm, query
    assert plain_base(StoreChoice(store, [store], False), QueueFilterForm(QueryDict("q=欧阳"))) is None
