"""The bell in the back-office header: the user's own open notices (low stock and the notices
orders raise), counted in a badge, listed on their page, marked read one by one or all at once; a
low-stock notice closes when the item is restocked. The page's queries do not grow with notices."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from stores import services
from stores.models import LowStockAlert, StoreNotification

from .conftest import make_sku

pytestmark = pytest.mark.django_db


def _low_stock_notice(store, sku):
    """6 on hand, 3 reserved: available 3 < threshold 5 raises an alert; its notices go to the
    store's managers and clerks (LOW_STOCK_NOTIFY_ROLES)."""
    services.receive_stock(store, sku, 6)
    services.reserve_lines(store, [(sku, 3)], reference=f"order:BELL{sku.pk}")
    alert = LowStockAlert.objects.get(stock__store=store, stock__sku=sku, status="open")
    services.notify_low_stock(alert.pk)
    return alert


def _bell(html):
    marker = 'data-testid="bell-count">'
    return int(html.split(marker, 1)[1].split("<", 1)[0]) if marker in html else 0


def test_the_bell_counts_and_lists_only_the_users_own_open_notices(client, store_a, store_b, clerk_a, clerk_b):
    sku = make_sku("铁观音")
    _low_stock_notice(store_a, sku)
    _low_stock_notice(store_b, make_sku("大红袍"))
    StoreNotification.objects.create(user=clerk_a, store=store_a, kind="payment_mismatch", title="支付金额不符",
                                     body="订单 2026 金额不符，请核对")
    client.force_login(clerk_a)
    html = client.get(reverse("backoffice:dashboard")).content.decode()
    assert 'data-testid="bell"' in html and _bell(html) == 2
    page = client.get(reverse("stores_bo:notifications")).content.decode()
    assert "铁观音" in page and "支付金额不符" in page and "大红袍" not in page  # clerk_b's stays theirs
    theirs = StoreNotification.objects.get(user=clerk_b)
    client.post(reverse("stores_bo:notifications_read"), {"id": [theirs.pk]})
    theirs.refresh_from_db()
    assert theirs.read_at is None  # another user's id marks nothing

    mine = StoreNotification.objects.get(user=clerk_a, kind="payment_mismatch")
    response = client.post(reverse("stores_bo:notifications_read"), {"id": [mine.pk]}, follow=True)
    assert "已标为已读" in response.content.decode()
    assert _bell(response.content.decode()) == 1
    client.post(reverse("stores_bo:notifications_read"))  # all
    html = client.get(reverse("stores_bo:notifications")).content.decode()
    assert _bell(html) == 0 and "没有待处理的通知" in html
    assert "铁观音" in client.get(reverse("stores_bo:notifications"), {"show": "all"}).content.decode()


def test_a_low_stock_notice_closes_when_the_item_is_restocked(client, store_a, clerk_a):
    sku = make_sku("毛尖")
    alert = _low_stock_notice(store_a, sku)
    client.force_login(clerk_a)
    assert _bell(client.get(reverse("stores_bo:notifications")).content.decode()) == 1
    services.receive_stock(store_a, sku, 20)
    alert.refresh_from_db()
    assert alert.status == "closed"
    html = client.get(reverse("stores_bo:notifications")).content.decode()
    assert _bell(html) == 0 and "毛尖" not in html
    everything = client.get(reverse("stores_bo:notifications"), {"show": "all"}).content.decode()
    assert "毛尖" in everything and "已恢复" in everything


@pytest.mark.parametrize("bad", ["١", "99999999999999999999999", "-3", "abc", ""])
def test_bad_ids_mark_nothing(client, store_a, clerk_a, bad):
    _low_stock_notice(store_a, make_sku("碧螺春"))
    client.force_login(clerk_a)
    response = client.post(reverse("stores_bo:notifications_read"), {"id": [bad], "next": "//evil.example/x"})
    assert response.status_code == 302 and response["Location"] == reverse("stores_bo:notifications")
    assert StoreNotification.objects.filter(user=clerk_a, read_at__isnull=True).count() == 1


def test_a_user_without_the_permission_sees_no_bell(client, store_a):
    from .conftest import make_staff

    plain = make_staff(store_a)
    plain.user_permissions.clear()
    client.force_login(plain)
    html = client.get(reverse("backoffice:dashboard")).content.decode()
    assert 'data-testid="bell"' not in html
    assert client.get(reverse("stores_bo:notifications")).status_code == 403


def test_the_notice_page_does_not_grow_with_notices(client, store_a, clerk_a):
    client.force_login(clerk_a)
    url = reverse("stores_bo:notifications")

    def count(show=""):
        with CaptureQueriesContext(connection) as captured:
            assert client.get(url, {"show": show} if show else {}).status_code == 200
        return len(captured.captured_queries)

    _low_stock_notice(store_a, make_sku("首款"))
    count()  # the first page of a session reads the permissions (core.permissions)
    few, few_all = count(), count("all")
    for i in range(12):
        _low_stock_notice(store_a, make_sku(f"多款{i}"))
    StoreNotification.objects.create(user=clerk_a, store=store_a, kind="refund_failed", title="退款失败")
    assert StoreNotification.objects.filter(user=clerk_a).count() == 14
    assert count() == few <= 10
    assert count("all") == few_all


def test_the_alerts_page_lists_the_users_notices_as_cards_with_a_link_to_all(client, store_a, store_b, clerk_a):
    alert = _low_stock_notice(store_a, make_sku("铁观音"))
    _low_stock_notice(store_b, make_sku("大红袍"))
    client.force_login(clerk_a)
    html = client.get(reverse("stores_bo:alerts")).content.decode()
    notices = html.split('data-testid="alert-notices"', 1)[1].split("</ul>", 1)[0]
    assert notices.count('<li class="ntf') == 1 and "铁观音" in notices and "大红袍" not in notices
    assert reverse("stores_bo:alert_detail", args=[alert.pk]) in notices
    assert reverse("stores_bo:notifications") in html and "<table class=\"bo-table\"><tbody>" not in html
