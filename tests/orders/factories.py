"""Factories for the orders tests: a store that sells (open around the clock, pickup, same-city
delivery and express), SKUs with stock, a member with an address, and short ways to check out, pay
(through the dev gateway's signed notice, the same path as a real notification) and fulfil."""

import itertools
import uuid
from datetime import time
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission

from catalog.models import Category, Product, Sku
from members.models import Address
from orders.payments import dev
from orders.payments.services import start_payment
from orders.payments.views import handle_dev_notice
from orders.services import CheckoutRequest, place_order
from stores.models import Store, StoreHours, StoreStaff
from stores.services import receive_stock

_seq = itertools.count(1)

ORDER_STAFF_PERMS = [
    ("orders", "view_order"), ("orders", "change_order"), ("orders", "fulfil_order"), ("orders", "refund_order"),
    ("orders", "change_order_price"), ("orders", "view_aftersale"), ("orders", "change_aftersale"),
]


def make_store(name=None, *, lat=31.2304, lng=121.4737, **extra):
    n = next(_seq)
    defaults = dict(
        province="上海市", city="上海市", district="黄浦区", street=f"南京东路{n}号", phone="021-12345678",
        pickup_enabled=True, delivery_enabled=True, delivery_radius_km=Decimal("5"), delivery_fee=Decimal("5.00"),
        delivery_min_order=Decimal("20.00"), express_enabled=True, pickup_lead_minutes=30, pickup_slot_minutes=60,
    )
    defaults.update(extra)
    store = Store.objects.create(name=name or f"门店{n}", code=f"os{n}", latitude=lat, longitude=lng, **defaults)
    StoreHours.objects.bulk_create(
        [StoreHours(store=store, weekday=d, opens=time(0), closes=time(0)) for d in range(7)]
    )
    return store


def make_sku(name=None, *, price="10.00", category=None, member_discount=True, stock=None, store=None):
    n = next(_seq)
    category = category or Category.objects.filter(name="订单测试").first() or Category.objects.create(name="订单测试")
    product = Product.objects.create(
        name=name or f"商品{n}", category=category, status=Product.Status.LISTED, member_discount_enabled=member_discount,
    )
    sku = Sku.objects.create(product=product, code=f"OSKU-{n}", price=Decimal(price))
    from catalog.services import refresh_price_range

    refresh_price_range(product)
    if stock and store is not None:
        receive_stock(store, sku, stock, reference=f"test:{n}")
    return Sku.objects.select_related("product").get(pk=sku.pk)


def make_shopper(phone=None, *, address=True, lat=31.2310, lng=121.4740):
    n = next(_seq)
    user = get_user_model().objects.create_user(f"shopper{n}", phone=phone or f"+86137{n:08d}", nickname=f"顾客{n}")
    if address:
        Address.objects.create(
            user=user, receiver="张三", phone="13800138000", province="上海市", city="上海市", district="黄浦区",
            detail="人民大道100号", is_default=True, latitude=lat, longitude=lng,
        )
    return get_user_model().objects.get(pk=user.pk)


def make_order_staff(store=None, *, role=StoreStaff.Role.MANAGER, username=None):
    user = get_user_model().objects.create_user(username or f"ostaff{next(_seq)}", password="pw-12345678",
                                                is_staff=True)
    for app, codename in ORDER_STAFF_PERMS:
        user.user_permissions.add(Permission.objects.get(content_type__app_label=app, codename=codename))
    if store is not None:
        StoreStaff.objects.create(user=user, store=store, role=role)
    return get_user_model().objects.get(pk=user.pk)


def checkout(user, store, lines, *, token=None, **choices):
    """Place an order for [(sku, quantity)] with the given choices (fulfilment defaults to pickup)."""
    choices.setdefault("fulfilment", "pickup")
    request = CheckoutRequest(lines=[(getattr(s, "pk", s), q) for s, q in lines], store=store, **choices)
    return place_order(user, request, token=token or uuid.uuid4().hex)


def pay(order, *, amount_fen=None):
    """Pay through the dev gateway: a signed notice through the same path as a real notification."""
    attempt = start_payment(order, user=order.user, channel="dev")
    body, signature = dev.make_notice(attempt, amount_fen=amount_fen)
    status, answer = handle_dev_notice(body, signature)
    assert status == 200, answer
    order.refresh_from_db()
    return attempt, answer
