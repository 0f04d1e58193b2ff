"""The cart page and its htmx actions, 加入购物车 from the product page, and 立即购买: lines judged
against the chosen store, the selected total priced through orders.pricing, and every bad input
refused with a message and nothing changed."""

import json
from decimal import Decimal

import pytest
from django.db import connection
from django.urls import reverse

from catalog.models import Product
from members.models import Member, MemberLevel
from orders.models import Cart, CartLine
from orders.views.cart import BUY_NOW_KEY
from stores.services import receive_stock

from .factories import make_shopper, make_sku, make_store
from .test_views_common import (
    BAD_IDS,
    BAD_NUMBERS,
    LOGGED_IN,
    choose_store,
    fill_cart,
    htmx,
    many_skus,
    messages_of,
    shop_client,
)

pytestmark = pytest.mark.django_db
D = Decimal


def lines_of(user):
    return {line.sku_id: (line.quantity, line.selected) for line in CartLine.objects.filter(cart__user=user)}


def row_of(response, sku):
    return next(row for row in response.context["view"].rows if row.line.sku_id == sku.pk)


# --- the page ---------------------------------------------------------------------------------
def test_cart_shows_lines_and_the_selected_total_with_the_member_discount(client, shopper, store, tea, nuts):
    level = MemberLevel.objects.create(name="测试金卡", rank=9, growth_threshold=99999, discount_percent=D("90"))
    Member.objects.filter(user=shopper).update(level=level)
    Product.objects.filter(pk=nuts.product_id).update(member_discount_enabled=False)
    fill_cart(shopper, [tea], 2)
    fill_cart(shopper, [nuts], 1)
    response = shop_client(client, shopper, store).get(reverse("orders:cart"))
    view = response.context["view"]
    # 51.00 + 10.00; 10% off the tea only (the nuts do not take part): 5.10
    assert (view.goods_amount, view.member_discount, view.total) == (D("61.00"), D("5.10"), D("55.90"))
    page = response.content.decode()
    assert "龙井茶" in page and "每日坚果" in page and "会员折扣已减 ¥5.10" in page
    assert '<small>¥</small>55.90' in page and "结算(3)" in page
    assert response.context["active_tab"] == "cart" and ">3</span>" in page  # the badge


def test_lines_are_judged_against_the_chosen_store(client, shopper, store, tea, nuts):
    gone = make_sku("下架商品", stock=5, store=store)
    short = make_sku("紧俏商品", stock=2, store=store)
    elsewhere = make_sku("别店商品")  # no stock in this store
    fill_cart(shopper, [tea, nuts, gone, elsewhere])
    fill_cart(shopper, [short], 3)
    Product.objects.filter(pk=gone.product_id).update(status=Product.Status.DELISTED)
    response = shop_client(client, shopper, store).get(reverse("orders:cart"))
    states = {row.line.sku_id: (row.state, row.message, row.checked) for row in response.context["view"].rows}
    assert states[gone.pk] == ("delisted", "商品已下架", False)
    assert states[elsewhere.pk] == ("out", "该门店缺货", False)
    assert states[short.pk] == ("short", "仅剩 2 件", False)
    assert states[tea.pk][0] == "ok" and states[tea.pk][2]
    page = response.content.decode()
    assert "仅剩 2 件" in page and "清除 3 件失效商品" in page
    # such lines cannot be ticked: their tick is disabled, and they are not in the total
    assert f'id="cart-line-{CartLine.objects.get(sku=gone).pk}" data-state="delisted"' in page
    assert response.context["view"].checkout_lines == [(nuts.pk, 1), (tea.pk, 1)]


def test_switching_the_store_re_evaluates(client, shopper, store, other_store, tea):
    fill_cart(shopper, [tea])
    shop_client(client, shopper, store)
    assert row_of(client.get(reverse("orders:cart")), tea).state == "ok"
    choose_store(client, other_store)
    response = client.get(reverse("orders:cart"))
    assert row_of(response, tea).state == "out" and response.context["store"] == other_store
    receive_stock(other_store, tea, 5, reference="test:switch")
    assert row_of(client.get(reverse("orders:cart")), tea).state == "ok"


def test_the_store_switcher_comes_back_to_the_cart(client, shopper, store):
    page = shop_client(client, shopper, store).get(reverse("orders:cart")).content.decode()
    assert 'href="/stores/?next=%2Forders%2Fcart%2F"' in page


def test_without_a_chosen_store_the_cart_asks_for_one(client, shopper, tea):
    fill_cart(shopper, [tea])
    client.force_login(shopper)
    response = client.get(reverse("orders:cart"))
    assert response.context["store"] is None and row_of(response, tea).available is None
    assert "选择门店查看库存" in response.content.decode()
    assert reverse("orders:checkout") not in response.content.decode()


def test_an_empty_cart(client, shopper, store):
    page = shop_client(client, shopper, store).get(reverse("orders:cart")).content.decode()
    assert "购物车还是空的" in page


@pytest.mark.parametrize("n", [1, 10])
def test_cart_page_query_count_does_not_grow_with_lines(client, django_assert_num_queries, shopper, store, n):
    fill_cart(shopper, many_skus(store, n))
    shop_client(client, shopper, store)
    # cart, lines (with SKU, product, pictures), sellable SKUs, stock, chosen store, member level;
    # the badge reuses the page's count
    with django_assert_num_queries(LOGGED_IN + 6):
        response = client.get(reverse("orders:cart"))
    assert len(response.context["view"].rows) == n


# --- changing the cart ------------------------------------------------------------------------
def test_stepper_changes_the_quantity_through_htmx(client, shopper, store, tea):
    fill_cart(shopper, [tea])
    line = CartLine.objects.get(sku=tea)
    response = shop_client(client, shopper, store).post(
        reverse("orders:cart_update"), {"line": line.pk, "quantity": "3", "typed": "1"}, **htmx())
    assert response.status_code == 200 and lines_of(shopper)[tea.pk] == (3, True)
    assert response.templates[0].name == "orders/partials/_cart.html"
    assert '"cart-changed": {"count": 3}' in response["HX-Trigger"]
    assert "76.50" in response.content.decode()


def test_typed_quantity_without_javascript_redirects_back(client, shopper, store, tea):
    fill_cart(shopper, [tea])
    line = CartLine.objects.get(sku=tea)
    response = shop_client(client, shopper, store).post(reverse("orders:cart_update"), {"line": line.pk, "typed": "5"})
    assert response.status_code == 302 and response["Location"] == reverse("orders:cart")
    assert lines_of(shopper)[tea.pk] == (5, True)


def test_untick_and_tick_all(client, shopper, store, tea, nuts):
    fill_cart(shopper, [tea, nuts])
    shop_client(client, shopper, store)
    tea_line = CartLine.objects.get(sku=tea)
    response = client.post(reverse("orders:cart_select"), {"line": tea_line.pk, "selected": "0"}, **htmx())
    assert lines_of(shopper)[tea.pk] == (1, False)
    assert response.context["view"].total == D("10.00") and not response.context["view"].all_checked
    response = client.post(reverse("orders:cart_select"), {"all": "1", "selected": "1"}, **htmx())
    assert all(selected for _q, selected in lines_of(shopper).values())
    assert response.context["view"].total == D("35.50")
    client.post(reverse("orders:cart_select"), {"all": "1", "selected": "0"}, **htmx())
    assert not any(selected for _q, selected in lines_of(shopper).values())


def test_remove_a_line_and_clear_the_unavailable_ones(client, shopper, store, tea, nuts):
    elsewhere = make_sku("别店商品")
    fill_cart(shopper, [tea, nuts, elsewhere])
    shop_client(client, shopper, store)
    response = client.post(reverse("orders:cart_remove"), {"line": CartLine.objects.get(sku=tea).pk})
    assert response.status_code == 302 and messages_of(response) == ["已删除"]
    assert set(lines_of(shopper)) == {nuts.pk, elsewhere.pk}
    page = client.get(reverse("orders:cart")).content.decode()
    assert "清除 1 件失效商品" in page
    client.post(reverse("orders:cart_remove"), {"line": CartLine.objects.get(sku=elsewhere).pk}, **htmx())
    assert set(lines_of(shopper)) == {nuts.pk}


def test_quantity_zero_removes_the_line(client, shopper, store, tea):
    fill_cart(shopper, [tea])
    shop_client(client, shopper, store).post(
        reverse("orders:cart_update"), {"line": CartLine.objects.get(sku=tea).pk, "typed": "0"})
    assert lines_of(shopper) == {}


@pytest.mark.parametrize("raw", [v for v in BAD_NUMBERS if v not in ("0",)] + ["1000", "-5"])
@pytest.mark.parametrize("as_htmx", [True, False])
def test_bad_quantities_change_nothing(client, shopper, store, tea, raw, as_htmx):
    fill_cart(shopper, [tea], 2)
    line = CartLine.objects.get(sku=tea)
    extra = htmx() if as_htmx else {}
    response = shop_client(client, shopper, store).post(
        reverse("orders:cart_update"), {"line": line.pk, "typed": raw}, **extra)
    assert lines_of(shopper)[tea.pk] == (2, True)
    if as_htmx:
        assert response.status_code == 200 and "数量必须是 1 到 999 之间的整数" in response.content.decode()
        assert "shop-toast" in response["HX-Trigger"]
    else:
        assert response.status_code == 302 and messages_of(response) == ["数量必须是 1 到 999 之间的整数"]


@pytest.mark.parametrize("raw", BAD_IDS)
@pytest.mark.parametrize("url", ["orders:cart_update", "orders:cart_select", "orders:cart_remove"])
def test_bad_or_missing_line_ids_change_nothing(client, shopper, store, tea, raw, url):
    fill_cart(shopper, [tea], 2)
    response = shop_client(client, shopper, store).post(
        reverse(url), {"line": raw, "quantity": "5", "selected": "0"}, **htmx())
    assert response.status_code == 200 and "购物车中没有这件商品" in response.content.decode()
    assert lines_of(shopper) == {tea.pk: (2, True)}


@pytest.mark.parametrize("url", ["orders:cart_update", "orders:cart_select", "orders:cart_remove"])
def test_another_members_line_is_not_found(client, shopper, store, tea, url):
    other = make_shopper()
    fill_cart(other, [tea], 2)
    theirs = CartLine.objects.get(cart__user=other)
    fill_cart(shopper, [tea], 1)
    response = shop_client(client, shopper, store).post(
        reverse(url), {"line": theirs.pk, "quantity": "5", "selected": "0"})
    assert response.status_code == 302
    assert lines_of(other) == {tea.pk: (2, True)} and lines_of(shopper) == {tea.pk: (1, True)}
    assert messages_of(response) == ["购物车中没有这件商品"]


# --- 加入购物车 / 立即购买 from the product page ---------------------------------------------------
def test_add_through_htmx_answers_with_the_badge_and_a_toast(client, shopper, store, tea):
    shop_client(client, shopper, store)
    response = client.post(reverse("orders:cart_add"), {"sku_id": tea.pk, "quantity": "2"}, **htmx())
    assert response.status_code == 204
    assert response["HX-Trigger"] == (
        '{"cart-changed": {"count": 2}, "shop-toast": {"text": "\\u5df2\\u52a0\\u5165\\u8d2d\\u7269\\u8f66", '
        '"kind": "success"}}')
    client.post(reverse("orders:cart_add"), {"sku_id": tea.pk, "quantity": "3"}, **htmx())
    assert lines_of(shopper) == {tea.pk: (5, True)}


def test_add_counts_every_line_for_the_badge_and_refuses_past_the_cap(client, shopper, store, tea, nuts):
    """The badge after an add is the whole cart's pieces (the added line's new quantity plus the
    others), and a line at its 999 cap refuses more and keeps its quantity and the badge."""
    fill_cart(shopper, [nuts], 3)
    fill_cart(shopper, [tea], 997)
    shop_client(client, shopper, store)
    response = client.post(reverse("orders:cart_add"), {"sku_id": tea.pk, "quantity": "2"}, **htmx())
    assert json.loads(response["HX-Trigger"])["cart-changed"] == {"count": 1002}
    for quantity in ("1", "999"):
        response = client.post(reverse("orders:cart_add"), {"sku_id": tea.pk, "quantity": quantity}, **htmx())
        assert response.status_code == 204 and "cart-changed" not in json.loads(response["HX-Trigger"])
        assert "999" in json.loads(response["HX-Trigger"])["shop-toast"]["text"]
    assert lines_of(shopper) == {tea.pk: (999, True), nuts.pk: (3, True)}
    response = client.post(reverse("orders:cart_add"), {"sku_id": nuts.pk}, **htmx())
    assert json.loads(response["HX-Trigger"])["cart-changed"] == {"count": 1003}
    assert client.get(reverse("orders:cart")).context["view"].count == 1003

def test_add_without_javascript_goes_back_to_the_product_with_a_message(client, shopper, store, tea):
    shop_client(client, shopper, store)
    product_url = reverse("catalog:product", args=[tea.product_id])
    response = client.post(reverse("orders:cart_add"), {"sku_id": tea.pk, "quantity": "1", "next": product_url})
    assert response.status_code == 302 and response["Location"] == product_url
    assert messages_of(response) == ["已加入购物车"]
    response = client.post(reverse("orders:cart_add"), {"sku_id": tea.pk, "next": "https://evil.example/"})
    assert response["Location"] == product_url  # not followed off the site


def test_the_product_page_form_posts_to_the_cart_and_buy_now(client, shopper, store, tea):
    page = shop_client(client, shopper, store).get(reverse("catalog:product", args=[tea.product_id])).content.decode()
    assert 'action="/orders/cart/add/"' in page and 'formaction="/orders/buy-now/"' in page
    assert f'name="next" value="{reverse("catalog:product", args=[tea.product_id])}"' in page
    assert "orders/shop.js" in page


@pytest.mark.parametrize("raw", BAD_IDS)
def test_bad_sku_ids_add_nothing(client, shopper, store, tea, raw):
    shop_client(client, shopper, store)
    response = client.post(reverse("orders:cart_add"), {"sku_id": raw, "quantity": "1"}, **htmx())
    assert response.status_code == 204 and "shop-toast" in response["HX-Trigger"]
    assert not CartLine.objects.exists()
    response = client.post(reverse("orders:cart_add"), {"sku_id": raw, "quantity": "1"})
    assert response.status_code == 302 and len(messages_of(response)) == 1


@pytest.mark.parametrize("raw", BAD_NUMBERS + ["1000"])
def test_bad_quantities_add_nothing(client, shopper, store, tea, raw):
    shop_client(client, shopper, store)
    response = client.post(reverse("orders:cart_add"), {"sku_id": tea.pk, "quantity": raw})
    assert response.status_code == 302 and messages_of(response) == ["数量必须是 1 到 999 之间的整数"]
    assert not CartLine.objects.exists()


def test_a_delisted_product_cannot_be_added(client, shopper, store, tea):
    Product.objects.filter(pk=tea.product_id).update(status=Product.Status.DELISTED)
    response = shop_client(client, shopper, store).post(reverse("orders:cart_add"), {"sku_id": tea.pk}, **htmx())
    assert response.status_code == 204 and "\\u4e0b\\u67b6" in response["HX-Trigger"]  # 下架
    assert not Cart.objects.exists()


def test_a_visitor_gets_a_session_cart_merged_on_login(client, store, tea, nuts):
    client.post(reverse("orders:cart_add"), {"sku_id": tea.pk, "quantity": "2"})
    anonymous = Cart.objects.get()
    assert anonymous.user_id is None
    page = client.get(reverse("orders:cart")).content.decode()
    assert "龙井茶" in page
    user = make_shopper()
    fill_cart(user, [tea, nuts], 1)
    client.force_login(user)  # the login signal merges the session's cart
    assert lines_of(user) == {tea.pk: (3, True), nuts.pk: (1, True)}
    assert not Cart.objects.filter(pk=anonymous.pk).exists()


def test_a_visitor_cannot_check_out_without_logging_in(client, store, tea):
    choose_store(client, store)
    client.post(reverse("orders:cart_add"), {"sku_id": tea.pk})
    response = client.get(reverse("orders:checkout"))
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
    assert "next=/orders/checkout/" in response["Location"]


def test_buy_now_keeps_the_item_in_the_session_and_leaves_the_cart_alone(client, shopper, store, tea, nuts):
    fill_cart(shopper, [nuts], 1)
    shop_client(client, shopper, store)
    response = client.post(reverse("orders:buy_now"), {"sku_id": tea.pk, "quantity": "2"})
    assert response.status_code == 302 and response["Location"] == "/orders/checkout/?source=buy_now"
    assert client.session[BUY_NOW_KEY] == {"sku": tea.pk, "quantity": 2}
    assert lines_of(shopper) == {nuts.pk: (1, True)}
    quote = client.get(response["Location"]).context["quote"]
    assert [(line.sku.pk, line.quantity) for line in quote.lines] == [(tea.pk, 2)]


@pytest.mark.parametrize("field,raw", [("sku_id", v) for v in BAD_IDS] + [("quantity", v) for v in BAD_NUMBERS])
def test_buy_now_refuses_bad_input(client, shopper, store, tea, field, raw):
    shop_client(client, shopper, store)
    data = {"sku_id": tea.pk, "quantity": "1", field: raw}
    response = client.post(reverse("orders:buy_now"), data)
    assert response.status_code == 302 and "checkout" not in response["Location"]
    assert len(messages_of(response)) == 1 and BUY_NOW_KEY not in client.session


def test_buy_now_of_a_delisted_product_is_refused(client, shopper, store, tea):
    Product.objects.filter(pk=tea.product_id).update(status=Product.Status.DELISTED)
    response = shop_client(client, shopper, store).post(reverse("orders:buy_now"), {"sku_id": tea.pk})
    assert messages_of(response) == ["该商品已下架或暂不可售"] and BUY_NOW_KEY not in client.session


def test_get_is_not_allowed_on_cart_actions(client, shopper, store):
    shop_client(client, shopper, store)
    for name in ("orders:cart_add", "orders:cart_update", "orders:cart_select", "orders:cart_remove",
                 "orders:buy_now"):
        assert client.get(reverse(name)).status_code == 405


def test_a_second_store_with_its_own_stock(client, shopper, tea):
    far = make_store("远方店")
    receive_stock(far, tea, 1, reference="test:far")
    fill_cart(shopper, [tea], 2)
    response = shop_client(client, shopper, far).get(reverse("orders:cart"))
    assert row_of(response, tea).state == "short" and row_of(response, tea).max_quantity == 1


def test_add_through_htmx_query_budget(client, django_assert_num_queries, shopper, store, tea, nuts):
    fill_cart(shopper, [nuts])  # warms the catalogue cache's word on nuts, as its product page does
    shop_client(client, shopper, store)
    # PostgreSQL: one statement, the cart, the conditional UPDATE of its line and the other lines'
    # sum for the badge (elsewhere three: the cart, the UPDATE, the count). Sellability from the
    # catalogue cache; the cart's updated_at was touched moments ago.
    add = 1 if connection.vendor == "postgresql" else 3
    with django_assert_num_queries(LOGGED_IN + add):
        response = client.post(reverse("orders:cart_add"), {"sku_id": nuts.pk, "quantity": "1"}, **htmx())
    assert lines_of(shopper)[nuts.pk] == (2, True)
    assert json.loads(response["HX-Trigger"])["cart-changed"] == {"count": 2}
    # a SKU the cache has not seen yet: one query more to learn it is sellable; a new line costs its
    # check for the 999 cap, the cart's size and the INSERT (in a transaction, and the INSERT in a
    # savepoint: the test's own transaction makes both savepoints, 4 statements); on PostgreSQL the
    # badge's count then comes apart (the one statement's sum was for a line that was not there)
    with django_assert_num_queries(LOGGED_IN + add + 1 + 3 + 4 + (1 if add == 1 else 0)):
        response = client.post(reverse("orders:cart_add"), {"sku_id": tea.pk, "quantity": "1"}, **htmx())
    assert lines_of(shopper)[tea.pk] == (1, True)
    assert json.loads(response["HX-Trigger"])["cart-changed"] == {"count": 3}


def test_a_product_delisted_after_its_sku_was_added_is_refused_at_once(client, shopper, store, tea):
    from catalog.services import delist_products

    shop_client(client, shopper, store).post(reverse("orders:cart_add"), {"sku_id": tea.pk}, **htmx())
    assert lines_of(shopper)[tea.pk] == (1, True)  # the catalogue cache now says tea is sellable
    delist_products([tea.product])
    response = client.post(reverse("orders:cart_add"), {"sku_id": tea.pk}, **htmx())
    assert response.status_code == 204 and "\\u4e0b\\u67b6" in response["HX-Trigger"]  # 下架
    assert lines_of(shopper)[tea.pk] == (1, True)


def test_the_cart_is_touched_when_its_last_change_is_old(client, shopper, store, tea):
    from datetime import timedelta

    from django.utils import timezone

    fill_cart(shopper, [tea])
    old = timezone.now() - timedelta(hours=1)
    Cart.objects.filter(user=shopper).update(updated_at=old)
    shop_client(client, shopper, store).post(reverse("orders:cart_add"), {"sku_id": tea.pk}, **htmx())
    assert Cart.objects.get(user=shopper).updated_at > old + timedelta(minutes=59)
