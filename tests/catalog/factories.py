"""Small factories for catalogue tests."""

import io
from decimal import Decimal

from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from catalog import services
from catalog.models import Category, Product


def category(name="食品", parent=None, **kw):
    return Category.objects.create(name=name, parent=parent, **kw)


def png_bytes(size=(40, 40), colour=(200, 30, 30), fmt="PNG"):
    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, fmt)
    return buffer.getvalue()


def upload(name="p.png", data=None, content_type="image/png"):
    return SimpleUploadedFile(name, data if data is not None else png_bytes(), content_type=content_type)


def product(name="每日坚果", cat=None, price="19.90", status=Product.Status.LISTED, options=None, image=False, **kw):
    cat = cat or category()
    item = services.create_product(
        name=name, category=cat, status=status, price=None if options else Decimal(price), **kw
    )
    if options:
        services.set_options(item, options)
        services.generate_sku_grid(item, price=Decimal(price))
    if image:
        services.add_product_image(item, upload())
    item.refresh_from_db()
    return item
