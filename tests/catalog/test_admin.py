from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from catalog.errors import CatalogError
from catalog.models import Product, Sku
from catalog.resources import ProductResource, SkuResource, import_catalog_file
from catalog.services import add_product_image

from .factories import category, product, upload

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff(django_user_model):
    return django_user_model.objects.create_superuser("hq", password="pw-123456", nickname="总部")


@pytest.fixture
def admin_client(client, staff):
    client.force_login(staff)
    return client


def product_form(cat, **overrides):
    data = {
        "name": "纯棉T恤", "subtitle": "", "category": cat.pk, "tags": "", "status": "listed", "sort_weight": "0",
        "default_price": "59.00", "sales_base": "0", "member_discount_enabled": "on",
        "description": "<p>好<script>x()</script></p>",
        "video_url": "", "list_at_0": "", "list_at_1": "", "delist_at_0": "", "delist_at_1": "",
        "images-TOTAL_FORMS": "0", "images-INITIAL_FORMS": "0",
        "option_types-TOTAL_FORMS": "2", "option_types-INITIAL_FORMS": "0",
        "option_types-0-name": "颜色", "option_types-0-values_text": "白色，黑色", "option_types-0-sort_order": "0",
        "option_types-1-name": "尺码", "option_types-1-values_text": "M,L,XL", "option_types-1-sort_order": "1",
        "skus-TOTAL_FORMS": "0", "skus-INITIAL_FORMS": "0",
    }
    data.update(overrides)
    return data


def test_admin_add_product_generates_sku_grid_and_sanitises(admin_client):
    cat = category()
    response = admin_client.post("/admin/catalog/product/add/", product_form(cat))
    assert response.status_code == 302, response.content.decode()[:3000]
    item = Product.objects.get(name="纯棉T恤")
    assert item.skus.count() == 6 and "script" not in item.description
    assert item.price_min == Decimal("59.00")


def test_admin_adding_value_keeps_existing_skus(admin_client):
    cat = category()
    admin_client.post("/admin/catalog/product/add/", product_form(cat))
    item = Product.objects.get()
    before = dict(item.skus.values_list("option_key", "pk"))
    types = list(item.option_types.order_by("sort_order"))
    skus = list(item.skus.order_by("id"))
    data = product_form(cat, **{
        "default_price": "",
        "option_types-TOTAL_FORMS": "2", "option_types-INITIAL_FORMS": "2",
        "option_types-0-id": types[0].pk, "option_types-0-product": item.pk,
        "option_types-0-values_text": "白色,黑色,灰色",
        "option_types-1-id": types[1].pk, "option_types-1-product": item.pk,
        "skus-TOTAL_FORMS": str(len(skus)), "skus-INITIAL_FORMS": str(len(skus)),
    })
    for i, sku in enumerate(skus):
        data.update({
            f"skus-{i}-id": sku.pk, f"skus-{i}-product": item.pk, f"skus-{i}-code": sku.code,
            f"skus-{i}-price": "69.00" if i == 0 else "59.00", f"skus-{i}-market_price": "",
            f"skus-{i}-cost_price": "20.00", f"skus-{i}-barcode": "", f"skus-{i}-weight": "",
            f"skus-{i}-image": "", f"skus-{i}-is_enabled": "on",
        })
    response = admin_client.post(f"/admin/catalog/product/{item.pk}/change/", data)
    assert response.status_code == 302, response.content.decode()[:3000]
    after = dict(item.skus.values_list("option_key", "pk"))
    assert all(after[k] == v for k, v in before.items())
    assert item.skus.count() == 9
    assert Sku.objects.get(pk=skus[0].pk).price == Decimal("69.00")


def test_admin_new_product_without_price_is_refused(admin_client):
    cat = category()
    response = admin_client.post("/admin/catalog/product/add/", product_form(cat, default_price=""))
    assert response.status_code == 200
    assert not Product.objects.exists()


def test_admin_duplicate_option_values_are_refused(admin_client):
    cat = category()
    response = admin_client.post(
        "/admin/catalog/product/add/", product_form(cat, **{"option_types-1-values_text": "M,M"})
    )
    assert response.status_code == 200
    assert not Product.objects.exists() and not Sku.objects.exists()


def test_admin_negative_sku_price_is_refused(admin_client):
    item = product(price="10.00")
    sku = item.skus.get()
    response = admin_client.post("/admin/catalog/sku/", {
        "action": "", "form-TOTAL_FORMS": "1", "form-INITIAL_FORMS": "1", "_save": "1",
        "form-0-id": sku.pk, "form-0-price": "-5", "form-0-is_enabled": "on",
    })
    assert response.status_code == 200
    sku.refresh_from_db()
    assert sku.price == Decimal("10.00")


def test_admin_bulk_list_and_delist(admin_client):
    a, b = product(name="甲"), product(name="乙", status=Product.Status.DRAFT)
    admin_client.post("/admin/catalog/product/", {"action": "delist_selected", "_selected_action": [a.pk]})
    admin_client.post("/admin/catalog/product/", {"action": "list_selected", "_selected_action": [b.pk]})
    assert dict(Product.objects.values_list("name", "status")) == {"甲": "delisted", "乙": "listed"}


@pytest.mark.parametrize("count", [5, 40])
def test_admin_changelist_with_filters_query_budget(admin_client, django_assert_max_num_queries, count):
    cat = category()
    for i in range(count):
        product(name=f"商品{i}", cat=cat, price=str(10 + i))
    with django_assert_max_num_queries(14):
        response = admin_client.get("/admin/catalog/product/?price=0-50&status__exact=listed&q=商品")
    assert response.status_code == 200


def test_image_that_is_not_an_image_is_refused():
    item = product()
    with pytest.raises(CatalogError):
        add_product_image(item, upload("evil.png", b"<?php system($_GET['c']); ?>"))
    assert not item.images.exists()


# --- CSV import -------------------------------------------------------------------------------
PRODUCT_HEADER = "id,name,subtitle,category,tags,sort_weight,sales_base,status,video_url,description\n"


def test_csv_with_bad_row_reports_row_and_saves_nothing():
    top = category("食品饮料")
    category("休闲零食", parent=top)
    csv = (
        PRODUCT_HEADER
        + ",每日坚果,好吃,食品饮料/休闲零食,零食,1,0,listed,,\n"
        + ",坏商品,,不存在的分类,,abc,0,listed,,\n"
        + ",猪肉脯,,休闲零食,,2,0,draft,,\n"
    )
    report = import_catalog_file(ProductResource, csv)
    assert not report.ok
    assert {row for row, _message in report.errors} == {2}
    text = " ".join(message for _row, message in report.errors)
    assert "不存在的分类" in text and "abc" in text
    assert not Product.objects.exists()


def test_csv_import_products_then_skus():
    category("酒水")
    report = import_catalog_file(
        ProductResource, PRODUCT_HEADER + ",青岛啤酒,,酒水,啤酒,1,0,listed,,<p>好<script>x</script></p>\n"
    )
    assert report.ok and report.new == 1
    item = Product.objects.get()
    assert "script" not in item.description
    skus = (
        "code,product,spec,price,market_price,cost_price,barcode,weight,is_enabled\n"
        f"QD-1,{item.pk},规格:500ml×12听,59.00,69.00,40.00,690001,6.5,1\n"
        f"QD-2,{item.pk},规格:500ml×24听,109.00,,,,,1\n"
    )
    report = import_catalog_file(SkuResource, skus)
    assert report.ok, report.errors
    item.refresh_from_db()
    assert (item.price_min, item.price_max) == (Decimal("59.00"), Decimal("109.00"))
    assert set(item.skus.values_list("spec_text", flat=True)) == {"500ml×12听", "500ml×24听"}
    exported = SkuResource().export().csv
    assert "规格:500ml×24听" in exported and "QD-1" in exported


def test_csv_sku_duplicate_combination_and_bad_price_save_nothing():
    item = product(options={"颜色": ["红"]}, price="10.00")
    before = item.skus.count()
    skus = (
        "code,product,spec,price,market_price,cost_price,barcode,weight,is_enabled\n"
        f"N-1,{item.pk},颜色:蓝,10,,,,,1\n"
        f"N-2,{item.pk},颜色:蓝,11,,,,,1\n"
        f"N-3,{item.pk},颜色:绿,-1,,,,,1\n"
        f"N-4,{item.pk},颜色:黑,abc,,,,,1\n"
    )
    report = import_catalog_file(SkuResource, skus)
    assert {row for row, _m in report.errors} == {2, 3, 4}
    assert item.skus.count() == before
    assert not item.option_types.get().values.filter(value="蓝").exists()


def test_admin_import_page_shows_row_errors_and_saves_nothing(admin_client):
    category("酒水")
    csv = PRODUCT_HEADER + ",好商品,,酒水,,1,0,listed,,\n,坏商品,,酒水,,1,0,bogus,,\n"
    response = admin_client.post("/admin/catalog/product/import/", {
        "resource": "0", "format": "0",
        "import_file": SimpleUploadedFile("p.csv", csv.encode(), content_type="text/csv"),
    })
    assert response.status_code == 200
    assert "bogus" in response.content.decode()
    assert not Product.objects.exists()


def test_admin_pages_need_staff(client):
    assert client.get("/admin/catalog/sku/export/").status_code == 302
    assert client.get("/admin/catalog/product/").status_code == 302


def _staff_with(*codenames):
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Permission

    user = get_user_model().objects.create_user(f"staff-{len(codenames)}", password="x", is_staff=True)
    user.user_permissions.add(*Permission.objects.filter(codename__in=codenames))
    return user


def test_staff_without_model_permissions_cannot_import_or_export(client):
    client.force_login(_staff_with())
    assert client.get("/admin/catalog/product/import/").status_code == 403
    assert client.get("/admin/catalog/sku/export/").status_code == 403
    assert client.get("/admin/members/member/export/").status_code == 403


def test_export_needs_view_and_import_needs_change_permission(client):
    client.force_login(_staff_with("view_sku", "view_product"))
    assert client.get("/admin/catalog/sku/export/").status_code == 200
    assert client.get("/admin/catalog/product/import/").status_code == 403


def test_bulk_list_action_needs_change_permission(client):
    draft = product("草稿商品", status=Product.Status.DRAFT)
    client.force_login(_staff_with("view_product"))
    client.post("/admin/catalog/product/", {"action": "list_selected", "_selected_action": [draft.pk]})
    draft.refresh_from_db()
    assert draft.status == Product.Status.DRAFT


def test_import_command_reports_row_errors_and_saves_nothing(tmp_path):
    from django.core.management import CommandError, call_command

    category("酒水")
    path = tmp_path / "p.csv"
    path.write_text(PRODUCT_HEADER + ",好商品,,酒水,,1,0,listed,,\n,坏商品,,酒水,,1,-1,listed,,\n", encoding="utf-8")
    with pytest.raises(CommandError, match="nothing was imported"):
        call_command("import_catalog", str(path), kind="products")
    assert not Product.objects.exists()
    path.write_text(PRODUCT_HEADER + ",好商品,,酒水,,1,0,listed,,\n", encoding="utf-8")
    call_command("import_catalog", str(path), kind="products")
    assert Product.objects.count() == 1


@pytest.mark.parametrize("count", [3, 30])
def test_category_admin_query_budget_and_subtree_move(admin_client, django_assert_max_num_queries, count):
    from catalog.models import Category

    food = category("食品")
    drinks = category("饮料", parent=food)
    tea = category("茶饮", parent=drinks)
    for i in range(count):
        category(f"分类{i}", parent=food)
    with django_assert_max_num_queries(12):
        assert admin_client.get("/admin/catalog/category/").status_code == 200
    # moving a subtree keeps it whole
    wine = category("酒水")
    response = admin_client.post(f"/admin/catalog/category/{drinks.pk}/change/", {
        "name": "饮料", "parent": wine.pk, "sort_order": "0", "is_active": "on",
    })
    assert response.status_code == 302, response.content.decode()[:2000]
    tea = Category.objects.get(pk=tea.pk)
    assert [c.name for c in tea.get_ancestors()] == ["酒水", "饮料"]
    assert list(Category.objects.get(pk=wine.pk).get_descendants().values_list("name", flat=True)) == ["饮料", "茶饮"]


def _change_form_with_image(item, file):
    sku = item.skus.get()
    return product_form(item.category, **{
        "name": item.name, "default_price": "", "status": "listed",
        "option_types-TOTAL_FORMS": "0", "option_types-INITIAL_FORMS": "0",
        "images-TOTAL_FORMS": "1", "images-INITIAL_FORMS": "0",
        "images-0-image": file, "images-0-alt": "", "images-0-sort_order": "0",
        "skus-TOTAL_FORMS": "1", "skus-INITIAL_FORMS": "1",
        "skus-0-id": sku.pk, "skus-0-product": item.pk, "skus-0-code": sku.code, "skus-0-price": "10.00",
        "skus-0-market_price": "", "skus-0-cost_price": "", "skus-0-barcode": "", "skus-0-weight": "",
        "skus-0-image": "", "skus-0-is_enabled": "on",
    })


def test_admin_image_upload_sets_the_cover_and_the_worker_makes_thumbnails_after_commit(
    admin_client, django_capture_on_commit_callbacks
):
    from .factories import png_bytes

    item = product(price="10.00")
    data = _change_form_with_image(item, upload("a.png", png_bytes(size=(900, 700))))
    with django_capture_on_commit_callbacks() as after_commit:
        response = admin_client.post(f"/admin/catalog/product/{item.pk}/change/", data)
    assert response.status_code == 302, response.content.decode()[:3000]
    item.refresh_from_db()
    image = item.images.get()
    assert item.cover_id == image.pk
    assert (image.width, image.height) == (900, 700)
    assert not image.thumbnails  # the request did not resize
    for callback in after_commit:
        callback()  # the task runs eagerly in tests
    image.refresh_from_db()
    assert image.thumbnails["card"]["width"] == 360


def test_admin_upload_of_a_non_image_is_refused_and_nothing_saved(admin_client):
    item = product(price="10.00")
    data = _change_form_with_image(item, upload("a.png", b"MZ\x90\x00 this is an exe"))
    data["subtitle"] = "不应保存"
    response = admin_client.post(f"/admin/catalog/product/{item.pk}/change/", data)
    assert response.status_code == 200
    item.refresh_from_db()
    assert not item.images.exists() and item.subtitle == ""


def test_admin_product_without_options_gets_exactly_one_sku(admin_client):
    cat = category()
    data = product_form(cat, **{"name": "有机西兰花", "default_price": "12.90", "option_types-TOTAL_FORMS": "0"})
    assert admin_client.post("/admin/catalog/product/add/", data).status_code == 302
    item = Product.objects.get(name="有机西兰花")
    assert item.skus.count() == 1 and item.price_min == Decimal("12.90")
    assert item.listed_at is not None


def test_admin_product_editor_sets_the_unit_and_blank_means_piece(admin_client):
    cat = category()
    data = product_form(cat, **{"name": "礼盒茶", "option_types-TOTAL_FORMS": "0", "unit": " 盒 "})
    assert admin_client.post("/admin/catalog/product/add/", data).status_code == 302
    assert Product.objects.get(name="礼盒茶").unit == "盒"
    data = product_form(cat, **{"name": "散茶", "option_types-TOTAL_FORMS": "0"})  # no unit given
    assert admin_client.post("/admin/catalog/product/add/", data).status_code == 302
    assert Product.objects.get(name="散茶").unit == "件"
    page = admin_client.get(f"/admin/catalog/product/{Product.objects.get(name='礼盒茶').pk}/change/").content.decode()
    assert 'name="unit"' in page and 'value="盒"' in page
    too_long = product_form(cat, **{"name": "超长", "option_types-TOTAL_FORMS": "0", "unit": "单" * 9})
    assert admin_client.post("/admin/catalog/product/add/", too_long).status_code == 200
    assert not Product.objects.filter(name="超长").exists()
