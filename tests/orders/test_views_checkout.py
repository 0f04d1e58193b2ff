"""The checkout page: the quote for the shopper's choices (re-rendered by htmx), placing the order
with the page's token and the amount it showed, and every tampered or confused submission refused
with a message and nothing created. Round trips read the rendered form back as a browser would."""

import uuid
from decimal import Decimal

import pytest
from django.urls import reverse

from catalog.models import Sku
from marketing.models import MemberCoupon
from marketing.services import issue_coupon
from members.models import Address, Member
from members.services import adjust_points
from orders.models import CartLine, Order
from stores.models import Stock
from tests.forms import form_data
from tests.marketing.factories import make_coupon

from .factories import make_shopper, make_sku, make_store
from .test_views_common import BAD_IDS, LOGGED_IN, choose_store, fill_cart, htmx, many_skus, shop_client

pytestmark = pytest.mark.django_db
D = Decimal
URL = "/orders/checkout/"


def open_checkout(client, **params):
    response = client.get(URL, params)
    assert response.status_code == 200, response.content.decode()[:500]
    return response, form_data(response.content.decode(), "checkout")


def nothing_placed(store, *skus):
    assert not Order.objects.exists()
    for sku in skus:
        assert Stock.objects.get(store=store, sku=sku).reserved == 0


@pytest.fixture
def ready(client, shopper, store, tea, nuts):
    fill_cart(shopper, [tea], 2)
    fill_cart(shopper, [nuts], 1)
    return shop_client(client, shopper, store)


# --- the page ---------------------------------------------------------------------------------
def test_the_page_shows_the_quote_and_the_choices(ready, shopper, store):
    issue_coupon(shopper, make_coupon("满50减5", amount="5.00", threshold="50.00"), source=MemberCoupon.Source.GRANT)
    issue_coupon(shopper, make_coupon("满100减20", amount="20.00", threshold="100.00"),
                 source=MemberCoupon.Source.GRANT)
    adjust_points(shopper, 1000, "测试", None)
    response, data = open_checkout(ready)
    quote = response.context["quote"]
    assert quote.ok and quote.fulfilment == "pickup" and quote.pay_amount == D("56.00")
    page = response.content.decode()
    # fulfilment choices with their fees; pickup's time-slot picker
    assert [o.code for o in quote.fulfilment_options] == ["pickup", "delivery", "express"]
    assert "到店自提" in page and "同城配送" in page and "快递" in page and 'name="slot"' in page
    # the best usable coupon is preselected; the other is listed with its reason
    assert data["coupon"] == [str(MemberCoupon.objects.get(coupon__name="满50减5").pk)]
    assert "还差 ¥39.00 可用" in page and "不使用优惠券" in page
    # the points switch offers what the points are worth; the breakdown has every row
    assert "可用 1000 积分，抵 ¥10.00" in page
    for label in ("商品金额", "会员折扣", "优惠券", "积分抵扣", "运费", "应付"):
        assert label in page
    assert data["expected"] == ["56.00"] and data["store"] == [str(store.pk)] and data["source"] == ["cart"]
    assert uuid.UUID(data["token"][0])


def test_changing_a_choice_re_renders_the_form_through_htmx(ready, shopper):
    response, data = open_checkout(ready)
    data.update(fulfilment=["express"])
    data.pop("csrfmiddlewaretoken")
    response = ready.get(URL, data, **htmx())
    assert response.templates[0].name == "orders/partials/_checkout_form.html"
    quote = response.context["quote"]
    assert quote.fulfilment == "express" and quote.totals.delivery_fee == D("10.00")
    assert response.context["token"] == data["token"][0]  # the same page, the same token
    assert 'name="expected" value="71.00"' in response.content.decode()


def test_unavailable_fulfilment_is_shown_disabled_with_its_reason(client, store, tea):
    far = make_shopper(lat=31.9, lng=121.9)  # far outside the 5 km radius
    fill_cart(far, [tea], 1)
    response, data = open_checkout(shop_client(client, far, store))
    page = response.content.decode()
    assert 'value="delivery" disabled' in page and "收货地址超出门店配送范围（5 公里）" in page
    # and 同城配送 has a ¥20 minimum the 25.50 tea meets; choosing it anyway is refused at once
    data.update(fulfilment=["delivery"])
    response = client.post(URL, data)
    assert response.status_code == 400 and not Order.objects.exists()


def test_without_an_address_delivery_asks_for_one_and_comes_back(client, store, tea):
    user = make_shopper(address=False)
    fill_cart(user, [tea], 1)
    response, data = open_checkout(shop_client(client, user, store), fulfilment="express")
    page = response.content.decode()
    assert "请先添加收货地址" in page
    add = response.context["add_address_url"]
    assert add == "/members/addresses/new/?next=%2Forders%2Fcheckout%2F%3Fsource%3Dcart%26fulfilment%3Dexpress"
    # the members page follows `next` back here once the address is saved
    response = client.post(add, {"receiver": "李四", "phone": "13900139000", "province": "上海市", "city": "上海市",
                                 "district": "黄浦区", "detail": "人民大道1号", "is_default": "on"})
    assert response.status_code == 302 and response["Location"] == "/orders/checkout/?source=cart&fulfilment=express"
    assert client.get(response["Location"]).context["quote"].address.receiver == "李四"


def test_without_a_chosen_store_the_page_asks_for_one(client, shopper, tea):
    fill_cart(shopper, [tea], 1)
    client.force_login(shopper)
    response, data = open_checkout(client)
    page = response.content.decode()
    assert "请先选择门店" in page and "disabled>提交订单" in page
    response = client.post(URL, data)
    assert response.status_code == 400 and not Order.objects.exists()


def test_an_empty_selection_goes_back_to_the_cart(client, shopper, store, tea):
    fill_cart(shopper, [tea], 1)
    client.force_login(shopper)
    CartLine.objects.update(selected=False)
    choose_store(client, store)
    response = client.get(URL)
    assert response.status_code == 302 and response["Location"] == reverse("orders:cart")


def test_lines_that_cannot_be_bought_here_are_left_out_and_said(client, shopper, store, tea):
    elsewhere = make_sku("别店商品")
    fill_cart(shopper, [tea, elsewhere], 1)
    response, data = open_checkout(shop_client(client, shopper, store))
    assert [line.sku.pk for line in response.context["quote"].lines] == [tea.pk]
    assert "1 件已勾选的商品在当前门店无法购买，未计入本单" in response.content.decode()


def test_login_required(client, store):
    choose_store(client, store)
    response = client.get(URL)
    assert response.status_code == 302 and "/accounts/login/?next=/orders/checkout/" in response["Location"]
    assert client.post(URL, {}).status_code == 302 and not Order.objects.exists()


@pytest.mark.parametrize("n", [1, 10])
def test_checkout_page_query_count_does_not_grow_with_lines(client, django_assert_num_queries, shopper, store, n):
    fill_cart(shopper, many_skus(store, n))
    issue_coupon(shopper, make_coupon(amount="5.00", threshold="0.00"), source=MemberCoupon.Source.GRANT)
    adjust_points(shopper, 500, "测试", None)
    shop_client(client, shopper, store)
    client.get(URL)  # keeps the store's hours and express rules (orders.store_rules), as any earlier page would
    # the ticked cart lines and the chosen store, then the quote (member with its points balance,
    # coupons (the scopes only for a coupon limited to some categories or products: not this
    # one), SKUs with the store's stock of each, addresses; the store's hours and express rules
    # from this process's copy)
    with django_assert_num_queries(LOGGED_IN + 2 + 4):
        response = client.get(URL, {"use_points": "1"})
    assert len(response.context["quote"].lines) == n and response.context["quote"].points_used


def test_the_slot_picker_offers_every_slot_by_day_and_keeps_the_chosen_one(ready, store):
    import re

    from django.utils import timezone

    from stores.selectors import pickup_slots

    slots = pickup_slots(store)
    response, data = open_checkout(ready)
    page = response.content.decode()
    values = re.findall(r'<option value="([0-9T:-]+)"', page)
    local = [timezone.localtime(start) for start, _end in slots]
    assert values == [f"{start:%Y-%m-%dT%H:%M}" for start in local]
    days = {start.date() for start in local}
    assert page.count("<optgroup label=") == len(days) and '<optgroup label="今天 ' in page
    assert data["slot"] == [values[0]]  # the first slot is preselected
    # choosing another slot keeps it selected on the htmx re-render, and the order takes it
    chosen = values[-1]
    page = ready.get(URL, {"fulfilment": "pickup", "slot": chosen}, **htmx()).content.decode()
    assert f'<option value="{chosen}" selected>' in page and page.count(" selected>") == 1


def test_the_slot_picker_kept_per_process_follows_the_language_and_the_chosen_slot(shopper, store):
    from django.utils import timezone, translation

    from orders.services.checkout import CheckoutRequest, build_quote
    from orders.views.checkout import _slot_options
    from stores.selectors import pickup_slots

    slots = pickup_slots(store)
    quote = build_quote(shopper, CheckoutRequest(lines=[], store=store))
    quote.slots, quote.slot = slots, slots[1]
    chinese = _slot_options(quote)
    with translation.override("en"):
        english = _slot_options(quote)
    assert '<optgroup label="今天 ' in chinese and '<optgroup label="Today ' in english
    chosen = f"{timezone.localtime(slots[1][0]):%Y-%m-%dT%H:%M}"
    assert f'<option value="{chosen}" selected>' in chinese and chinese.count(" selected>") == 1
    quote.slot = slots[0]  # the same slots again (kept), another one chosen
    again = _slot_options(quote)
    assert again.count(" selected>") == 1 and f'<option value="{chosen}" selected>' not in again


def test_the_form_escapes_what_shoppers_and_merchants_typed(client, shopper, store, tea):
    """The form's markup is built in Python (orders.views.checkout_form): every value is escaped."""
    import html

    from members.models import Address

    type(store).objects.filter(pk=store.pk).update(name='<b>"店"</b>')
    tea.product.name = "<script>alert(1)</script>"
    tea.product.save(update_fields=["name"])
    tea.spec_text = "500g & <i>x</i>"
    tea.save(update_fields=["spec_text"])
    Address.objects.filter(user=shopper).update(receiver="<img src=x>")
    issue_coupon(shopper, make_coupon('<svg onload="x">', amount="5.00", threshold="0.00"),
                 source=MemberCoupon.Source.GRANT)
    fill_cart(shopper, [tea], 1)
    shop_client(client, shopper, store)
    for params in ({"remark": '"><script>'}, {"remark": "'<b>", "fulfilment": "express"}):
        page = client.get(URL, params).content.decode()
        form = page[page.index('<form id="checkout"'):page.index("</form>")]
        for raw in ("<script", "<b>", "<i>", "<img", "<svg onload"):
            assert raw not in form, raw
        assert f'name="remark" maxlength="200" value="{html.escape(params["remark"])}"' in form
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in form and "500g &amp; &lt;i&gt;x&lt;/i&gt;" in form
        assert "&lt;b&gt;&quot;店&quot;&lt;/b&gt;" in form and "&lt;svg onload=&quot;x&quot;&gt;" in form
    assert "&lt;img src=x&gt;" in form  # the express page lists the address


def test_the_form_in_english(ready, shopper):
    from django.utils import translation

    issue_coupon(shopper, make_coupon(amount="5.00", threshold="50.00"), source=MemberCoupon.Source.GRANT)
    adjust_points(shopper, 1000, "测试", None)
    chinese = ready.get(URL, {"fulfilment": "express"}, **htmx()).content.decode()
    with translation.override("en"):
        english = ready.get(URL, {"fulfilment": "express"}, HTTP_ACCEPT_LANGUAGE="en", **htmx()).content.decode()
    assert "提交订单" in chinese and "应付" in chinese and "运费 ¥10.00" in chinese
    assert "提交订单" not in english and "应付" not in english and "运费 ¥10.00" not in english
    assert english.count('name="fulfilment"') == chinese.count('name="fulfilment"') == 3


def test_checkout_forms_share_their_fields_but_nothing_else():
    from orders.forms import CheckoutForm

    bad = CheckoutForm({"address": "x", "remark": "a\x00b", "fulfilment": "teleport"})
    good = CheckoutForm({"address": "12", "remark": "少放冰", "fulfilment": "express", "use_points": "1"})
    assert not bad.is_valid() and good.is_valid()
    assert set(bad.errors) == {"address", "remark", "fulfilment"} and good.errors == {}
    assert bad.errors["remark"] == ["包含无效字符，请修改后重试"]
    assert (good.cleaned_data["address"], good.cleaned_data["remark"], good.cleaned_data["use_points"]) == (
        12, "少放冰", True)
    assert bad.fields["remark"] is good.fields["remark"]  # shared, not copied per form
    again = CheckoutForm({"remark": "a\x00b"})
    assert not again.is_valid() and again.errors["remark"] == ["包含无效字符，请修改后重试"]


# --- what the page keeps: the store's hours and express rules (orders.store_rules) -----------------
def test_the_kept_hours_and_express_rules_follow_every_change_at_once(client, shopper, store, tea):
    from datetime import time, timedelta

    from django.utils import timezone

    from orders.models import ExpressFeeRule
    from stores.models import StoreHours

    fill_cart(shopper, [tea], 1)
    shop_client(client, shopper, store)

    def quote(**params):
        return client.get(URL, params).context["quote"]

    def express_fee():
        option = next(o for o in quote(fulfilment="express").fulfilment_options if o.code == "express")
        return option.fee if option.available else option.reason

    assert quote().slots and quote().slots == quote().slots  # open round the clock; kept
    StoreHours.objects.filter(store=store).delete()  # closed every day
    pickup = quote().fulfilment_options[0]
    assert pickup.code == "pickup" and not pickup.available and not quote().slots
    tomorrow = timezone.localdate() + timedelta(days=1)
    StoreHours.objects.create(store=store, weekday=tomorrow.weekday(), opens=time(9), closes=time(11))
    slots = quote().slots
    assert [timezone.localtime(start).strftime("%H:%M") for start, _end in slots] == ["09:00", "10:00"]
    assert {timezone.localtime(start).date() for start, _end in slots} == {tomorrow}

    assert express_fee() == D("10.00")  # HQ's rule
    hq = ExpressFeeRule.objects.get(store__isnull=True)
    hq.base_fee = D("12.00")
    hq.save()
    assert express_fee() == D("12.00")
    own = ExpressFeeRule.objects.create(store=store, base_fee=D("6.00"))
    assert express_fee() == D("6.00")
    own.is_active = False
    own.save()
    assert express_fee() == "该门店暂不支持快递"
    own.delete()
    assert express_fee() == D("12.00")


def test_a_change_sets_a_new_version_now_and_again_at_the_commit(django_capture_on_commit_callbacks):
    """A page built between the change and its commit reads the rows as they were: it is kept under
    the first new version, which the commit replaces."""
    from orders import store_rules

    before = store_rules._read_version()
    with django_capture_on_commit_callbacks(execute=True):
        store_rules.changed()
        during = store_rules._read_version()
    assert len({before, during, store_rules._read_version()}) == 3


def test_without_a_version_nothing_is_kept(client, shopper, store, tea, monkeypatch):
    """Redis down (no version): every page reads the rows, even after a change that sent no signal."""
    from orders import store_rules
    from orders.models import ExpressFeeRule

    monkeypatch.setattr(store_rules, "_read_version", lambda: None)
    fill_cart(shopper, [tea], 1)
    shop_client(client, shopper, store)
    assert client.get(URL, {"fulfilment": "express"}).context["quote"].totals.delivery_fee == D("10.00")
    ExpressFeeRule.objects.filter(store__isnull=True).update(base_fee=D("7.00"))
    assert client.get(URL, {"fulfilment": "express"}).context["quote"].totals.delivery_fee == D("7.00")


def test_a_coupon_used_elsewhere_and_stock_sold_show_at_once(ready, shopper, store, tea, nuts):
    """What the page does not keep: the member's coupons and the store's stock are read every time."""
    from marketing.services import use_coupon

    issue_coupon(shopper, make_coupon(amount="5.00", threshold="0.00"), source=MemberCoupon.Source.GRANT)
    quote = ready.get(URL).context["quote"]
    assert quote.coupon is not None and quote.pay_amount == D("56.00")
    use_coupon(MemberCoupon.objects.get(user=shopper), reference="order:elsewhere")
    quote = ready.get(URL).context["quote"]
    assert quote.coupon is None and quote.coupons == [] and quote.pay_amount == D("61.00")
    Stock.objects.filter(store=store, sku=tea).update(on_hand=0)
    response = ready.get(URL)
    assert [line.sku.pk for line in response.context["quote"].lines] == [nuts.pk]
    assert "1 件已勾选的商品在当前门店无法购买，未计入本单" in response.content.decode()


# --- placing the order ------------------------------------------------------------------------
def test_submitting_places_the_order_shown_and_opens_the_cashier(ready, shopper, store, tea, nuts):
    response, data = open_checkout(ready)
    data.update(remark=["少放冰"])
    response = ready.post(URL, data)
    order = Order.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse("orders:pay", args=[order.public_id])
    assert (order.store, order.pay_amount, order.fulfilment, order.buyer_remark) == (store, D("61.00"), "pickup", "少放冰")
    assert order.checkout_token == data["token"][0]
    assert not CartLine.objects.filter(cart__user=shopper).exists()  # the ordered lines left the cart


def test_a_double_submit_is_one_order(ready):
    _response, data = open_checkout(ready)
    first = ready.post(URL, data)
    second = ready.post(URL, data)
    assert Order.objects.count() == 1 and first["Location"] == second["Location"]


def test_open_go_back_and_submit_again_is_one_order(ready, shopper, tea):
    """Open the checkout, go back to the cart, submit the page from history; then once more."""
    _response, data = open_checkout(ready)
    assert ready.get(reverse("orders:cart")).status_code == 200
    placed = ready.post(URL, data)
    assert ready.get(reverse("orders:cart")).context["view"].rows == []  # ordered lines left
    again = ready.post(URL, data)
    assert Order.objects.count() == 1 and placed["Location"] == again["Location"]
    assert Stock.objects.get(sku=tea).reserved == 2


def test_a_new_checkout_page_is_a_new_order(ready, shopper, store, tea):
    _response, data = open_checkout(ready)
    ready.post(URL, data)
    fill_cart(shopper, [tea], 1)
    _response, data = open_checkout(ready)
    ready.post(URL, data)
    assert Order.objects.count() == 2


def test_a_price_change_re_shows_the_new_amount_and_places_nothing(ready, store, tea, nuts):
    _response, data = open_checkout(ready)
    Sku.objects.filter(pk=tea.pk).update(price=D("30.00"))
    response = ready.post(URL, data)
    assert response.status_code == 400
    assert "订单金额已变为 ¥70.00，请确认后重新提交" in response.content.decode()
    nothing_placed(store, tea, nuts)
    data = form_data(response.content.decode(), "checkout")
    assert data["expected"] == ["70.00"]
    assert ready.post(URL, data).status_code == 302
    assert Order.objects.get().pay_amount == D("70.00")


def test_a_tampered_store_is_refused(ready, store, other_store, tea, nuts):
    _response, data = open_checkout(ready)
    data.update(store=[str(other_store.pk)])
    response = ready.post(URL, data)
    assert response.status_code == 400 and "门店已变更，请确认订单信息后重新提交" in response.content.decode()
    nothing_placed(store, tea, nuts)


def test_a_store_switched_in_another_tab_is_refused(ready, store, other_store, tea, nuts):
    _response, data = open_checkout(ready)
    choose_store(ready, other_store)
    response = ready.post(URL, data)
    assert response.status_code == 400 and "门店已变更" in response.content.decode()
    nothing_placed(store, tea, nuts)
    assert response.context["store"] == other_store  # the page now shows the store it would use


def test_another_members_address_is_refused(ready, store, tea, nuts):
    theirs = Address.objects.get(user=make_shopper())
    _response, data = open_checkout(ready, fulfilment="express")
    data.update(address=[str(theirs.pk)])
    response = ready.post(URL, data)
    assert response.status_code == 400 and "收货地址不存在，请重新选择" in response.content.decode()
    nothing_placed(store, tea, nuts)


def test_another_members_coupon_is_refused(ready, store, tea, nuts):
    other = make_shopper()
    issue_coupon(other, make_coupon(amount="5.00", threshold="0.00"), source=MemberCoupon.Source.GRANT)
    theirs = MemberCoupon.objects.get(user=other)
    _response, data = open_checkout(ready)
    data.update(coupon=[str(theirs.pk)])
    response = ready.post(URL, data)
    assert response.status_code == 400 and "优惠券不存在或已使用" in response.content.decode()
    nothing_placed(store, tea, nuts)
    assert MemberCoupon.objects.get(pk=theirs.pk).status == MemberCoupon.Status.UNUSED


def test_a_coupon_below_its_threshold_is_refused(ready, shopper, store, tea, nuts):
    issue_coupon(shopper, make_coupon(amount="20.00", threshold="100.00"), source=MemberCoupon.Source.GRANT)
    _response, data = open_checkout(ready)
    data.update(coupon=[str(MemberCoupon.objects.get(user=shopper).pk)])
    response = ready.post(URL, data)
    assert response.status_code == 400 and "该优惠券不可用：还差 ¥39.00 可用" in response.content.decode()
    nothing_placed(store, tea, nuts)


def test_coupon_and_points_chosen_on_the_page_are_used(ready, shopper, store):
    issue_coupon(shopper, make_coupon(amount="5.00", threshold="50.00"), source=MemberCoupon.Source.GRANT)
    adjust_points(shopper, 1000, "测试", None)
    _response, data = open_checkout(ready)
    data.update(use_points=["1"])
    data.pop("csrfmiddlewaretoken")
    response = ready.get(URL, data, **htmx())
    data = form_data(response.content.decode(), "checkout")
    assert "使用 1000 积分，抵扣 ¥10.00" in response.content.decode()
    assert ready.post(URL, data).status_code == 302
    order = Order.objects.get()
    assert (order.coupon_discount, order.points_used, order.pay_amount) == (D("5.00"), 1000, D("46.00"))
    assert Member.objects.get(user=shopper).points_balance == 0


def test_no_coupon_when_the_shopper_says_so(ready, shopper):
    issue_coupon(shopper, make_coupon(amount="5.00", threshold="0.00"), source=MemberCoupon.Source.GRANT)
    _response, data = open_checkout(ready)
    data.update(coupon=["none"])
    data.pop("csrfmiddlewaretoken")
    data = form_data(ready.get(URL, data, **htmx()).content.decode(), "checkout")
    assert data["coupon"] == ["none"] and data["expected"] == ["61.00"]
    ready.post(URL, data)
    assert Order.objects.get().member_coupon is None


def test_express_with_an_address_of_my_own(ready, shopper):
    mine = Address.objects.create(user=shopper, receiver="王五", phone="13700137000", province="浙江省", city="杭州市",
                                  district="西湖区", detail="文三路1号")
    _response, data = open_checkout(ready, fulfilment="express", address=mine.pk)
    assert ready.post(URL, data).status_code == 302
    order = Order.objects.get()
    assert (order.fulfilment, order.receiver_name, order.city) == ("express", "王五", "杭州市")


def test_buy_now_places_one_line_and_leaves_the_cart(ready, shopper, store, tea, nuts):
    ready.post(reverse("orders:buy_now"), {"sku_id": nuts.pk, "quantity": "3"})
    _response, data = open_checkout(ready, source="buy_now")
    assert data["source"] == ["buy_now"] and data["expected"] == ["30.00"]
    assert ready.post(URL, data).status_code == 302
    order = Order.objects.get()
    assert [(line.sku_id, line.quantity) for line in order.lines.all()] == [(nuts.pk, 3)]
    assert CartLine.objects.filter(cart__user=shopper).count() == 2  # the cart is as it was
    assert "orders.buy_now" not in ready.session
    assert ready.post(URL, data)["Location"] == reverse("orders:pay", args=[order.public_id])  # resubmitted


def test_buy_now_without_an_item_goes_to_the_cart(ready):
    response = ready.get(URL, {"source": "buy_now"})
    assert response.status_code == 302 and response["Location"] == reverse("orders:cart")


def test_out_of_stock_between_page_and_submit_places_nothing(ready, store, tea, nuts):
    _response, data = open_checkout(ready)
    Stock.objects.filter(store=store, sku=tea).update(on_hand=1)
    response = ready.post(URL, data)
    # the tea is short now: the cart leaves it out, so the amount the page showed no longer holds
    page = response.content.decode()
    assert response.status_code == 400 and "订单金额已变为 ¥10.00" in page
    assert "1 件已勾选的商品在当前门店无法购买，未计入本单" in page
    assert not Order.objects.exists()


# --- bad input, generated per field -----------------------------------------------------------
BAD_FIELD_VALUES = {
    "fulfilment": ["teleport", "PICKUP", "pickup\x00", "", "快递"],
    "address": BAD_IDS,
    "slot": ["2001-01-01T00:00", "tomorrow", "9" * 40, "\x00", "2030-13-45T99:99"],
    "coupon": BAD_IDS + ["auto\x00", "1 OR 1=1"],
    "use_points": ["2", "yes", "\x00"],
    "remark": ["x" * 201, "bad\x00remark"],
    "store": BAD_IDS,
    "token": ["", "not-a-uuid", "\x00", "a" * 65, "0" * 31],
    "expected": ["", "abc", "-1", "1e400", "NaN", "Infinity", "0.001x", "99999999999999", "\x00"],
    "source": ["elsewhere", "\x00"],
}


def _cases():
    for field, values in BAD_FIELD_VALUES.items():
        for value in values:
            yield field, value


@pytest.mark.parametrize("field,value", list(_cases()))
def test_bad_values_place_nothing_and_never_fail(ready, store, tea, nuts, field, value):
    _response, data = open_checkout(ready)
    data[field] = [value]
    response = ready.post(URL, data)
    if "\x00" in value:  # a NUL is refused before the view (core.middleware)
        assert response.status_code == 400
        nothing_placed(store, tea, nuts)
        return
    if response.status_code == 302:
        # harmless values that mean a default (an empty address or coupon: the default address, no
        # coupon; "" fulfilment: the first available; any use_points value but "" is on, and this
        # shopper has no points): then the order is exactly the one shown
        assert (field, value.strip()) in {("use_points", "2"), ("use_points", "yes"),
                                          ("fulfilment", ""), ("address", ""), ("coupon", "")}
        assert Order.objects.get().pay_amount == D(data["expected"][0])
        return
    assert response.status_code == 400
    assert response.context["error"] or response.context["quote"].errors
    nothing_placed(store, tea, nuts)


@pytest.mark.parametrize("field,value", list(_cases()))
def test_bad_values_in_the_htmx_re_render_never_fail(ready, field, value):
    _response, data = open_checkout(ready)
    data.pop("csrfmiddlewaretoken")
    data[field] = [value]
    response = ready.get(URL, data, **htmx())
    if "\x00" in value:  # a NUL is refused before the view (core.middleware)
        assert response.status_code == 400 and not Order.objects.exists()
        return
    assert response.status_code == 200 and response.templates[0].name == "orders/partials/_checkout_form.html"
    assert not Order.objects.exists()


def test_an_expected_amount_tampered_lower_is_refused(ready, store, tea, nuts):
    _response, data = open_checkout(ready)
    data.update(expected=["0.01"])
    response = ready.post(URL, data)
    assert response.status_code == 400 and "订单金额已变为 ¥61.00" in response.content.decode()
    nothing_placed(store, tea, nuts)


def test_a_token_of_another_members_order_makes_a_new_order(ready, store, tea):
    other = make_shopper()
    fill_cart(other, [tea], 1)
    from .factories import checkout

    theirs = checkout(other, store, [(tea, 1)])
    _response, data = open_checkout(ready)
    data.update(token=[theirs.checkout_token])
    response = ready.post(URL, data)
    mine = Order.objects.exclude(pk=theirs.pk).get()
    assert response["Location"] == reverse("orders:pay", args=[mine.public_id]) and mine.user != other


def test_a_paused_store_is_refused(ready, store, tea, nuts):
    _response, data = open_checkout(ready)
    type(store).objects.filter(pk=store.pk).update(status="paused")
    response = ready.post(URL, data)
    assert response.status_code == 400
    nothing_placed(store, tea, nuts)


def test_a_second_store_places_there(client, shopper, tea):
    second = make_store("第二店")
    from stores.services import receive_stock

    receive_stock(second, tea, 3, reference="test:second")
    fill_cart(shopper, [tea], 2)
    _response, data = open_checkout(shop_client(client, shopper, second))
    assert client.post(URL, data).status_code == 302
    assert Order.objects.get().store == second
    assert Stock.objects.get(store=second, sku=tea).reserved == 2
