"""A member level with free delivery (MemberLevel.free_delivery, set by HQ) pays no fee for express
or same-city delivery; every other level pays the store's fees."""

from decimal import Decimal

import pytest

from members.models import Member, MemberLevel
from members.services import ensure_default_levels

from .factories import checkout

pytestmark = pytest.mark.django_db
D = Decimal


def _give_level(user, *, free_delivery):
    ensure_default_levels()
    level = MemberLevel.objects.get(rank=0)  # no member price: the fees alone change
    MemberLevel.objects.filter(pk=level.pk).update(free_delivery=free_delivery)
    Member.objects.filter(user=user).update(level=level)


def test_a_free_delivery_level_pays_no_express_or_delivery_fee(store, shopper, tea, nuts):
    _give_level(shopper, free_delivery=True)
    order = checkout(shopper, store, [(tea, 2)], fulfilment="express")
    assert order.delivery_fee == D("0.00") and order.pay_amount == order.goods_amount
    order = checkout(shopper, store, [(nuts, 2)], fulfilment="delivery")
    assert order.delivery_fee == D("0.00")


def test_a_level_without_free_delivery_pays_the_fees(store, shopper, tea, nuts):
    _give_level(shopper, free_delivery=False)
    order = checkout(shopper, store, [(tea, 2)], fulfilment="express")
    assert order.delivery_fee == D("10.00")
    order = checkout(shopper, store, [(nuts, 2)], fulfilment="delivery")
    assert order.delivery_fee == D("5.00")
