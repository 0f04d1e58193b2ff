"""The product editor's round trips: open a product that has images, options and SKUs, save it
unchanged, then change a price and save again (HQ could not save any product with a picture)."""

import re
from decimal import Decimal

import pytest

from catalog.models import Product, ProductImage
from catalog.services import add_product_image
from tests.forms import form_data

from .factories import png_bytes, product, upload

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client, django_user_model):
    client.force_login(django_user_model.objects.create_superuser("hq", password="pw-123456"))
    return client


@pytest.fixture
def shirt():
    item = product("纯棉T恤", options={"颜色": ["白色", "黑色"], "尺码": ["M", "L"]}, price="59.00")
    add_product_image(item, upload("front.png", png_bytes(size=(300, 300))))
    add_product_image(item, upload("back.jpg", png_bytes(size=(200, 300), fmt="JPEG"), content_type="image/jpeg"))
    item.refresh_from_db()
    return item


def _open(admin_client, item):
    response = admin_client.get(f"/admin/catalog/product/{item.pk}/change/")
    assert response.status_code == 200
    return form_data(response.content, "product_form")


def _errors(response):
    import re

    return re.findall(r'class="errorlist[^"]*"[^>]*>(.*?)</ul>', response.content.decode(), re.S)


def test_saving_a_product_with_images_unchanged_keeps_everything(admin_client, shirt):
    before_images = list(ProductImage.objects.filter(product=shirt).values_list("pk", "image", "width", "height"))
    before_skus = list(shirt.skus.values_list("pk", "code", "price", "is_enabled"))
    data = _open(admin_client, shirt)
    assert data["images-INITIAL_FORMS"] == ["2"]

    response = admin_client.post(f"/admin/catalog/product/{shirt.pk}/change/", data)

    assert response.status_code == 302, _errors(response)
    assert list(ProductImage.objects.filter(product=shirt).values_list("pk", "image", "width", "height")) == before_images
    assert list(shirt.skus.values_list("pk", "code", "price", "is_enabled")) == before_skus


def test_changing_a_price_of_a_product_with_images_saves_it_twice_in_a_row(admin_client, shirt):
    first_sku = shirt.skus.order_by("sort_order", "id").first()
    for price in ("65.00", "66.50"):
        data = _open(admin_client, shirt)
        index = next(k.split("-")[1] for k, v in data.items() if k.startswith("skus-") and k.endswith("-id")
                     and v == [str(first_sku.pk)])
        data[f"skus-{index}-price"] = [price]
        data["subtitle"] = [f"新款 {price}"]

        response = admin_client.post(f"/admin/catalog/product/{shirt.pk}/change/", data)

        assert response.status_code == 302, _errors(response)
        first_sku.refresh_from_db()
        assert first_sku.price == Decimal(price)
        item = Product.objects.get(pk=shirt.pk)
        assert item.subtitle == f"新款 {price}" and item.price_max == Decimal(price)
        assert item.images.count() == 2


def test_a_new_upload_beside_existing_images_is_still_checked(admin_client, shirt):
    data = _open(admin_client, shirt)
    total = int(data["images-TOTAL_FORMS"][0])
    extra = next(i for i in range(total) if not data.get(f"images-{i}-id", [""])[0])
    data[f"images-{extra}-image"] = upload("evil.png", b"MZ\x90\x00 not an image")
    data["subtitle"] = ["不应保存"]

    response = admin_client.post(f"/admin/catalog/product/{shirt.pk}/change/", data)

    assert response.status_code == 200
    assert any("图片" in error for error in _errors(response)), _errors(response)
    assert Product.objects.get(pk=shirt.pk).subtitle == "" and shirt.images.count() == 2


def test_the_editor_loads_its_scripts_and_keeps_a_plain_textarea(admin_client, shirt):
    body = admin_client.get(f"/admin/catalog/product/{shirt.pk}/change/").content.decode()
    for asset in ("vendor/quill/quill.js", "vendor/quill/quill.snow.css", "catalog/rich_text.js",
                  "catalog/sku_fill.js", "catalog/admin.css"):
        assert f"/static/{asset}" in body, asset
    assert "cdn" not in body.lower()
    # without JavaScript: a textarea of HTML, and the fill row stays hidden (it needs the script)
    assert re.search(r'<textarea name="description"[^>]*data-rich-text="\{[^"]*加粗', body)
    assert re.search(r'<div class="module catalog-sku-fill" hidden data-sku-fill="skus"', body)
    assert "批量填充" in body and body.index("批量填充") < body.index('id="skus-group"')
    fill_row = body[body.index('data-sku-fill="skus"'):body.index('id="skus-group"')]
    assert " name=" not in fill_row  # its inputs are never posted


def test_html_typed_into_the_description_is_sanitised_on_save(admin_client, shirt):
    data = _open(admin_client, shirt)
    data["description"] = [
        '<h2>面料</h2><p>纯棉<strong>透气</strong><img src="https://img.example.com/a.jpg" onerror="alert(1)">'
        '<script>alert(2)</script><a href="javascript:alert(3)">链接</a></p>'
    ]
    response = admin_client.post(f"/admin/catalog/product/{shirt.pk}/change/", data)
    assert response.status_code == 302, _errors(response)
    description = Product.objects.get(pk=shirt.pk).description
    assert "<h2>面料</h2>" in description and "<strong>透气</strong>" in description
    assert '<img src="https://img.example.com/a.jpg">' in description
    assert "alert" not in description and "onerror" not in description and "<script" not in description


def _media_files(settings):
    from pathlib import Path

    root = Path(settings.MEDIA_ROOT)
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file() and "/products/" in str(p))


def test_a_new_image_under_a_wrong_name_is_stored_as_its_real_format_and_unchanged_saves_leave_it(
    admin_client, shirt, settings, monkeypatch
):
    import io

    from PIL import Image

    from core import images

    exif = Image.Exif()
    exif[0x0112] = 6
    exif[0x8825] = {1: "N", 2: (31.0, 13.0, 45.0)}
    buffer = io.BytesIO()
    Image.new("RGB", (400, 200), (200, 30, 30)).save(buffer, "JPEG", exif=exif)
    data = _open(admin_client, shirt)
    extra = next(i for i in range(int(data["images-TOTAL_FORMS"][0])) if not data.get(f"images-{i}-id", [""])[0])
    data[f"images-{extra}-image"] = upload("detail.pdf", buffer.getvalue(), content_type="application/pdf")

    response = admin_client.post(f"/admin/catalog/product/{shirt.pk}/change/", data)

    assert response.status_code == 302, _errors(response)
    added = shirt.images.order_by("-id").first()
    assert added.image.name.endswith("/detail.jpg") and (added.width, added.height) == (200, 400)
    with Image.open(added.image.path) as stored:
        assert stored.format == "JPEG" and not stored.getexif()
    files = _media_files(settings)
    rows = list(ProductImage.objects.filter(product=shirt).values_list("pk", "image", "width", "height"))

    # opened and saved unchanged, then with a changed price: no image is re-read or re-written
    monkeypatch.setattr(images, "clean_image", lambda *a, **k: pytest.fail("an unchanged image was re-encoded"))
    for subtitle in ("", "新款"):
        data = _open(admin_client, shirt)
        data["subtitle"] = [subtitle]
        response = admin_client.post(f"/admin/catalog/product/{shirt.pk}/change/", data)
        assert response.status_code == 302, _errors(response)
        assert list(ProductImage.objects.filter(product=shirt).values_list("pk", "image", "width", "height")) == rows
        assert _media_files(settings) == files


def test_a_decompression_bomb_is_refused_in_the_product_editor(admin_client, shirt, settings):
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.new("1", (10_000, 10_000)).save(buffer, "PNG")
    files = _media_files(settings)
    data = _open(admin_client, shirt)
    extra = next(i for i in range(int(data["images-TOTAL_FORMS"][0])) if not data.get(f"images-{i}-id", [""])[0])
    data[f"images-{extra}-image"] = upload("bomb.png", buffer.getvalue())

    response = admin_client.post(f"/admin/catalog/product/{shirt.pk}/change/", data)

    assert response.status_code == 200
    assert any("图片像素过多" in error for error in _errors(response)), _errors(response)
    assert shirt.images.count() == 2 and _media_files(settings) == files
