"""The sales dashboard and its aggregate queries (orders.reports): sales, orders, average order,
refunds, top products and orders by hour, for today / 7 / 30 days in Asia/Shanghai, per store or
for every store (HQ); the same number of queries however many orders there are."""

import re
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse

from orders import reports, services
from orders.models import Order, Refund

from .backoffice_support import ask_refund, count_queries, make_clerk, make_hq, paid
from .factories import checkout, make_shopper, make_sku

pytestmark = pytest.mark.django_db
D = Decimal
SH = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 3, 15, 12, 0, tzinfo=SH)
DASHBOARD = reverse("orders_bo:dashboard")


def at(day, hour, minute=0):
    return datetime(2026, 3, day, hour, minute, tzinfo=SH) if day > 0 else datetime(2026, 2, 28 + day, hour,
                                                                                    minute, tzinfo=SH)


def paid_at(order, when):
    Order.objects.filter(pk=order.pk).update(paid_at=when, created_at=when)
    return order


@pytest.fixture
def milk(store):
    return make_sku("鲜牛奶", price="20.00", stock=100, store=store)


@pytest.fixture
def sales(store, other_store, shopper, milk, tea, manager, django_capture_on_commit_callbacks):
    """Orders paid at known local times around NOW (2026-03-15 12:00 in Shanghai)."""
    a = paid_at(paid(shopper, store, [(milk, 2)]), at(15, 9, 30))  # today 09:30 (01:30 UTC): 40.00
    b = paid_at(paid(shopper, store, [(tea, 1)]), at(15, 9, 45))  # today 09:45: 25.50
    paid_at(paid(shopper, store, [(milk, 1)]), at(14, 23, 30))  # yesterday 23:30, still the 14th UTC: 20.00
    paid_at(paid(shopper, store, [(tea, 3)]), at(10, 14))  # 5 days ago: 76.50
    paid_at(paid(shopper, store, [(milk, 1)]), at(-8, 10))  # 2026-02-20: 20.00 (within 30 days)
    paid_at(paid(shopper, store, [(milk, 1)]), at(-27, 10))  # 2026-02-01: outside 30 days
    checkout(shopper, store, [(milk, 5)])  # never paid: no sale
    theirs = make_sku("外店商品", price="99.00", stock=5, store=other_store)
    paid_at(paid(shopper, other_store, [(theirs, 1)]), at(15, 10))
    with django_capture_on_commit_callbacks(execute=True):
        asked = ask_refund(a, quantities={a.lines.get().pk: 1})
        services.approve_after_sale(asked, by=manager)
    Refund.objects.filter(order=a).update(succeeded_at=at(15, 11))
    return {"a": a, "b": b}


def test_today_counts_orders_paid_since_local_midnight(store, sales):
    figures = reports.summary(store, reports.period(1, NOW))
    assert figures == {"sales": D("65.50"), "orders": 2, "average": D("32.75"), "refunds": D("20.00"),
                       "refund_count": 1, "net": D("45.50")}


def test_seven_and_thirty_days_include_today(store, sales):
    week = reports.summary(store, reports.period(7, NOW))
    assert (week["sales"], week["orders"], week["average"]) == (D("162.00"), 4, D("40.50"))
    month = reports.summary(store, reports.period(30, NOW))
    assert (month["sales"], month["orders"]) == (D("182.00"), 5)


def test_orders_by_hour_are_local_hours(store, sales):
    hours = reports.by_hour(store, reports.period(1, NOW))
    assert len(hours) == 24 and hours[9] == {"hour": "09", "orders": 2, "sales": 65.5}
    assert sum(h["orders"] for h in hours) == 2 and hours[1]["orders"] == 0


def test_sales_by_day_are_local_days_zero_filled(store, sales):
    days = reports.by_day(store, reports.period(7, NOW))
    assert [d["day"] for d in days] == ["03-09", "03-10", "03-11", "03-12", "03-13", "03-14", "03-15"]
    assert [d["orders"] for d in days] == [0, 1, 0, 0, 0, 1, 2]
    assert days[-1]["sales"] == 65.5


def test_top_products_count_what_was_kept(store, sales):
    top = reports.top_products(store, reports.period(30, NOW))
    assert [(row["name"], row["quantity"], row["amount"]) for row in top] == [
        ("龙井茶", 4, D("102.00")), ("鲜牛奶", 3, D("60.00"))]


def test_every_store_for_hq_and_one_store_otherwise(store, other_store, sales):
    assert reports.summary(None, reports.period(1, NOW))["sales"] == D("164.50")
    assert reports.summary(other_store, reports.period(1, NOW))["sales"] == D("99.00")
    assert reports.summary([store.pk, other_store.pk], reports.period(1, NOW))["orders"] == 3


def test_home_figures_for_today(store, sales, shopper, milk):
    ask_refund(paid(shopper, store, [(milk, 1)]))  # paid now (not on the 15th): waiting, with a request
    figures = reports.today_figures(store, NOW)
    assert figures == {"sales": D("65.50"), "orders": 2, "to_fulfil": 7, "after_sales": 1, "pickups_waiting": 0,
                       "pickups_done": 0}
    assert reports.today_figures(None, NOW)["sales"] == D("164.50")


def test_the_page_shows_the_figures_and_charts(client, store, other_store, sales, monkeypatch):
    real = reports.period
    monkeypatch.setattr(reports, "period", lambda days, now=None: real(days, NOW))
    clerk = make_clerk(store)
    client.force_login(clerk)
    response = client.get(DASHBOARD)
    assert response.status_code == 200 and response.context["figures"]["sales"] == D("65.50")
    html = response.content.decode()
    assert 'id="orders-hours"' in html and 'data-chart="bar"' in html and "龙井茶" in html
    week = client.get(DASHBOARD, {"period": "7d"})
    assert week.context["figures"]["orders"] == 4 and 'id="orders-days"' in week.content.decode()
    assert client.get(DASHBOARD, {"period": "bogus"}).context["period_key"] == "today"
    assert client.get(DASHBOARD, {"period": "bogus\x00"}).status_code == 400  # a NUL: core.middleware
    assert client.get(DASHBOARD, {"store": other_store.pk}).status_code == 404
    assert client.get(DASHBOARD, {"store": "all"}).status_code == 404
    client.force_login(make_hq())
    everything = client.get(DASHBOARD)
    assert everything.context["choice"].all and everything.context["figures"]["sales"] == D("164.50")
    assert client.get(DASHBOARD, {"store": other_store.pk}).context["figures"]["sales"] == D("99.00")


def test_dashboard_queries_do_not_grow_with_orders(client, store, milk, tea):
    clerk = make_clerk(store)
    paid(make_shopper(), store, [(milk, 1)])
    client.force_login(clerk)
    client.get(DASHBOARD)
    one = {key: count_queries(client, DASHBOARD, data={"period": key})[0] for key in ("today", "7d", "30d")}
    for i in range(9):
        paid(make_shopper(), store, [(milk, 1), (tea, 1)] if i % 2 else [(make_sku(f"新品{i}", stock=3, store=store), 1)])
    ten = {key: count_queries(client, DASHBOARD, data={"period": key})[0] for key in ("today", "7d", "30d")}
    assert one == ten


def test_home_cards_for_the_back_office_home(rf, store, other_store, shopper, milk):
    from django.template.loader import render_to_string

    from orders.backoffice.home import dashboard_cards

    from .backoffice_support import make_plain_staff

    paid(shopper, store, [(milk, 2)])
    theirs = make_sku("外店商品", price="99.00", stock=5, store=other_store)
    paid(shopper, other_store, [(theirs, 1)])
    request = rf.get("/backoffice/")
    request.user = make_clerk(store)
    cards = dashboard_cards(request)
    assert cards["order_figures"] == {"sales": D("40.00"), "orders": 1, "to_fulfil": 1, "after_sales": 0,
                                      "pickups_waiting": 0, "pickups_done": 0}
    html = render_to_string(cards["template"], {"card": cards})  # as core's home page includes it
    assert "¥40.00" in html and reverse("orders_bo:queue") in html
    request.user = make_hq()
    assert dashboard_cards(request)["order_figures"]["sales"] == D("139.00")
    request.user = make_plain_staff(store)
    assert dashboard_cards(request) is None


def test_the_back_office_home_shows_todays_order_cards(client, store, shopper, milk):
    from tests.orders.factories import checkout, make_order_staff, pay

    order = checkout(shopper, store, [(milk, 1)])
    pay(order)
    manager = make_order_staff(store)
    client.force_login(manager)
    page = client.get("/backoffice/").content.decode()
    assert "今日订单" in page and "待发货/待备货" in page


def test_home_counts_pickups_waiting_and_handed_over_today(client, store, other_store, shopper, manager):
    from orders import services
    from tests.orders.factories import checkout, make_sku, pay

    tea = make_sku("龙井茶", price="25.50", stock=10, store=store)
    waiting, done = (checkout(shopper, store, [(tea, 1)]) for _n in range(2))
    for order in (waiting, done):
        pay(order)
        services.mark_ready_for_pickup(order, by=manager)
    done.refresh_from_db()
    services.verify_pickup(store=store, code=done.pickup_code, by=manager)
    figures = reports.today_figures(store)
    assert (figures["pickups_waiting"], figures["pickups_done"]) == (1, 1)
    assert reports.today_figures(other_store)["pickups_waiting"] == 0
    client.force_login(manager)
    html = client.get("/backoffice/").content.decode()
    assert '待自提</p><p class="bo-card__value">1</p>' in html and '今日已核销</p><p class="bo-card__value">1</p>' in html
    # every number on the workbench is a link (issue 11, item 4): sales and orders to today's dashboard
    cards = re.findall(r'<(a|div) class="bo-card"[^>]*>\s*<p class="bo-card__label">([^<]+)</p>', html)
    assert cards and all(tag == "a" for tag, _label in cards), cards
    assert html.count(f'href="{reverse("orders_bo:dashboard")}?period=today"') == 2
