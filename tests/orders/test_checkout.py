"""Placing orders: one transaction, every amount from the server, idempotent per checkout page,
and every refusal changes nothing."""

import uuid
from decimal import Decimal

import pytest

from marketing.models import MemberCoupon
from marketing.services import issue_coupon
from members.models import Member, MemberLevel
from members.services import adjust_points
from orders.errors import Code, OrderError
from orders.models import Cart, CartLine, Order, OrderEvent
from orders.services import CheckoutRequest, build_quote, place_order
from stores.models import Stock, StockReservation
from tests.marketing.factories import make_coupon

from .factories import checkout, make_shopper, make_sku

pytestmark = pytest.mark.django_db
D = Decimal


def stock_of(store, sku):
    return Stock.objects.get(store=store, sku=sku)


def nothing_changed(store, *skus, user=None):
    assert not Order.objects.exists()
    assert not StockReservation.objects.exists()
    for sku in skus:
        assert stock_of(store, sku).reserved == 0


def test_pickup_order_reserves_stock_and_snapshots_lines(store, shopper, tea, nuts):
    order = checkout(shopper, store, [(tea, 2), (nuts, 1)])
    assert order.status == Order.Status.PENDING_PAYMENT and order.fulfilment == "pickup"
    assert order.goods_amount == D("61.00") and order.pay_amount == D("61.00")
    assert order.pickup_slot_start is not None and order.pay_deadline > order.created_at
    line = order.lines.get(sku=tea)
    assert (line.product_name, line.unit_price, line.quantity, line.paid_amount) == ("龙井茶", D("25.50"), 2, D("51.00"))
    assert stock_of(store, tea).reserved == 2 and stock_of(store, nuts).reserved == 1
    assert StockReservation.objects.filter(reference=order.reference).count() == 2
    assert OrderEvent.objects.filter(order=order).count() == 1
    assert len(order.number) == 18 and order.public_id



def test_lines_keep_the_name_spec_image_and_price_they_were_ordered_with(store, shopper, tea):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from catalog.models import Product, ProductImage, Sku
    from tests.members.test_views import _png

    cover = ProductImage.objects.create(
        product=tea.product, image=SimpleUploadedFile("tea.png", _png().read(), content_type="image/png"))
    Product.objects.filter(pk=tea.product_id).update(cover=cover)
    Sku.objects.filter(pk=tea.pk).update(spec_text="500g 罐装")
    order = checkout(shopper, store, [(tea, 1)])
    line = order.lines.get()
    assert (line.product_name, line.spec_text, line.sku_code, line.unit_price) == (
        "龙井茶", "500g 罐装", tea.code, D("25.50"))
    assert line.image_url and line.image_url == cover.thumb("card")[0]
    # the catalogue changes afterwards; the order shows what was bought
    Product.objects.filter(pk=tea.product_id).update(name="明前龙井", cover=None)
    Sku.objects.filter(pk=tea.pk).update(spec_text="250g 袋装", price=D("30.00"))
    cover.delete()
    line.refresh_from_db()
    assert (line.product_name, line.spec_text, line.unit_price) == ("龙井茶", "500g 罐装", D("25.50"))
    assert line.image_url

def test_the_same_checkout_page_submitted_twice_is_one_order(store, shopper, tea):
    token = uuid.uuid4().hex
    first = checkout(shopper, store, [(tea, 2)], token=token)
    again = checkout(shopper, store, [(tea, 2)], token=token)
    assert first.pk == again.pk and Order.objects.count() == 1
    assert stock_of(store, tea).reserved == 2


def test_short_stock_names_the_line_and_leaves_nothing(store, shopper, tea, nuts):
    adjust_points(shopper, 5000, "测试", None)
    with pytest.raises(OrderError) as caught:
        checkout(shopper, store, [(tea, 11), (nuts, 1)], use_points=True)
    assert caught.value.code == Code.INSUFFICIENT_STOCK and "龙井茶" in str(caught.value)
    nothing_changed(store, tea, nuts)
    assert Member.objects.get(user=shopper).points_balance == 5000


def test_member_discount_coupon_and_points_are_allocated_to_lines(store, shopper, tea, nuts):
    level = MemberLevel.objects.create(name="测试金卡", rank=9, growth_threshold=99999, discount_percent=D("90"),
                                       points_multiplier=D("2"))
    Member.objects.filter(user=shopper).update(level=level)
    issue_coupon(shopper, make_coupon(amount="5.00", threshold="30.00"), source=MemberCoupon.Source.GRANT)
    adjust_points(shopper, 1000, "测试", None)
    order = checkout(shopper, store, [(tea, 2), (nuts, 1)], use_points=True)
    # 61.00 goods, 10% member discount 6.10, coupon 5.00, points: half of 49.90 capped by 1000 points = 10.00
    assert (order.member_discount, order.coupon_discount, order.points_discount, order.points_used) == (
        D("6.10"), D("5.00"), D("10.00"), 1000)
    assert order.pay_amount == D("39.90")
    lines = list(order.lines.all())
    assert sum((line.paid_amount for line in lines), D(0)) == order.pay_amount
    assert sum(line.points_used for line in lines) == 1000
    copy = MemberCoupon.objects.get(user=shopper)
    assert copy.status == MemberCoupon.Status.USED and copy.used_reference == order.reference
    assert Member.objects.get(user=shopper).points_balance == 0


def test_the_best_coupon_is_chosen_and_the_others_say_why_not(store, shopper, tea):
    small = issue_coupon(shopper, make_coupon(name="满30减3", amount="3.00", threshold="30.00"),
                         source=MemberCoupon.Source.GRANT)
    big = issue_coupon(shopper, make_coupon(name="满50减8", amount="8.00", threshold="50.00"),
                       source=MemberCoupon.Source.GRANT)
    far = issue_coupon(shopper, make_coupon(name="满200减30", amount="30.00", threshold="200.00"),
                       source=MemberCoupon.Source.GRANT)
    quote = build_quote(shopper, CheckoutRequest(lines=[(tea.pk, 2)], store=store))
    assert quote.coupon.copy == big and quote.totals.coupon_discount == D("8.00")
    reasons = {o.copy.pk: o.reason for o in quote.coupons}
    assert reasons[small.pk] == "" and "还差" in reasons[far.pk]


def test_another_members_coupon_is_refused_and_nothing_changes(store, shopper, tea):
    stranger = make_shopper()
    theirs = issue_coupon(stranger, make_coupon(amount="5.00", threshold="10.00"), source=MemberCoupon.Source.GRANT)
    with pytest.raises(OrderError) as caught:
        checkout(shopper, store, [(tea, 1)], coupon=str(theirs.pk))
    assert caught.value.code == Code.COUPON_UNUSABLE
    nothing_changed(store, tea)
    theirs.refresh_from_db()
    assert theirs.status == MemberCoupon.Status.UNUSED



def test_an_expired_or_not_yet_valid_coupon_of_my_own_is_refused_and_nothing_changes(store, shopper, tea):
    from datetime import timedelta

    from django.utils import timezone

    now = timezone.now()
    for valid_from, valid_until in [(now - timedelta(days=10), now - timedelta(seconds=1)),
                                    (now + timedelta(days=1), now + timedelta(days=10))]:
        mine = issue_coupon(shopper, make_coupon(amount="5.00", threshold="10.00"), source=MemberCoupon.Source.GRANT)
        MemberCoupon.objects.filter(pk=mine.pk).update(valid_from=valid_from, valid_until=valid_until)
        with pytest.raises(OrderError) as caught:
            checkout(shopper, store, [(tea, 1)], coupon=str(mine.pk))
        assert caught.value.code == Code.COUPON_UNUSABLE
        nothing_changed(store, tea)
        mine.refresh_from_db()
        assert mine.status == MemberCoupon.Status.UNUSED and mine.used_at is None

def test_a_price_changed_since_the_page_was_shown_is_refused(store, shopper, tea):
    request = CheckoutRequest(lines=[(tea.pk, 1)], store=store, fulfilment="pickup", coupon="")
    with pytest.raises(OrderError) as caught:
        place_order(shopper, request, token="t1", expected_pay_amount="1.00")
    assert caught.value.code == Code.PRICE_CHANGED
    nothing_changed(store, tea)
    order = place_order(shopper, request, token="t1", expected_pay_amount="25.50")
    assert order.pay_amount == D("25.50")


def test_delivery_beyond_the_radius_and_express_to_an_excluded_province_are_refused(store, tea):
    from orders.models import ExpressFeeRule

    far = make_shopper(lat=31.5, lng=121.9)
    with pytest.raises(OrderError) as caught:
        checkout(far, store, [(tea, 2)], fulfilment="delivery")
    assert caught.value.code == Code.FULFILMENT_UNAVAILABLE and "配送范围" in str(caught.value)
    ExpressFeeRule.objects.filter(store__isnull=True).update(excluded_provinces="上海市,西藏自治区")
    with pytest.raises(OrderError):
        checkout(far, store, [(tea, 2)], fulfilment="express")
    nothing_changed(store, tea)


def test_delivery_fee_and_minimum_order(store, shopper, nuts):
    with pytest.raises(OrderError) as caught:
        checkout(shopper, store, [(nuts, 1)], fulfilment="delivery")
    assert "起送" in str(caught.value)
    order = checkout(shopper, store, [(nuts, 2)], fulfilment="delivery")
    assert order.delivery_fee == D("5.00") and order.pay_amount == D("25.00")
    assert order.receiver_name == "张三" and order.address_detail == "人民大道100号"


def test_express_is_free_over_the_hq_threshold(store, shopper, tea):
    order = checkout(shopper, store, [(tea, 2)], fulfilment="express")
    assert order.delivery_fee == D("10.00")
    order = checkout(shopper, store, [(tea, 4)], fulfilment="express")
    assert order.delivery_fee == D("0.00")


def test_delisted_products_cannot_be_ordered(store, shopper, tea):
    tea.product.status = "delisted"
    tea.product.save()
    with pytest.raises(OrderError):
        checkout(shopper, store, [(tea, 1)])
    nothing_changed(store, tea)


@pytest.mark.parametrize("quantity", [0, -1, 1000, "1.5", "²", "１", "", None, 2**40, True])
def test_bad_quantities_are_refused(store, shopper, tea, quantity):
    with pytest.raises(OrderError):
        checkout(shopper, store, [(tea, quantity)])
    nothing_changed(store, tea)


def test_ordering_from_the_cart_removes_those_lines_only(store, shopper, tea, nuts):
    cart = Cart.objects.create(user=shopper)
    CartLine.objects.create(cart=cart, sku=tea, quantity=1)
    CartLine.objects.create(cart=cart, sku=nuts, quantity=3)
    checkout(shopper, store, [(tea, 1)], source="cart")
    assert list(CartLine.objects.filter(cart=cart).values_list("sku_id", flat=True)) == [nuts.pk]


def test_a_store_that_is_paused_takes_no_orders(store, shopper, tea):
    store.status = "paused"
    store.save()
    with pytest.raises(OrderError) as caught:
        checkout(shopper, store, [(tea, 1)])
    assert caught.value.code == Code.STORE_UNAVAILABLE


def test_product_outside_member_discount_pays_full_price(store, shopper):
    level = MemberLevel.objects.create(name="测试银卡", rank=8, growth_threshold=99998, discount_percent=D("90"))
    Member.objects.filter(user=shopper).update(level=level)
    special = make_sku("特价商品", price="50.00", stock=5, store=store, member_discount=False)
    order = checkout(shopper, store, [(special, 1)])
    assert order.member_discount == D("0.00") and order.pay_amount == D("50.00")


def test_a_scoped_coupon_counts_only_its_products_and_their_category_subtree(store, shopper):
    from catalog.models import Category

    drinks = Category.objects.create(name="饮品")
    tea_cat = Category.objects.create(name="茶", parent=drinks)
    tea = make_sku("乌龙茶", price="40.00", stock=5, store=store, category=tea_cat)
    snack = make_sku("饼干", price="40.00", stock=5, store=store)
    by_category = make_coupon(name="饮品满30减5", amount="5.00", threshold="30.00", scope="categories")
    by_category.scope_categories.add(drinks)
    by_product = make_coupon(name="饼干满50减20", amount="20.00", threshold="50.00", scope="products")
    by_product.scope_products.add(snack.product)
    cat_copy = issue_coupon(shopper, by_category, source=MemberCoupon.Source.GRANT)
    product_copy = issue_coupon(shopper, by_product, source=MemberCoupon.Source.GRANT)
    quote = build_quote(shopper, CheckoutRequest(lines=[(tea.pk, 1), (snack.pk, 1)], store=store))
    options = {o.copy.pk: o for o in quote.coupons}
    assert options[cat_copy.pk].usable and options[cat_copy.pk].discount == D("5.00")
    assert not options[product_copy.pk].usable and "还差" in options[product_copy.pk].reason
    order = checkout(shopper, store, [(tea, 1), (snack, 1)], coupon=str(cat_copy.pk))
    shares = {line.sku_id: line.coupon_discount for line in order.lines.all()}
    assert shares == {tea.pk: D("5.00"), snack.pk: D("0.00")}
