"""The two hottest writes, outside any caller's transaction as in production (a notice view is not
an atomic request; the bench and the checkout view call place_order on their own): a payment
confirmation and an order placement take no savepoint on the happy path, so a pickup code or an
order number drawn twice rolls the whole attempt back and it runs again, still exactly once.
Their statement counts are asserted here so that a change that adds one is seen."""

import uuid

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from members.services import ensure_default_levels
from orders.models import Order, OrderEvent, OrderLine, PaymentAttempt, PaymentEvent
from orders.payments.services import start_payment
from orders.payments.wechat_views import handle_pay_notice
from orders.services import CheckoutRequest, numbers, place_order
from stores.models import Stock, StockMovement, StockReservation

from .factories import checkout, make_shopper, make_sku, make_store
from .wechatpay_support import (  # noqa: F401 - the *_fixture names are fixtures
    keys_fixture,
    notice,
    transaction_resource,
    wechat_fixture,
)

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _levels():
    ensure_default_levels()


def _statements(captured):
    """What ran in the transaction, without its own bookkeeping (and without what the tests' eager
    Celery runs after the commit)."""
    sql = [q["sql"] for q in captured.captured_queries]
    sql = sql[:sql.index("COMMIT")] if "COMMIT" in sql else sql
    return [statement for statement in sql if statement != "BEGIN" and "SAVEPOINT" not in statement]


def _pending_native(wechat):
    store = make_store()
    sku = make_sku(stock=5, store=store)
    shopper = make_shopper()
    order = checkout(shopper, store, [(sku, 1)])
    return order, start_payment(order, user=shopper, channel="wechat_native", mobile=False)


def test_a_notice_pays_in_five_statements_and_a_repeat_in_one(wechat):
    order, attempt = _pending_native(wechat)
    headers, body = notice(wechat, transaction_resource(attempt))
    with CaptureQueriesContext(connection) as captured:
        assert handle_pay_notice(headers, body) == (204, None)
    # read the attempt; lock member (with the level's multiplier) and order; the attempt succeeds
    # by one conditional UPDATE that also inserts both payment events; the order's transition and
    # its event in one more
    assert len(_statements(captured)) == 5, "\n".join(s[:90] for s in _statements(captured))
    assert not [q for q in captured.captured_queries if "SAVEPOINT" in q["sql"]]
    with CaptureQueriesContext(connection) as captured:
        assert handle_pay_notice(headers, body) == (204, None)
    assert len(captured) == 1
    order.refresh_from_db()
    assert order.status == Order.Status.PAID and order.pickup_code
    kinds = sorted(PaymentEvent.objects.filter(attempt=attempt).values_list("kind", flat=True))
    assert kinds == ["created", "notified", "succeeded"]


def test_a_pickup_code_open_at_the_store_already_is_drawn_again_and_the_order_paid_once(wechat, monkeypatch):
    first, first_attempt = _pending_native(wechat)
    headers, body = notice(wechat, transaction_resource(first_attempt))
    assert handle_pay_notice(headers, body) == (204, None)
    taken = Order.objects.get(pk=first.pk).pickup_code
    second = checkout(first.user, first.store, [(OrderLine.objects.filter(order=first).get().sku, 1)])
    attempt = start_payment(second, user=second.user, channel="wechat_native", mobile=False)
    draws = iter([taken, taken, "000777"])
    monkeypatch.setattr(numbers, "pickup_code", lambda: next(draws))
    headers, body = notice(wechat, transaction_resource(attempt))
    assert handle_pay_notice(headers, body) == (204, None)
    second.refresh_from_db()
    assert second.status == Order.Status.PAID and second.pickup_code == "000777"
    assert second.events.filter(to_status="paid").count() == 1
    assert PaymentEvent.objects.filter(attempt=attempt, kind="succeeded").count() == 1
    assert PaymentEvent.objects.filter(attempt=attempt, kind="notified").count() == 1
    assert PaymentAttempt.objects.get(pk=attempt.pk).state == PaymentAttempt.State.SUCCEEDED


def test_an_order_number_drawn_twice_is_drawn_again_and_the_order_placed_once(monkeypatch):
    store = make_store()
    sku = make_sku(stock=5, store=store)
    shopper = make_shopper()
    first = checkout(shopper, store, [(sku, 1)])
    real = numbers.new_order_number
    draws = iter([first.number, first.number])
    monkeypatch.setattr("orders.services.checkout.new_order_number", lambda now: next(draws, None) or real(now))
    token = uuid.uuid4().hex
    order = checkout(shopper, store, [(sku, 2)], token=token)
    assert order.number != first.number
    assert Order.objects.filter(user=shopper).count() == 2
    assert OrderLine.objects.filter(order=order).count() == 1
    assert OrderEvent.objects.filter(order=order).count() == 1
    stock = Stock.objects.get(store=store, sku=sku)
    assert stock.reserved == 3
    assert StockReservation.objects.filter(reference=order.reference).get().quantity == 2
    assert StockMovement.objects.filter(reference=order.reference).count() == 1
    assert checkout(shopper, store, [(sku, 2)], token=token) == order  # the same page again


def test_placing_an_order_takes_the_stock_rows_last_in_a_few_statements():
    store = make_store()
    skus = [make_sku(stock=50, store=store) for _ in range(3)]
    shopper = make_shopper()
    request = CheckoutRequest(lines=[(sku.pk, 1) for sku in skus], store=store, fulfilment="pickup", coupon="")
    with CaptureQueriesContext(connection) as captured:
        order = place_order(shopper, request, token=uuid.uuid4().hex)
    statements = _statements(captured)
    locked_at = next(i for i, sql in enumerate(statements) if "stores_stock" in sql and "FOR UPDATE" in sql)
    # the stock rows are locked by the last statement (the lock in SKU order, the UPDATE of all three
    # rows, the INSERTs of their movements and reservations), then only the commit; no savepoint
    assert locked_at == len(statements) - 1, statements[locked_at:]
    assert "UPDATE" in statements[locked_at] and "stores_stockreservation" in statements[locked_at]
    # the member's lock, the look for the token, the SKUs with their stock, the store's hours, the
    # order with its lines, event and cart lines (one statement), the stock rows (one statement)
    assert len(statements) == 6, statements
    assert not [q for q in captured.captured_queries if "SAVEPOINT" in q["sql"]]
    moves = StockMovement.objects.filter(reference=order.reference).order_by("stock__sku_id")
    assert [(m.reason, m.reserved_delta, m.reserved_after, m.on_hand_after) for m in moves] == [
        ("reserve", 1, 1, 50)] * 3
    assert sorted(StockReservation.objects.filter(reference=order.reference).values_list("quantity", flat=True)) == [
        1, 1, 1]
    assert [s.reserved for s in Stock.objects.filter(store=store).order_by("sku_id")] == [1, 1, 1]


def test_the_order_its_lines_its_event_and_the_cart_lines_go_in_one_statement():
    from orders.models import Cart, CartLine

    store = make_store()
    tea, nuts, kept = (make_sku(name, price=price, stock=20, store=store)
                       for name, price in (("龙井", "25.50"), ("坚果", "10.00"), ("留在购物车", "3.00")))
    shopper = make_shopper()
    cart = Cart.objects.create(user=shopper)
    CartLine.objects.bulk_create([CartLine(cart=cart, sku=sku, quantity=1, selected=True) for sku in (tea, nuts, kept)])
    request = CheckoutRequest(lines=[(tea.pk, 2), (nuts.pk, 1)], store=store, fulfilment="pickup", coupon="",
                              remark="少冰 <b>")
    with CaptureQueriesContext(connection) as captured:
        order = place_order(shopper, request, token=uuid.uuid4().hex)
    inserts = [sql for sql in _statements(captured) if "orders_order" in sql and "INSERT" in sql]
    assert len(inserts) == 1 and "orders_orderline" in inserts[0] and "orders_orderevent" in inserts[0]
    saved = Order.objects.get(pk=order.pk)
    assert (saved.number, saved.user_id, saved.store_id, saved.status, saved.buyer_remark) == (
        order.number, shopper.pk, store.pk, "pending_payment", "少冰 <b>")
    assert saved.public_id and saved.created_at and saved.updated_at and saved.pay_deadline > saved.created_at
    assert (saved.goods_amount, saved.pay_amount, saved.refunded_amount) == (61, 61, 0)
    assert saved.pickup_slot_start is not None and saved.checkout_token == order.checkout_token
    lines = {line.sku_id: line for line in OrderLine.objects.filter(order=order)}
    assert set(lines) == {tea.pk, nuts.pk}
    line = lines[tea.pk]
    assert (line.product_id, line.product_name, line.sku_code, line.unit_price, line.quantity, line.paid_amount,
            line.takes_member_discount, line.refunded_quantity, line.fulfilled_quantity) == (
        tea.product_id, tea.product.name, tea.code, 25.5, 2, 51, True, 0, 0)
    event = OrderEvent.objects.get(order=order)
    assert (event.kind, event.from_status, event.to_status, event.actor_id, event.actor_label, event.note,
            event.visible_to_shopper) == ("status", "", "pending_payment", shopper.pk, "买家", "提交订单", True)
    assert list(CartLine.objects.filter(cart=cart).values_list("sku_id", flat=True)) == [kept.pk]
