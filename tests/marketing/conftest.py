"""Shared fixtures for the marketing tests: a shopper with points, a stocked store, its clerk,
and (from tests/conftest.py) the `notices` fixture recording what members were told.

Kept small on purpose (other test modules import it): plain helpers plus a few fixtures.
"""

import itertools

import pytest

from members.models import Member
from stores import services as stock_services
from stores.models import Stock
from tests.members.factories import make_member
from tests.stores.conftest import make_sku, make_store
from tests.stores.conftest import make_staff as make_store_staff

_seq = itertools.count(1)

__all__ = [
    "make_shopper", "make_sku", "make_staff", "make_store", "stock_of", "balance_of",
]


def make_shopper(points=0, **extra):
    """A shopper (User) whose member profile holds `points` (credited through the ledger)."""
    return make_member(points=points, **extra).user


def stock_of(store, sku):
    """(on_hand, reserved) of the store's row for the SKU, read fresh."""
    return tuple(Stock.objects.filter(store=store, sku=sku).values_list("on_hand", "reserved").get())


def balance_of(user):
    return Member.objects.values_list("points_balance", flat=True).get(user=user)


@pytest.fixture
def shopper(db):
    """A shopper holding 1000 points."""
    return make_shopper(points=1000)


@pytest.fixture
def store(db):
    return make_store("积分自提店", code=f"mall-{next(_seq)}")


@pytest.fixture
def sku(db):
    return make_sku("积分好礼")


@pytest.fixture
def stocked(store, sku):
    """The store holds 5 units of the SKU."""
    stock_services.receive_stock(store, sku, 5)
    return store, sku


def make_staff(store=None, role=None, username=None):
    """Store staff as the demo makes them: the stores permissions, and the points mall's pickups
    (view and hand over exchanges: marketing.services.verify_pickup asks for the change permission)."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Permission

    from stores.models import StoreStaff

    user = make_store_staff(store, role=role or StoreStaff.Role.CLERK, username=username)
    user.user_permissions.add(*Permission.objects.filter(
        content_type__app_label="marketing", codename__in=["view_pointsexchange", "change_pointsexchange"]))
    return get_user_model().objects.get(pk=user.pk)


@pytest.fixture
def clerk(store):
    """A clerk of `store` (is_staff, store-scoped)."""
    return make_staff(store)
