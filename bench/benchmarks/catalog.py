"""Catalogue pages: `catalog_list` (a category's first page of 20 cards) and `product_detail`.

Setups load the demo catalogue (catalog.demo.seed, idempotent) on the bench database, so the
pages show real data: covers with thumbnails, price ranges, options and SKUs.
"""

from bench.harness import HttpBenchmark


def _demo_catalogue():
    from catalog.demo import seed

    seed(lambda line: None)


LIST_AT_LEAST = 24  # a full first page of 20 cards and a "load more"


def _category_list():
    """The category with the most listed products, topped up to LIST_AT_LEAST listed products with
    bench products (with a cover, so each card carries its picture): a first page of 20 cards plus
    "load more"."""
    from decimal import Decimal

    from django.core.files.base import ContentFile
    from django.db.models import Count

    from catalog.demo_art import kind_for, product_picture
    from catalog.models import Category, Product
    from catalog.selectors import listed_products
    from catalog.services import add_product_image, create_product

    _demo_catalogue()
    top = (
        Category.objects.filter(parent=None)
        .annotate(n=Count("children__products"))
        .order_by("-n", "tree_id")
        .first()
    )
    leaf = top.get_children().order_by("sort_order", "id").first() or top
    shown = listed_products().filter(category__tree_id=top.tree_id).count()
    for index in range(LIST_AT_LEAST - shown):
        name = f"压测商品 {index + 1:02d}"
        if Product.objects.filter(name=name).exists():
            continue
        product = create_product(name=name, category=leaf, subtitle="门店同款", tags="压测",
                                 status=Product.Status.LISTED, price=Decimal("19.90") + index,
                                 sales_base=index * 7)
        add_product_image(product, ContentFile(product_picture(kind_for(leaf.name, top.name), name), name=f"bench-{product.pk}.jpg"),
                          alt=name)
    return {
        "path": f"/categories/{top.pk}/",
        "products_in_category": listed_products().filter(category__tree_id=top.tree_id).count(),
    }


def _product_page():
    """A product with options (12 SKUs) and two images."""
    from django.db.models import Count

    from catalog.selectors import listed_products

    _demo_catalogue()
    product = listed_products().annotate(n=Count("skus")).order_by("-n", "id").first()
    return {"path": f"/products/{product.pk}/", "skus": product.n}


def benchmarks():
    return [
        HttpBenchmark(name="catalog_list", setup=_category_list),
        HttpBenchmark(name="product_detail", setup=_product_page),
    ]
