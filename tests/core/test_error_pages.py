"""403 and 404 in the look of where they happen: the back office's shell (no shop tab bar, never
Django's debug page for "not your store", DEBUG on or off), the shop's page elsewhere."""

import pytest
from django.contrib.auth import get_user_model

from stores.models import StockMovement
from tests.stores.conftest import make_sku, make_staff, make_store

pytestmark = pytest.mark.django_db


def looks_like_the_back_office(html):
    return 'class="bo"' in html and "返回后台首页" in html and "shop-tabbar" not in html


@pytest.mark.parametrize("debug", [False, True])
def test_another_stores_rows_are_the_back_office_404(client, settings, debug):
    settings.DEBUG = debug
    mine, theirs = make_store("我的店"), make_store("别人的店")
    sku = make_sku("龙井")
    from stores.services import receive_stock

    receive_stock(theirs, sku, 5, reference="staff:test-error-pages")
    stock = theirs.stock.get()
    client.force_login(make_staff(mine))
    urls = [f"/backoffice/stores/stock/{stock.pk}/", f"/backoffice/stores/?store={theirs.pk}",
            "/backoffice/stores/transfers/999999/"]
    if not debug:  # a URL that resolves to nothing: with DEBUG on, Django's URL list helps the developer
        urls.append("/backoffice/no-such-page/")
    for url in urls:
        response = client.get(url)
        html = response.content.decode()
        assert response.status_code == 404, url
        assert looks_like_the_back_office(html) and "页面不存在" in html, url
        assert "Traceback" not in html and "Using the URLconf" not in html, url
    assert StockMovement.objects.count() == 1


def test_a_shopper_in_the_back_office_gets_its_403_and_the_shop_keeps_its_pages(client):
    client.force_login(get_user_model().objects.create_user("shopper"))
    response = client.get("/backoffice/")
    assert response.status_code == 403 and looks_like_the_back_office(response.content.decode())
    assert "无权访问" in response.content.decode()
    shop = client.get("/no-such-page/")
    assert shop.status_code == 404 and "shop-tabbar" in shop.content.decode() or "shop" in shop.content.decode()
    assert 'class="bo"' not in shop.content.decode()


def test_the_back_office_error_pages_run_no_query(client, django_assert_num_queries):
    with django_assert_num_queries(0):
        assert client.get("/backoffice/no-such-page/").status_code == 404
