import pytest

from .factories import make_order_staff, make_shopper, make_sku, make_store


@pytest.fixture(autouse=True)
def _dev_gateway(settings):
    settings.PAYMENT_DEV_GATEWAY = True


@pytest.fixture
def store(db):
    return make_store("静安寺店")


@pytest.fixture
def other_store(db):
    return make_store("徐家汇店", lat=31.19, lng=121.43)


@pytest.fixture
def tea(store):
    return make_sku("龙井茶", price="25.50", stock=10, store=store)


@pytest.fixture
def nuts(store):
    return make_sku("每日坚果", price="10.00", stock=10, store=store)


@pytest.fixture
def shopper(db):
    return make_shopper()


@pytest.fixture
def manager(store):
    return make_order_staff(store)


@pytest.fixture
def other_manager(other_store):
    return make_order_staff(other_store)


@pytest.fixture(autouse=True)
def _hq_express_rule(request):
    """HQ's default express rule comes from a data migration, which a transactional test's flush
    removes for the tests after it: put it back for every test that uses the database."""
    marker = request.node.get_closest_marker("django_db")
    if marker is None and "db" not in request.fixturenames:
        return
    request.getfixturevalue("transactional_db" if marker and marker.kwargs.get("transaction") else "db")
    from decimal import Decimal

    from orders.models import ExpressFeeRule

    if not ExpressFeeRule.objects.filter(store__isnull=True).exists():
        ExpressFeeRule.objects.create(store=None, base_fee=Decimal("10.00"), free_over=Decimal("99.00"))
