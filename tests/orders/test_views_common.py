"""What every shopper page of orders shares: the cart badge (a lazy context processor), safe `next`
targets, the member centre's order shortcuts, and the helpers the other view tests import."""

import uuid

import pytest
from django.conf import settings
from django.contrib.messages import get_messages
from django.test import RequestFactory
from django.urls import reverse

from core.navigation import safe_next
from orders.context_processors import cart_badge
from orders.services import add_to_cart, cart_for
from stores.context_processors import CHOSEN_COOKIE
from tests.conftest import WECHAT_UA

from .factories import checkout, make_shopper, make_sku, pay

pytestmark = pytest.mark.django_db
__all__ = ["WECHAT_UA"]  # the other view tests import it from here

# with database sessions the session is one query; the user is one more on every logged-in page
SESSION = 1 if settings.SESSION_ENGINE == "django.contrib.sessions.backends.db" else 0
LOGGED_IN = SESSION + 1

# values a tampering or confused client may send where a number or id is expected (a NUL never reaches
# a view: core.middleware answers 400, tests/core/test_bad_input.py)
BAD_NUMBERS = ["0", "-1", "1.5", "1e3", "99999999999999999999999", str(2**63), "²", "１", "abc", "", " ", "1\x01",
               "\x1f", "0x10", "1_000", "+1", "١"]
BAD_IDS = BAD_NUMBERS + [str(2**31), "9" * 30]


def choose_store(client, store):
    """The shopper's chosen store, as the stores app remembers it (a long-lived cookie)."""
    client.cookies[CHOSEN_COOKIE] = str(store.pk)


def shop_client(client, user, store):
    client.force_login(user)
    choose_store(client, store)
    return client


def messages_of(response):
    return [str(m) for m in get_messages(response.wsgi_request)]


def fill_cart(user, skus, quantity=1):
    request = RequestFactory().get("/")
    request.user = user
    request.session = {}
    cart = cart_for(request, create=True)
    for sku in skus:
        add_to_cart(cart, sku.pk, quantity)
    return cart


def many_skus(store, n, *, price="10.00", stock=10):
    return [make_sku(f"商品{i}", price=price, stock=stock, store=store) for i in range(n)]


def paid_order(user, store, lines, **choices):
    order = checkout(user, store, lines, **choices)
    pay(order)
    return order


def htmx(**extra):
    return {"HTTP_HX_REQUEST": "true", **extra}


# --- the badge --------------------------------------------------------------------------------
def _request(user=None, session=None):
    from django.contrib.auth.models import AnonymousUser

    request = RequestFactory().get("/")
    request.user = user or AnonymousUser()
    request.session = session if session is not None else {}
    return request


def test_badge_costs_nothing_until_a_template_reads_it(django_assert_num_queries, shopper):
    with django_assert_num_queries(0):
        context = cart_badge(_request(shopper))
    assert callable(context["cart_badge"])


def test_badge_counts_pieces_in_one_query_and_once_per_request(django_assert_num_queries, shopper, store, tea, nuts):
    fill_cart(shopper, [tea], 2)
    fill_cart(shopper, [nuts], 3)
    badge = cart_badge(_request(shopper))["cart_badge"]
    with django_assert_num_queries(1):
        assert badge() == 5
        assert badge() == 5


def test_a_visitor_without_a_cart_costs_no_query(django_assert_num_queries):
    badge = cart_badge(_request())["cart_badge"]
    with django_assert_num_queries(0):
        assert badge() == 0


def test_a_visitor_with_a_session_cart_sees_its_count(client, store, tea):
    client.post(reverse("orders:cart_add"), {"sku_id": tea.pk, "quantity": "4"})
    page = client.get(reverse("orders:cart")).content.decode()
    assert 'data-cart-badge aria-label="购物车中有 4 件商品">4</span>' in page


def test_pages_without_the_tab_bar_run_no_badge_query(client, shopper, store, tea):
    """The product page hides the tab bar: adding the context processor cost it nothing."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    fill_cart(shopper, [tea], 1)
    client.force_login(shopper)
    with CaptureQueriesContext(connection) as queries:
        assert client.get(reverse("catalog:product", args=[tea.product_id])).status_code == 200
    assert not any("orders_cartline" in q["sql"] for q in queries.captured_queries)


def test_the_tab_bar_shows_the_count_on_other_apps_pages(client, shopper, store, tea):
    fill_cart(shopper, [tea], 3)
    client.force_login(shopper)
    page = client.get(reverse("catalog:home")).content.decode()
    assert ">3</span>" in page and "data-cart-badge" in page


def test_badge_shows_99_plus(client, shopper, store):
    skus = many_skus(store, 2)
    fill_cart(shopper, skus, 60)
    client.force_login(shopper)
    assert ">99+</span>" in client.get(reverse("catalog:home")).content.decode()


# --- safe next --------------------------------------------------------------------------------
@pytest.mark.parametrize("target", [
    "https://evil.example/", "//evil.example/x", "/\\evil.example", "javascript:alert(1)", "http:/x", "evil",
    "/ok\x00", "/ok\nLocation: x", "", " /x",
])
def test_a_next_that_is_not_a_path_here_is_not_followed(rf, target):
    request = rf.post("/", {"next": target})
    assert safe_next(request, "/fallback/") == "/fallback/"


def test_a_path_here_is_followed(rf):
    assert safe_next(rf.post("/", {"next": "/products/3/?a=1"}), "/x/") == "/products/3/?a=1"


# --- member centre ----------------------------------------------------------------------------
def test_member_centre_shows_order_counts_per_status(client, store, tea, nuts):
    user = make_shopper()
    checkout(user, store, [(tea, 1)])  # 待付款
    checkout(user, store, [(nuts, 1)], token=uuid.uuid4().hex)  # 待付款
    paid_order(user, store, [(tea, 1)])  # 待自提 (pickup, paid)
    client.force_login(user)
    page = client.get(reverse("members:me")).content.decode()
    assert 'href="/orders/?tab=pending_payment" data-order-tab="pending_payment"' in page
    pending = page.split('data-order-tab="pending_payment"')[1].split("</a>")[0]
    pickup = page.split('data-order-tab="to_pickup"')[1].split("</a>")[0]
    shipping = page.split('data-order-tab="to_ship"')[1].split("</a>")[0]
    assert 'class="weui-badge"' in pending and ">2</span>" in pending
    assert ">1</span>" in pickup
    assert "weui-badge" not in shipping


def test_member_centre_extras_run_one_query(rf, django_assert_num_queries, shopper):
    from orders.selectors import member_centre_extras

    request = rf.get("/")
    request.user = shopper
    with django_assert_num_queries(1):
        extras = member_centre_extras(request)
    assert [key for key, *_rest in extras["order_shortcuts"]] == [
        "pending_payment", "to_ship", "to_receive", "to_pickup", "after_sale"]


def test_member_centre_counts_orders_and_the_cart_in_one_query(client, shopper, store, tea, nuts):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    checkout(shopper, store, [(tea, 1)])
    fill_cart(shopper, [nuts], 2)
    client.force_login(shopper)
    with CaptureQueriesContext(connection) as queries:
        page = client.get(reverse("members:me")).content.decode()
    ours = [q["sql"] for q in queries.captured_queries if "orders_" in q["sql"]]
    assert len(ours) == 1 and "orders_cartline" in ours[0] and "orders_order" in ours[0]
    assert 'aria-label="购物车中有 2 件商品">2</span>' in page


def test_a_member_without_orders_sees_zeros(rf, django_assert_num_queries):
    from orders.selectors import member_centre_extras

    request = rf.get("/")
    request.user = make_shopper()
    extras = member_centre_extras(request)
    assert [count for _key, _label, _glyph, count, _url in extras["order_shortcuts"]] == [0, 0, 0, 0, 0]
    with django_assert_num_queries(0):
        assert cart_badge(request)["cart_badge"]() == 0


def test_member_centre_links_reach_the_list_tabs(client, shopper, store, tea):
    paid_order(shopper, store, [(tea, 1)])
    client.force_login(shopper)
    response = client.get(reverse("orders:list") + "?tab=to_pickup")
    assert response.context["tab"] == "to_pickup" and len(response.context["rows"]) == 1
    # the members app's own fallback links (?status=paid) land on the matching tab
    assert client.get(reverse("orders:list") + "?status=paid").context["tab"] == "to_ship"
    assert messages_of(response) == []
