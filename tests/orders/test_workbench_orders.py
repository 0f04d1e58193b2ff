"""HQ's per-store table on the workbench carries each store's order side (orders to fulfil,
pickups waiting, after-sales to review) next to its stock work, with the chain's totals, each
number a link to the filtered list, in a number of queries that does not grow with the stores."""

import pytest
from django.contrib.auth.models import Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from orders import services

from .backoffice_support import ask_refund, make_hq, paid
from .factories import make_sku, make_store

pytestmark = pytest.mark.django_db


def _hq_with_stock_view():
    hq = make_hq()
    hq.user_permissions.add(Permission.objects.get(content_type__app_label="stores", codename="view_stock"))
    return type(hq).objects.get(pk=hq.pk)


def _cell(html, href, n):
    return f'href="{href}">{n}</a>' in html


def test_hq_sees_each_stores_orders_and_the_chains_totals(client, store, other_store, shopper,
                                                           django_capture_on_commit_callbacks):
    tea = make_sku("乌龙茶", stock=20, store=store)
    milk = make_sku("牛奶", stock=20, store=other_store)
    with django_capture_on_commit_callbacks(execute=True):
        paid(shopper, store, [(tea, 1)])
        paid(shopper, store, [(tea, 1)])
        ready = paid(shopper, other_store, [(milk, 1)])
        services.mark_ready_for_pickup(ready, by=None)
        ask_refund(paid(shopper, other_store, [(milk, 1)]))
    hq = _hq_with_stock_view()
    client.force_login(hq)
    client.get(reverse("backoffice:dashboard"))

    def page():
        with CaptureQueriesContext(connection) as captured:
            response = client.get(reverse("backoffice:dashboard"))
        assert response.status_code == 200
        return response.content.decode(), len(captured.captured_queries)

    html, few = page()
    queue = reverse("orders_bo:queue")
    assert "待发货/待备货" in html and "待自提" in html and "售后待审核" in html
    assert _cell(html, f"{queue}?tab=to_fulfil&amp;store={store.pk}", 2)
    assert _cell(html, f"{queue}?tab=pickup&amp;store={other_store.pk}", 1)
    assert _cell(html, f"{reverse('orders_bo:after_sales')}?store={other_store.pk}", 1)
    assert _cell(html, f"{queue}?tab=to_fulfil", 3)  # the chain's total: two at one store, one at the other
    # the link opens the list it counts
    listing = client.get(queue, {"tab": "to_fulfil", "store": store.pk}).content.decode()
    assert listing.count("乌龙茶") >= 2 and "牛奶" not in listing
    for i in range(5):
        make_store(f"加开{i}")
    html, many = page()
    assert many == few and html.count('<tr data-store="') == 7


def test_staff_who_may_not_see_orders_get_no_order_columns(client, store):
    from stores.scope import HQ_PERMISSION
    from tests.stores.conftest import make_staff

    user = make_staff(username="stock_only_hq")
    for app, codename in (HQ_PERMISSION.split("."), ("stores", "view_stock")):
        user.user_permissions.add(Permission.objects.get(content_type__app_label=app, codename=codename))
    client.force_login(user)
    html = client.get(reverse("backoffice:dashboard")).content.decode()
    assert 'data-testid="wb-per-store"' in html and "待发货/待备货" not in html
