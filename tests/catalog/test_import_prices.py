"""SKU prices in an import go through core.money, like every other amount."""

from decimal import Decimal

import pytest

from catalog.resources import MoneyWidget, SkuResource, import_catalog_file

from .factories import product

pytestmark = pytest.mark.django_db
HEADER = "code,product,spec,price,market_price,cost_price,barcode,weight,is_enabled\n"


def test_prices_with_a_yuan_sign_and_thousands_separator_import_as_decimal():
    item = product(options={"颜色": ["红"]}, price="10.00")
    report = import_catalog_file(SkuResource, HEADER + f'P-1,{item.pk},颜色:黄,"¥1,299.5",￥1500,,,0.125,1\n')
    assert report.ok, report.errors
    sku = item.skus.get(code="P-1")
    assert sku.price == Decimal("1299.50") and sku.market_price == Decimal("1500.00")
    assert sku.weight == Decimal("0.125")  # a weight is not money: three places stay


def test_a_price_with_fractions_of_a_fen_is_refused_not_rounded():
    item = product(options={"颜色": ["红"]}, price="10.00")
    report = import_catalog_file(SkuResource, HEADER + f"P-2,{item.pk},颜色:蓝,12.345,,,,,1\n")
    assert not report.ok
    assert "12.345" in " ".join(message for _row, message in report.errors)
    assert not item.skus.filter(code="P-2").exists()


def test_a_spreadsheet_float_becomes_exact_yuan():
    assert MoneyWidget().clean(19.9) == Decimal("19.90")
    assert MoneyWidget().clean("") is None
    with pytest.raises(ValueError):
        MoneyWidget().clean("abc")
