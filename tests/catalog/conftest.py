import pytest


@pytest.fixture(autouse=True)
def _catalog_without_store_stock(settings):
    """The catalogue's own tests make products without any store stock: with the stores app's
    CATALOG_IN_STOCK_PROVIDER every one of them would be 已售罄 and missing from the home page.
    Sold-out products are tested with real stock in tests/stores/test_product_stock.py."""
    settings.CATALOG_IN_STOCK_PROVIDER = None
