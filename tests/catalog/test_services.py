from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from catalog import selectors, services
from catalog.errors import CatalogError, DuplicateCombination, NotSellable
from catalog.models import Product, Sku

from .factories import category, product

pytestmark = pytest.mark.django_db


# --- listing rules ----------------------------------------------------------------------------
def test_listed_product_is_shown_and_sellable():
    item = product()
    assert list(selectors.listed_products()) == [item]
    sku = item.skus.get()
    assert selectors.get_sellable_sku(sku.pk) == sku


@pytest.mark.parametrize("status", [Product.Status.DRAFT, Product.Status.DELISTED])
def test_draft_or_delisted_product_is_never_shown_or_sold(status):
    item = product(status=status)
    sku = item.skus.get()
    assert not selectors.listed_products().exists()
    assert not selectors.search_products(item.name).exists()
    with pytest.raises(NotSellable) as excinfo:
        selectors.get_sellable_sku(sku.pk)
    assert excinfo.value.code == "not_sellable"
    assert selectors.sellable_sku_ids([sku.pk]) == set()


def test_disabled_sku_is_not_sellable():
    item = product(options={"颜色": ["红", "蓝"]})
    red, blue = item.skus.order_by("id")
    Sku.objects.filter(pk=red.pk).update(is_enabled=False)
    with pytest.raises(NotSellable):
        selectors.get_sellable_sku(red.pk)
    assert selectors.sellable_sku_ids([red.pk, blue.pk, 999999]) == {blue.pk}


def test_unknown_or_garbage_sku_id_is_not_sellable():
    for bad in (999999, "abc", None):
        with pytest.raises(NotSellable):
            selectors.get_sellable_sku(bad)


def test_delisting_removes_product_at_once():
    item = product()
    sku = item.skus.get()
    assert selectors.sellable_sku_ids([sku.pk]) == {sku.pk}
    assert services.delist_products([item]) == 1
    assert selectors.sellable_sku_ids([sku.pk]) == set()
    assert not selectors.listed_products().exists()


def test_product_outside_its_schedule_is_not_sold_even_if_listed():
    now = timezone.now()
    item = product(list_at=now + timedelta(hours=1))
    assert not selectors.listed_products(now=now).exists()
    Product.objects.filter(pk=item.pk).update(list_at=None, delist_at=now - timedelta(minutes=1))
    assert not selectors.listed_products(now=now).exists()


def test_product_without_enabled_sku_cannot_be_listed():
    item = product(status=Product.Status.DRAFT, options={"颜色": ["红"]})
    item.skus.update(is_enabled=False)
    services.refresh_price_range(item)
    listed, refused = services.list_products([item])
    assert listed == 0 and refused == [item.name]
    item.refresh_from_db()
    assert item.status == Product.Status.DRAFT


# --- schedule ---------------------------------------------------------------------------------
def test_apply_listing_schedule_flips_due_products_once():
    now = timezone.now()
    to_list = product(name="定时上架", status=Product.Status.DRAFT, list_at=now - timedelta(minutes=1))
    to_delist = product(name="定时下架", delist_at=now - timedelta(seconds=1))
    later = product(name="以后上架", status=Product.Status.DRAFT, list_at=now + timedelta(hours=2))
    assert services.apply_listing_schedule(now) == (1, 1)
    assert services.apply_listing_schedule(now) == (0, 0)  # idempotent
    statuses = dict(Product.objects.values_list("name", "status"))
    assert statuses == {to_list.name: "listed", to_delist.name: "delisted", later.name: "draft"}
    # a merchant delists by hand after the schedule fired: the next tick does not list it again
    services.delist_products([to_list])
    assert services.apply_listing_schedule(now + timedelta(minutes=1)) == (0, 0)
    assert Product.objects.get(pk=to_list.pk).status == "delisted"


def test_listing_schedule_task_runs_the_service():
    from catalog.tasks import apply_listing_schedule

    product(status=Product.Status.DRAFT, list_at=timezone.now() - timedelta(minutes=1))
    assert apply_listing_schedule.delay().get() == {"listed": 1, "delisted": 0}


# --- SKU grid ---------------------------------------------------------------------------------
def test_grid_makes_one_sku_per_combination_with_spec_text():
    item = product(options={"颜色": ["红色", "蓝色"], "尺码": ["S", "M", "L"]}, price="59.00")
    skus = list(item.skus.all())
    assert len(skus) == 6
    assert len({s.option_key for s in skus}) == 6
    assert {s.spec_text for s in skus} >= {"红色 / S", "蓝色 / L"}
    assert all(s.option_values.count() == 2 for s in skus)
    item.refresh_from_db()
    assert item.price_min == item.price_max == Decimal("59.00")


def test_adding_a_value_keeps_existing_skus():
    item = product(options={"颜色": ["红色", "蓝色"]}, price="10.00")
    before = {s.option_key: (s.pk, s.code) for s in item.skus.all()}
    Sku.objects.filter(product=item).update(price=Decimal("12.00"))
    services.set_options(item, {"颜色": ["红色", "蓝色", "绿色"]})
    result = services.generate_sku_grid(item)
    assert (result.created, result.kept, result.disabled) == (1, 2, 0)
    after = {s.option_key: (s.pk, s.code) for s in item.skus.all()}
    assert all(after[k] == v for k, v in before.items())
    assert item.skus.get(spec_text="绿色").price == Decimal("12.00")


def test_vanished_combinations_are_disabled_not_deleted():
    item = product(options={"颜色": ["红色", "蓝色"]}, price="10.00")
    old = set(item.skus.values_list("pk", flat=True))
    services.set_options(item, {"尺码": ["M"]})  # a new option type: every old combination vanishes
    result = services.generate_sku_grid(item)
    assert (result.created, result.disabled, result.kept) == (2, 2, 0)
    assert set(Sku.objects.filter(pk__in=old, is_enabled=False).values_list("pk", flat=True)) == old
    assert set(item.skus.filter(is_enabled=True).values_list("spec_text", flat=True)) == {"红色 / M", "蓝色 / M"}


def test_product_without_options_has_exactly_one_sku():
    item = product(price="9.90")
    assert item.skus.count() == 1
    services.generate_sku_grid(item)
    services.ensure_default_sku(item, price=Decimal("8.80"))
    assert item.skus.count() == 1
    item.refresh_from_db()
    assert item.price_min == Decimal("8.80")


def test_duplicate_combination_is_refused():
    item = product(options={"颜色": ["红色", "蓝色"]})
    red, blue = item.skus.order_by("id")
    with pytest.raises(DuplicateCombination):
        services.set_sku_option_values(blue, list(red.option_values.all()))
    with pytest.raises(DuplicateCombination):
        services.set_options(item, {"尺码": ["M", "M"]})
    assert not item.option_types.filter(name="尺码").exists()


@pytest.mark.parametrize("price", ["-1", "1000000", "99999999"])
def test_negative_or_absurd_price_is_refused_and_nothing_saved(price):
    cat = category()
    with pytest.raises(CatalogError):
        services.create_product(name="坏价格", category=cat, price=Decimal(price))
    assert not Product.objects.filter(name="坏价格").exists()


def test_bad_row_in_sku_batch_saves_nothing():
    item = product(options={"颜色": ["红色", "蓝色"]}, price="10.00")
    red, blue = item.skus.order_by("id")
    with pytest.raises(CatalogError) as excinfo:
        services.save_skus(item, [{"id": red.pk, "price": Decimal("20.00")}, {"id": blue.pk, "price": Decimal("-5")}])
    assert "2" in str(excinfo.value)
    red.refresh_from_db()
    assert red.price == Decimal("10.00")


def test_price_range_follows_enabled_skus():
    item = product(options={"颜色": ["红色", "蓝色"]}, price="10.00")
    red, blue = item.skus.order_by("id")
    blue.price = Decimal("30.00")
    blue.save()
    item.refresh_from_db()
    assert (item.price_min, item.price_max) == (Decimal("10.00"), Decimal("30.00"))
    blue.is_enabled = False
    blue.save()
    item.refresh_from_db()
    assert (item.price_min, item.price_max) == (Decimal("10.00"), Decimal("10.00"))


# --- description ------------------------------------------------------------------------------
def test_description_script_and_handlers_are_removed():
    dirty = (
        '<p onclick="steal()">好<script>alert(1)</script>货</p>'
        '<a href="javascript:alert(1)">x</a><img src="https://img.example/a.jpg" onerror="x()">'
        '<iframe src="https://evil.example"></iframe><strong>加粗</strong>'
    )
    item = product(description=dirty)
    html = item.description
    assert "script" not in html and "onclick" not in html and "onerror" not in html
    assert "javascript:" not in html and "iframe" not in html
    assert "<strong>加粗</strong>" in html and 'src="https://img.example/a.jpg"' in html


def test_sales_count_adds_and_never_goes_negative():
    item = product()
    services.add_sales(item.pk, 3)
    assert services.add_sales(item.pk, -5) == 0
    item.refresh_from_db()
    assert item.sales_count == 3 and item.display_sales == 3 + item.sales_base


def test_market_price_below_price_is_refused():
    item = product(price="10.00")
    with pytest.raises(CatalogError) as excinfo:
        services.ensure_default_sku(item, price=Decimal("20.00"), market_price=Decimal("15.00"))
    assert "划线价" in str(excinfo.value)
    assert item.skus.get().price == Decimal("10.00")


# --- inactive categories ----------------------------------------------------------------------
@pytest.mark.parametrize("inactive", ["own", "parent", "grandparent"])
def test_product_under_an_inactive_category_is_never_shown_or_sold(inactive):
    top = category("服饰")
    middle = category("男装", parent=top)
    leaf = category("T恤", parent=middle)
    item = product(name="纯棉T恤", cat=leaf, tags="夏季")
    other = product(name="纯棉袜子", cat=category("袜子", parent=top), tags="夏季")
    sku = item.skus.get()
    assert selectors.get_sellable_sku(sku.pk) == sku

    node = {"own": leaf, "parent": middle, "grandparent": top}[inactive]
    node.refresh_from_db()
    node.is_active = False
    node.save()

    assert item not in selectors.listed_products()
    assert item not in selectors.search_products("纯棉")
    assert item.pk not in {p.pk for p in selectors.recommended_products()}
    with pytest.raises(selectors.Product.DoesNotExist):
        selectors.get_listed_product(item.pk)
    with pytest.raises(NotSellable) as excinfo:
        selectors.get_sellable_sku(sku.pk)
    assert excinfo.value.code == "not_sellable"
    assert selectors.sellable_sku_ids([sku.pk]) == set()
    # a sibling branch is not affected unless the shared ancestor is the inactive one
    assert (other in selectors.listed_products()) == (inactive != "grandparent")


def test_reactivated_category_shows_its_products_again():
    leaf = category("零食")
    item = product(cat=leaf)
    leaf.is_active = False
    leaf.save()
    assert not selectors.listed_products().exists()
    leaf.is_active = True
    leaf.save()
    assert list(selectors.listed_products()) == [item]
    assert selectors.get_sellable_sku(item.skus.get().pk)


def test_saving_a_category_bumps_the_catalogue_version():
    from catalog import cache as catalog_cache

    leaf = category("饮料")
    before = catalog_cache.version()
    leaf.is_active = False
    leaf.save(update_fields=["is_active"])
    assert catalog_cache.version() != before
