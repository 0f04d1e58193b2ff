"""The demo catalogue looks like a real shop's: SKU names never repeat a size, a bigger pack costs
more, and every product has a drawn picture of its kind of goods (not a flat colour)."""

import io

import pytest
from PIL import Image

from catalog import demo, demo_art
from catalog.models import Product, Sku
from tests.catalog.factories import product

pytestmark = pytest.mark.django_db


def test_the_demo_catalogue_names_prices_and_pictures():
    assert demo.seed(lambda line: None) > 0
    products = list(Product.objects.prefetch_related("skus__option_values", "images"))
    assert len(products) == sum(len(p) for children in demo.CATALOGUE.values() for p in children.values())
    for sku in Sku.objects.select_related("product").prefetch_related("option_values"):
        for value in sku.option_values.all():  # no "五常大米 5kg 5kg"
            assert value.value not in sku.product.name, sku.display_name
    for children in demo.CATALOGUE.values():
        for rows in children.values():
            for name, _subtitle, _tags, _price, options in rows:
                for values in options.values():
                    if isinstance(values, dict):  # the priced option: dearer as the pack grows
                        prices = [float(p) for p in values.values()]
                        assert prices == sorted(prices) and len(set(prices)) == len(prices), name
                        for value, price in values.items():
                            got = set(Sku.objects.filter(product__name=name, option_values__value=value)
                                      .values_list("price", flat=True))
                            assert {str(p) for p in got} == {price}, (name, value, got)
    for item in products:
        image = item.images.order_by("sort_order", "id").first()
        assert image is not None, item.name
        with Image.open(image.image) as picture:
            colours = picture.convert("RGB").resize((120, 120)).getcolors(maxcolors=120 * 120)
        assert colours is None or len(colours) > 200, item.name  # shaded, not a block of colour
    assert demo.seed(lambda line: None) == 0


def test_every_kind_of_goods_is_drawn_and_names_pick_colours():
    kinds = set(demo_art.KIND_BY_CATEGORY.values())
    assert {demo_art.kind_for(child) for children in demo.CATALOGUE.values() for child in children} <= kinds
    pictures = {kind: demo_art.product_picture(kind, "农夫山泉 A", size=96) for kind in sorted(kinds)}
    for kind, data in pictures.items():
        with Image.open(io.BytesIO(data)) as picture:
            assert picture.format == "JPEG" and picture.size == (96, 96), kind
    drawn = list(pictures.values())
    assert all(demo_art.differs(a, b) for i, a in enumerate(drawn) for b in drawn[i + 1:])
    # another product of the same kind gets its own colours
    assert demo_art.differs(pictures["can"], demo_art.product_picture("can", "青岛啤酒 B", size=96)) or \
        demo_art._pick(demo_art.HUES["can"], "农夫山泉 A", "0") == demo_art._pick(demo_art.HUES["can"], "青岛啤酒 B", "0")


def test_a_catalogue_seeded_under_the_earlier_names_is_renamed_not_duplicated():
    old = product(name="土鸡蛋 30枚")
    assert demo._rename_earlier_products() == 1
    old.refresh_from_db()
    assert old.name == "农家散养土鸡蛋"
    assert demo._rename_earlier_products() == 0
