"""Small factories for the stores tests."""

import itertools
from datetime import time
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission

from stores.models import Store, StoreHours, StoreStaff

_seq = itertools.count(1)

STAFF_PERMS = [
    "view_store", "view_stock", "change_stock", "view_stockmovement", "view_transfer", "add_transfer",
    "change_transfer",
    "view_lowstockalert", "view_storenotification",
]


def make_store(name=None, *, city="上海市", lat=31.2304, lng=121.4737, hours=True, **extra):
    n = next(_seq)
    store = Store.objects.create(
        name=name or f"门店{n}", code=extra.pop("code", f"s{n}"), province=extra.pop("province", "上海市"), city=city,
        district=extra.pop("district", "黄浦区"), street=extra.pop("street", f"南京东路{n}号"), latitude=lat,
        longitude=lng, phone=extra.pop("phone", "021-12345678"), **extra,
    )
    if hours:
        StoreHours.objects.bulk_create([StoreHours(store=store, weekday=d, opens=time(9), closes=time(21)) for d in range(7)])
    return store


def make_sku(name=None, *, price="10.00", threshold=None):
    from catalog.models import Category, Product, Sku

    n = next(_seq)
    category = Category.objects.filter(name="测试分类").first() or Category.objects.create(name="测试分类")
    product = Product.objects.create(name=name or f"商品{n}", category=category, status=Product.Status.LISTED)
    return Sku.objects.create(product=product, code=f"SKU-{n}", price=Decimal(price))


def make_staff(store=None, role=StoreStaff.Role.CLERK, username=None):
    user = get_user_model().objects.create_user(username=username or f"staff{next(_seq)}", password="pw-12345678",
                                                is_staff=True)
    user.user_permissions.add(*Permission.objects.filter(content_type__app_label="stores", codename__in=STAFF_PERMS))
    if store is not None:
        StoreStaff.objects.create(user=user, store=store, role=role)
    return get_user_model().objects.get(pk=user.pk)


def make_hq(username=None):
    from stores.scope import HQ_PERMISSION

    user = make_staff(username=username)
    app, codename = HQ_PERMISSION.split(".")
    user.user_permissions.add(Permission.objects.get(content_type__app_label=app, codename=codename))
    return get_user_model().objects.get(pk=user.pk)


@pytest.fixture
def store_a(db):
    return make_store("A店", code="store-a")


@pytest.fixture
def store_b(db):
    return make_store("B店", code="store-b", lat=30.27, lng=120.16, city="杭州市", province="浙江省")


@pytest.fixture
def sku(db):
    return make_sku("测试商品")


@pytest.fixture
def clerk_a(store_a):
    return make_staff(store_a, username="clerk_a")


@pytest.fixture
def manager_a(store_a):
    return make_staff(store_a, role=StoreStaff.Role.MANAGER, username="manager_a")


@pytest.fixture
def clerk_b(store_b):
    return make_staff(store_b, username="clerk_b")


@pytest.fixture
def hq_user(db):
    return make_hq("hq")
