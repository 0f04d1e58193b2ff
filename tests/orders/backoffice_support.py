"""Shared pieces of the orders back-office tests: staff of each kind, orders in a given state,
messages of a response, a snapshot of what an order is (to prove a refusal changed nothing), and
query counting."""

import html
import itertools
import re
import uuid

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.contrib.messages import get_messages
from django.db import connection
from django.test.utils import CaptureQueriesContext

from orders import services
from orders.models import AfterSale, Order, OrderEvent, PickupRecord, Refund, Shipment
from stores.models import Stock, StoreStaff

from .factories import checkout, make_order_staff, pay

_seq = itertools.count(1)


def make_clerk(store, **kwargs):
    return make_order_staff(store, role=StoreStaff.Role.CLERK, **kwargs)


def make_hq():
    from stores.scope import HQ_PERMISSION

    user = make_order_staff(None)
    app, codename = HQ_PERMISSION.split(".")
    user.user_permissions.add(Permission.objects.get(content_type__app_label=app, codename=codename))
    return get_user_model().objects.get(pk=user.pk)


def make_plain_staff(store, *codenames):
    """Staff of `store` with only the given orders permissions (none: a clerk of another trade)."""
    user = get_user_model().objects.create_user(f"plain{next(_seq)}", password="pw-12345678", is_staff=True)
    user.user_permissions.add(*Permission.objects.filter(content_type__app_label="orders", codename__in=codenames))
    StoreStaff.objects.create(user=user, store=store, role=StoreStaff.Role.CLERK)
    return get_user_model().objects.get(pk=user.pk)


def paid(shopper, store, lines, **choices):
    order = checkout(shopper, store, lines, **choices)
    pay(order)
    order.refresh_from_db()
    return order


def ask_refund(order, *, kind=AfterSale.Kind.REFUND_ONLY, quantities=None, **extra):
    return services.request_after_sale(order, user=order.user, kind=kind, reason=AfterSale.Reason.NOT_WANTED,
                                       quantities=quantities, request_id=uuid.uuid4().hex, **extra)


def texts(response):
    """The messages a response gives: those shown on a rendered page, or those a redirect carries
    (added by this request: not those left over from earlier redirects the test did not follow)."""
    if response.status_code == 200 and not getattr(response, "streaming", False):
        return [html.unescape(m) for m in re.findall(r'<li class="bo-message bo-message--\w+">(.*?)</li>',
                                                      response.content.decode())]
    storage = get_messages(response.wsgi_request)
    return [str(m) for m in storage._queued_messages]


def snapshot(order):
    """Everything a refused action must leave as it was."""
    fresh = Order.objects.get(pk=order.pk)
    return (
        fresh.status, fresh.pay_amount, fresh.paid_amount, fresh.refunded_amount, fresh.adjustment,
        fresh.delivery_fee, fresh.merchant_remark, fresh.courier_name, fresh.cancel_reason,
        OrderEvent.objects.filter(order=order).count(), Shipment.objects.filter(order=order).count(),
        Refund.objects.filter(order=order).count(), PickupRecord.objects.filter(order=order).count(),
        tuple(Stock.objects.filter(store=order.store).order_by("pk").values_list("on_hand", "reserved")),
    )


def count_queries(client, url, method="get", data=None):
    with CaptureQueriesContext(connection) as ctx:
        response = getattr(client, method)(url, data or {})
    assert response.status_code in (200, 302), (url, response.status_code)
    return len(ctx.captured_queries), response
