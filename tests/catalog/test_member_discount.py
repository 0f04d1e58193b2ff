"""Product.member_discount_enabled: whether the member level's discount applies to a product.
Default on; set in the admin (价格与销量), in CSV/XLSX import and export (a missing column or a
blank cell keeps the value), and carried where the checkout and the product page read it."""

import pytest
import tablib

from catalog import selectors
from catalog.models import Product
from catalog.resources import FlagWidget, ProductResource, import_catalog_file
from tests.forms import form_data

from .factories import category, product

pytestmark = pytest.mark.django_db

HEADER = "id,name,category,tags,sort_weight,sales_base,status"


@pytest.fixture
def admin_client(client, django_user_model):
    client.force_login(django_user_model.objects.create_superuser("hq", password="pw-123456"))
    return client


def test_a_new_product_takes_part_by_default():
    assert product().member_discount_enabled is True
    field = Product._meta.get_field("member_discount_enabled")
    assert (str(field.verbose_name), str(field.help_text)) == ("参与会员折扣", "会员等级折扣是否适用于本商品")


def test_admin_shows_the_flag_under_prices_and_saves_it_unticked(admin_client):
    item = product(name="茅台飞天", options={"容量": ["500ml"]}, price="1499.00")
    response = admin_client.get(f"/admin/catalog/product/{item.pk}/change/")
    body = response.content.decode()
    prices = body[body.index("价格与销量"):body.index("详情</h2>")]
    assert 'name="member_discount_enabled"' in prices and "参与会员折扣" in prices
    data = form_data(response.content, "product_form")
    assert data["member_discount_enabled"] == ["on"]

    del data["member_discount_enabled"]  # the box unticked: a browser sends nothing
    response = admin_client.post(f"/admin/catalog/product/{item.pk}/change/", data)

    assert response.status_code == 302
    item.refresh_from_db()
    assert item.member_discount_enabled is False
    data = form_data(admin_client.get(f"/admin/catalog/product/{item.pk}/change/").content, "product_form")
    assert "member_discount_enabled" not in data  # shown unticked next time


def test_csv_without_the_column_keeps_the_default_and_a_column_sets_it():
    category("酒水")
    report = import_catalog_file(ProductResource, f"{HEADER}\n,青岛啤酒,酒水,,0,0,draft\n")
    assert report.ok, report.errors
    beer = Product.objects.get(name="青岛啤酒")
    assert beer.member_discount_enabled is True

    csv = (
        f"{HEADER},member_discount_enabled\n"
        f"{beer.pk},青岛啤酒,酒水,,0,0,draft,0\n"
        ",茅台飞天,酒水,,0,0,draft,否\n"
        ",汾酒,酒水,,0,0,draft,\n"
    )
    report = import_catalog_file(ProductResource, csv)
    assert report.ok, report.errors
    flags = dict(Product.objects.values_list("name", "member_discount_enabled"))
    assert flags == {"青岛啤酒": False, "茅台飞天": False, "汾酒": True}

    # a blank cell or a file without the column changes nothing on an existing product
    report = import_catalog_file(ProductResource, f"{HEADER},member_discount_enabled\n{beer.pk},青岛啤酒,酒水,,1,0,draft,\n")
    assert report.ok, report.errors
    report = import_catalog_file(ProductResource, f"{HEADER}\n{beer.pk},青岛啤酒,酒水,,2,0,draft\n")
    assert report.ok, report.errors
    beer.refresh_from_db()
    assert beer.member_discount_enabled is False and beer.sort_weight == 2


def test_csv_with_a_bad_flag_reports_the_row_and_saves_nothing():
    category("酒水")
    csv = f"{HEADER},member_discount_enabled\n,好商品,酒水,,0,0,draft,1\n,坏商品,酒水,,0,0,draft,maybe\n"
    report = import_catalog_file(ProductResource, csv)
    assert [row for row, _message in report.errors] == [2]
    assert "maybe" in report.errors[0][1]
    assert not Product.objects.exists()


def test_export_writes_the_flag_as_1_or_0():
    cat = category("酒水")
    product(name="汾酒", cat=cat)
    product(name="茅台飞天", cat=cat, member_discount_enabled=False)
    exported = ProductResource().export()
    flags = dict(zip(exported["name"], exported["member_discount_enabled"], strict=True))
    assert flags == {"汾酒": "1", "茅台飞天": "0"}


@pytest.mark.parametrize("cell,flag", [
    (True, True), (False, False), (1, True), (0, False), (1.0, True), (0.0, False),  # spreadsheet cells
    ("TRUE", True), ("false", False), ("是", True), ("否", False), (" 1 ", True), ("", None), (None, None),
])
def test_flag_cells_of_csv_and_spreadsheets(cell, flag):
    assert FlagWidget().clean(cell) is flag


@pytest.mark.parametrize("cell", ["2", "maybe", "-1"])
def test_other_flag_cells_are_refused_not_read_as_no(cell):
    with pytest.raises(ValueError, match="应为 1 或 0"):
        FlagWidget().clean(cell)


def test_xlsx_import_reads_the_flag():
    pytest.importorskip("openpyxl", reason="xlsx needs openpyxl, which requirements.lock does not install")
    cat = category("酒水")
    item = product(name="汾酒", cat=cat)
    sheet = tablib.Dataset(headers=["id", "name", "category", "member_discount_enabled"])
    sheet.append([item.pk, item.name, "酒水", False])
    sheet.append(["", "五粮液", "酒水", 0])
    report = import_catalog_file(ProductResource, sheet.export("xlsx"), file_format="xlsx")
    assert report.ok, report.errors
    assert dict(Product.objects.values_list("name", "member_discount_enabled")) == {"汾酒": False, "五粮液": False}


def test_checkout_reads_the_flag_with_the_sku_in_one_query(django_assert_num_queries):
    item = product(member_discount_enabled=False)
    sku = item.skus.get()
    with django_assert_num_queries(1):
        assert selectors.get_sellable_sku(sku.pk).product.member_discount_enabled is False


def test_the_cached_product_page_data_carries_the_flag(client):
    from catalog.views import _product_page

    item = product(member_discount_enabled=False)
    assert client.get(f"/products/{item.pk}/").status_code == 200  # cached now
    assert _product_page(item.pk)["product"]["member_discount_enabled"] is False


def test_admin_list_filters_the_products_that_do_not_take_part(admin_client):
    cat = category("酒水")
    product(name="汾酒", cat=cat)
    product(name="茅台飞天", cat=cat, member_discount_enabled=False)
    body = admin_client.get("/admin/catalog/product/?member_discount_enabled__exact=0").content.decode()
    assert "茅台飞天" in body and "汾酒" not in body
