"""Demo orders (orders/demo.py): every state for the lists and dashboards, made once, consistent with
check_orders, check_stock and check_points; the demo shopper's own orders; staff permissions."""

from datetime import timedelta
from io import StringIO

import pytest
from django.apps import apps
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.core.management import call_command
from django.db.models import Count
from django.db.models.functions import ExtractHour, TruncDate
from django.utils import timezone

from catalog import demo as catalog_demo
from marketing import demo as marketing_demo
from members import demo as members_demo
from members.selectors import points_mismatches
from orders import demo, services
from orders.checks import check_orders
from orders.models import AfterSale, Order, Refund, Shipment, TrackingEvent
from stores import demo as stores_demo
from stores.scope import HQ_GROUP_NAME
from stores.services import ledger_mismatches

pytestmark = pytest.mark.django_db


def _quiet(line):
    pass


def _below():
    for seeder in (catalog_demo.seed, stores_demo.seed, members_demo.seed, marketing_demo.seed):
        seeder(_quiet)


def _row_counts():
    return {m._meta.label: m.objects.count() for m in apps.get_models() if m._meta.app_label != "sessions"}


@pytest.fixture
def small_history(monkeypatch):
    monkeypatch.setattr(demo, "HISTORY_ORDERS", 240)


def test_seeding_makes_every_state_once_and_everything_agrees():
    _below()
    lines = []
    changed = demo.seed(lines.append)
    assert changed > 0

    history = Order.objects.filter(checkout_token__startswith=demo.HISTORY_TOKEN)
    assert history.count() == demo.HISTORY_ORDERS >= 2000
    statuses = set(Order.objects.values_list("status", flat=True))
    assert statuses == set(Order.Status.values)  # every state, open ones included
    assert Order.objects.filter(status__in=[Order.Status.PAID, Order.Status.COMPLETED], refunded_amount__gt=0)\
        .exclude(refunded_amount=0).exists()  # partly refunded
    assert AfterSale.objects.filter(status__in=AfterSale.OPEN_STATUSES).exists()
    assert Order.objects.filter(status=Order.Status.CLOSED, refunds__state=Refund.State.SUCCEEDED).exists()
    shipped = Shipment.objects.filter(order__status=Order.Status.SHIPPED)
    assert shipped.exists() and TrackingEvent.objects.filter(shipment__in=shipped).exists()
    assert Order.objects.filter(status=Order.Status.READY_FOR_PICKUP, lines__fulfilled_quantity__gt=0).exists()

    # spread over 90 days and the hours of the day, every timestamp distinct
    now = timezone.now()
    oldest = history.order_by("created_at").first().created_at
    assert timedelta(days=80) < now - oldest <= timedelta(days=demo.HISTORY_DAYS)
    assert history.annotate(day=TruncDate("created_at")).values("day").distinct().count() >= 80
    by_hour = dict(history.annotate(h=ExtractHour("created_at")).values_list("h").annotate(n=Count("id")))
    assert len(by_hour) >= 20 and by_hour[12] + by_hour[19] > 6 * (by_hour.get(3, 0) + by_hour.get(4, 0))
    assert Order.objects.values("created_at").distinct().count() == Order.objects.count()
    assert len({o.store_id for o in history.only("store_id")}) >= 5

    # consistent with every check
    assert check_orders() == []
    assert ledger_mismatches() == []
    assert points_mismatches() == []

    # the demo shopper's own orders, the pickup code printed like the points mall's
    shopper = get_user_model().objects.get(phone=demo.SHOPPER_PHONE)
    mine = {o.checkout_token.removeprefix(demo.LIVE_TOKEN): o
            for o in Order.objects.filter(user=shopper, checkout_token__startswith=demo.LIVE_TOKEN)}
    assert mine["shopper-pickup"].status == Order.Status.READY_FOR_PICKUP
    assert len(mine["shopper-pickup"].pickup_code) == 6
    assert any(mine["shopper-pickup"].pickup_code in line and "store_clerk" in line for line in lines)
    assert mine["shopper-shipped"].status == Order.Status.SHIPPED
    assert TrackingEvent.objects.filter(shipment__order=mine["shopper-shipped"]).count() >= 2
    assert mine["shopper-completed"].status == Order.Status.COMPLETED
    assert mine["shopper-pending"].status == Order.Status.PENDING_PAYMENT
    assert Order.objects.filter(user=shopper, checkout_token__startswith=demo.HISTORY_TOKEN).count() >= 10

    out = StringIO()
    call_command("check_orders", stdout=out)
    assert "所有订单核对无误" in out.getvalue()

    # a second run adds nothing and says so
    before = _row_counts()
    assert demo.seed(_quiet) == 0
    assert _row_counts() == before

    # staff: HQ everything of orders, the manager a manager's part, the clerk a clerk's
    User = get_user_model()
    hq = Group.objects.get(name=HQ_GROUP_NAME)
    every = set(Permission.objects.filter(content_type__app_label="orders").values_list("codename", flat=True))
    assert every <= set(hq.permissions.values_list("codename", flat=True))
    assert {"add_expressfeerule", "change_expressfeerule"} <= every
    manager = User.objects.get(username=stores_demo.DEMO_MANAGER["username"])
    clerk = User.objects.get(username=stores_demo.DEMO_CLERK["username"])
    for codename in demo.MANAGER_PERMISSIONS:
        assert manager.has_perm(f"orders.{codename}"), codename
    assert clerk.has_perm("orders.view_order") and clerk.has_perm("orders.fulfil_order")
    assert not clerk.has_perm("orders.refund_order") and not clerk.has_perm("orders.change_order_price")

    # the demo clerk hands the shopper's pickup over at the counter, as the README walks through it
    pickup = mine["shopper-pickup"]
    assert pickup.store.code == stores_demo.DEMO_CLERK["store"]
    order, _record = services.verify_pickup(store=pickup.store, code=pickup.pickup_code, by=clerk)
    assert order.status == Order.Status.COMPLETED
    assert check_orders() == [] and ledger_mismatches() == []


def test_without_the_dev_gateway_only_unpaid_orders_are_made_live(settings, small_history):
    settings.PAYMENT_DEV_GATEWAY = False
    _below()
    lines = []
    demo.seed(lines.append)
    live = Order.objects.filter(checkout_token__startswith=demo.LIVE_TOKEN)
    assert live.exists()
    assert set(live.values_list("status", flat=True)) <= {Order.Status.PENDING_PAYMENT, Order.Status.CANCELLED}
    assert any("PAYMENT_DEV_GATEWAY" in line for line in lines)
    assert check_orders() == []


def test_seeding_tells_the_members_cached_order_lists(small_history):
    """The history is bulk-inserted, past the services: each buyer's cached 我的订单 pages must
    still not be served again (a shopper who looked before the seed sees the orders after it)."""
    from orders import list_cache

    _below()
    buyers, shopper = demo._buyers()
    users = [b.user_id for b in buyers] + [shopper.user_id]
    for user_id in users:
        assert list_cache.cached_page(user_id, ("all", 1), lambda: ("before", 60)) == "before"
        assert list_cache.cached_page(user_id, ("all", 1), lambda: ("rebuilt", 60)) == "before"  # kept
    demo.seed(_quiet)
    def buyers_of(token):
        return set(Order.objects.filter(user_id__in=users, checkout_token__startswith=token)
                   .values_list("user_id", flat=True))

    # the live orders go through checkout, which tells the list itself: look at the others
    history_only = buyers_of(demo.HISTORY_TOKEN) - buyers_of(demo.LIVE_TOKEN)
    assert history_only
    for user_id in history_only:
        assert list_cache.cached_page(user_id, ("all", 1), lambda: ("rebuilt", 60)) == "rebuilt"
