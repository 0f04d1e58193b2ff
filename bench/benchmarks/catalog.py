"""Catalogue pages: `catalog_list` (a category's first page of 20 cards) and `product_detail`.

Setups load the demo catalogue (catalog.demo.seed, idempotent) on the bench database, so the
pages show real data: covers with thumbnails, price ranges, options and SKUs.
"""

from bench.harness import HttpBenchmark


def _demo_catalogue():
    from catalog.demo import seed

    seed(lambda line: None)


def _category_list():
    """The category with the most listed products (a first page of 20 cards plus "load more")."""
    from django.db.models import Count

    from catalog.models import Category
    from catalog.selectors import listed_products

    _demo_catalogue()
    top = (
        Category.objects.filter(parent=None)
        .annotate(n=Count("children__products"))
        .order_by("-n", "tree_id")
        .first()
    )
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
