"""Read queries of the catalogue, for shopper pages and for the apps that sell (cart, checkout).

The listing rule lives here and only here: a product is shown and sold when its status is
"listed", its scheduled listing time (if any) has come, its scheduled delisting time (if any) has
not, its category and every ancestor category are active, and it has at least one enabled SKU
(price_min is set). A SKU is sellable when its product is and the SKU itself is enabled. Draft or
delisted products, and products under an inactive category, are never shown or sold.
"""

from django.conf import settings
from django.core.files.storage import default_storage
from django.db import connection
from django.db.models import Exists, F, OuterRef, Prefetch, Q
from django.utils import timezone
from django.utils.module_loading import import_string

from core.numbers import parse_id

from . import cache as catalog_cache
from .errors import NotSellable
from .models import Category, HotSearchWord, Product, ProductImage, Sku

PAGE_SIZE = 20
MAX_PAGE = 10_000  # a page past it would ask PostgreSQL for an OFFSET it cannot hold


def _listed_q(prefix="", now=None):
    now = now or timezone.now()
    # the category and all its ancestors are the inactive nodes whose MPTT range holds it: one
    # NOT EXISTS per row, no extra query, and a deactivated parent hides its whole subtree
    inactive_ancestor = Category.objects.filter(
        is_active=False,
        tree_id=OuterRef(f"{prefix}category__tree_id"),
        lft__lte=OuterRef(f"{prefix}category__lft"),
        rght__gte=OuterRef(f"{prefix}category__rght"),
    )
    return (
        Q(**{f"{prefix}status": Product.Status.LISTED})
        & (Q(**{f"{prefix}list_at__isnull": True}) | Q(**{f"{prefix}list_at__lte": now}))
        & (Q(**{f"{prefix}delist_at__isnull": True}) | Q(**{f"{prefix}delist_at__gt": now}))
        & ~Exists(inactive_ancestor)
    )


def listed_products(now=None):
    """Products shoppers may see and buy now (listed, within schedule, under active categories
    only, with an enabled SKU).

    Use it for every shopper list, search and detail query; orders use sellable_skus()."""
    return Product.objects.filter(_listed_q(now=now), price_min__isnull=False)


def sellable_skus(now=None):
    """SKUs that may be put in a cart and checked out now: enabled, of a listed product within
    its schedule and under active categories. `select_related("product")` is applied so callers
    can show the name and price with `sku.product.member_discount_enabled` (whether the member
    level's discount applies) without another query."""
    return Sku.objects.filter(_listed_q("product__", now=now), is_enabled=True).select_related("product")


def get_sellable_sku(sku_id, now=None):
    """The SKU with its product, if it can be sold now; otherwise NotSellable (code
    "not_sellable") for a draft/delisted/out-of-schedule product, a product under an inactive
    category, a disabled SKU or an unknown id.
    Orders call it when adding to the cart and again at checkout."""
    try:
        return sellable_skus(now=now).get(pk=parse_id(sku_id))
    except (Sku.DoesNotExist, TypeError, ValueError):
        raise NotSellable() from None


def sellable_sku_product_id(sku_id):
    """The product id of SKU `sku_id` if it can be sold now, else NotSellable: the same rule as
    get_sellable_sku, read through the catalogue cache (no query when warm; any catalogue change
    bumps its version, and a scheduled listing time passing is applied within a minute, as on
    the product page the shopper is looking at). For adding to the cart only: checkout decides
    again on the database's rows (sellable_skus / get_sellable_sku)."""
    try:
        sku_id = parse_id(sku_id)
    except ValueError:
        raise NotSellable() from None
    name = catalog_cache.key("sellable", sku_id)
    product_id = catalog_cache.get(name)
    if product_id is None:
        product_id = sellable_skus().filter(pk=sku_id).values_list("product_id", flat=True).first() or 0
        catalog_cache.set(name, product_id)
    if not product_id:
        raise NotSellable()
    return product_id


def sellable_sku_ids(sku_ids, now=None):
    """Of the given SKU ids, the set that can be sold now: one query for a whole cart, so the cart
    can show the other lines as unavailable."""
    ids = [int(i) for i in sku_ids]
    if not ids:
        return set()
    return set(sellable_skus(now=now).filter(pk__in=ids).values_list("pk", flat=True))


# --- categories -------------------------------------------------------------------------------
def _icon(category):
    """The icon's thumbnail (made on save), else the uploaded file; never a query."""
    name = category.icon_thumb or (category.icon.name if category.icon else "")
    if not name:
        return ""
    try:
        return default_storage.url(name)
    except ValueError:
        return ""


def category_tree():
    """Active categories as nested dicts {id, name, icon, icon_name, sort_order, lft, rght, tree_id,
    level, children}, first level ordered by sort_order,
    cached until the catalogue changes (one query when cold, none when warm)."""
    key = catalog_cache.key("tree")
    tree = catalog_cache.get(key)
    if tree is not None:
        return tree
    nodes = {}
    roots = []
    for category in Category.objects.filter(is_active=True).order_by("tree_id", "lft"):
        node = {
            "id": category.pk,
            "name": category.name,
            "icon": _icon(category),
            "icon_name": category.icon_name,
            "sort_order": category.sort_order,
            "lft": category.lft,
            "rght": category.rght,
            "tree_id": category.tree_id,
            "level": category.level,
            "parent_id": category.parent_id,
            "children": [],
        }
        if category.parent_id is None:
            roots.append(node)
        elif category.parent_id in nodes:
            nodes[category.parent_id]["children"].append(node)
        else:
            continue  # a child of an inactive (or hidden) parent is hidden with it, page included
        nodes[category.pk] = node
    # the home grid's order HQ sets (MPTT orders roots by tree only when they are inserted)
    roots.sort(key=lambda n: (n["sort_order"], n["tree_id"]))
    tree = {"roots": roots, "by_id": {pk: {k: v for k, v in n.items() if k != "children"} for pk, n in nodes.items()}}
    tree["children"] = {pk: [c["id"] for c in n["children"]] for pk, n in nodes.items()}
    catalog_cache.set(key, tree, 3600)
    return tree


def top_categories():
    return category_tree()["roots"]


def get_category(category_id):
    """The cached node of an active category, or None."""
    return category_tree()["by_id"].get(category_id)


# --- product lists ----------------------------------------------------------------------------
SORTS = {
    "default": ("-sort_weight", "-id"),
    "sales": ((F("sales_base") + F("sales_count")).desc(), "-sort_weight", "-id"),
    "price_asc": ("price_min", "-sort_weight", "-id"),
    "price_desc": (F("price_min").desc(), "-sort_weight", "-id"),
    "new": (F("listed_at").desc(nulls_last=True), "-id"),
}
CARD_FIELDS = (
    "id", "name", "subtitle", "price_min", "price_max", "sales_base", "sales_count", "tags",
    "cover__id", "cover__image", "cover__width", "cover__height", "cover__thumbnails", "cover__alt",
)


def product_cards(queryset, sort="default"):
    """Card data for a list: the cover comes by join (no query per product), nothing else."""
    ordering = SORTS.get(sort, SORTS["default"])
    return queryset.select_related("cover").only(*CARD_FIELDS).order_by(*ordering)


def products_in_category(node, sort="default", now=None):
    """Listed products of a category and all its descendants (one range query on the tree)."""
    products = listed_products(now).filter(
        category__tree_id=node["tree_id"], category__lft__gte=node["lft"], category__rght__lte=node["rght"]
    )
    return product_cards(products, sort)


def search_products(query, sort="default", now=None):
    """Listed products whose name, subtitle or tags contain every word of `query`.

    On PostgreSQL the contains match is backed by trigram GIN indexes (migration 0002) and also
    accepts near matches of the name (pg_trgm word similarity, for typos in Latin words); on
    SQLite a plain case-insensitive contains. The query is always a bound parameter."""
    words = [w for w in (query or "").split() if w][:5]
    products = listed_products(now)
    if not words:
        return product_cards(products.none(), sort)
    condition = Q()
    for word in words[:5]:
        word = word[:50]
        match = Q(name__icontains=word) | Q(subtitle__icontains=word) | Q(tags__icontains=word)
        if connection.vendor == "postgresql" and len(word) >= 3:
            match |= Q(name__trigram_word_similar=word)
        condition &= match
    return product_cards(products.filter(condition), sort)


def page_of(queryset, page):
    """One page of cards and whether there is another, without a COUNT query. `page` is a number
    the view read with core.numbers (1 to MAX_PAGE: a larger one would overflow the SQL OFFSET)."""
    page = min(max(1, page), MAX_PAGE)
    start = (page - 1) * PAGE_SIZE
    rows = list(queryset[start : start + PAGE_SIZE + 1])
    return rows[:PAGE_SIZE], len(rows) > PAGE_SIZE, page


def recommended_products(limit=10, now=None):
    """The home page's picks: HQ's featured list (FeaturedProduct) in its order, skipping products
    not listed now; when that leaves nothing (HQ featured nothing), listed products by sort weight.

    One query either way: featured products sort first, so the first row tells which list it is."""
    rows = list(
        product_cards(listed_products(now), "default")
        .annotate(featured_order=F("featured__sort_order"), featured_pk=F("featured__id"))
        .order_by(F("featured_order").asc(nulls_last=True), F("featured_pk").asc(nulls_last=True), "-sort_weight", "-id")
        [:limit]
    )
    if rows and rows[0].featured_pk is not None:
        return [row for row in rows if row.featured_pk is not None]
    return rows


def hot_words():
    """HQ's active hot search words, in order; cached under the "search" area (no query when warm)."""
    name = catalog_cache.area_key("search", "hot-words")
    words = catalog_cache.get(name)
    if words is None:
        words = list(HotSearchWord.objects.filter(is_active=True).order_by("sort_order", "id").values_list("word", flat=True)[:20])
        catalog_cache.set(name, words)
    return words


# the home page keeps this many candidates cached and shows the first `limit` of them in stock
RECOMMENDED_CANDIDATES = 30


def featured(candidates, limit=10):
    """Of the cached home-page candidates, the first `limit` that some store can sell now (one
    query, read on every request, so a product that sells out leaves the home page at once while
    the candidate list stays cached under the catalogue version)."""
    in_stock = products_in_stock(p.id for p in candidates)
    return [p for p in candidates if p.id in in_stock][:limit]


# --- product detail ---------------------------------------------------------------------------
def get_listed_product(product_id, now=None):
    """A listed product with everything its page shows, in a fixed number of queries (5):
    product+category+cover, images, option types, option values, enabled SKUs.
    Raises Product.DoesNotExist for a draft, delisted or unknown product, or one under an
    inactive category."""
    from .models import OptionType, OptionValue

    return (
        listed_products(now)
        .select_related("category", "cover")
        .prefetch_related(
            Prefetch("images", queryset=ProductImage.objects.order_by("sort_order", "id")),
            Prefetch(
                "option_types",
                queryset=OptionType.objects.order_by("sort_order", "id").prefetch_related(
                    Prefetch("values", queryset=OptionValue.objects.order_by("sort_order", "id"))
                ),
            ),
            Prefetch("skus", queryset=Sku.objects.filter(is_enabled=True).order_by("sort_order", "id"), to_attr="enabled_skus"),
        )
        .get(pk=product_id)
    )


def is_within_listing(status, list_at, delist_at, now=None):
    """The listing rule for data already loaded (e.g. a cached product page). The category part of
    the rule needs no re-check here: saving a category bumps the catalogue version, so a page
    cached while its category was active is never read after it is deactivated."""
    now = now or timezone.now()
    return (
        status == Product.Status.LISTED
        and (list_at is None or list_at <= now)
        and (delist_at is None or delist_at > now)
    )


def sku_stock_for(request, product, skus):
    """Per-SKU stock states from the provider named in settings.CATALOG_STOCK_PROVIDER
    (the stores app), or {} when none is configured: pages then show "有货" as a neutral state.

    The provider is called as provider(request, product, skus) -> {sku_id: {"available": int,
    "state": "in_stock"|"low"|"out"}}; `product` and each of `skus` have at least `pk`/`id` (the
    product page passes light objects, as its data is cached)."""
    provider = getattr(settings, "CATALOG_STOCK_PROVIDER", None)
    if not provider:
        return {}
    return import_string(provider)(request, product, skus) or {}


def _hook(name):
    path = getattr(settings, name, None)
    return import_string(path) if path else None


def products_in_stock(product_ids):
    """The subset of `product_ids` that some store can sell now, from settings.CATALOG_IN_STOCK_PROVIDER
    (the stores app; one query); without a provider every product counts as in stock."""
    provider = _hook("CATALOG_IN_STOCK_PROVIDER")
    ids = list(product_ids)
    if provider is None:
        return set(ids)
    return set(provider(ids))


def store_panel_for(request, product, sku_ids, next_url):
    """The product page's store panel from settings.CATALOG_STORE_PANEL_PROVIDER (the stores app):
    {"store": chosen store or None (with .name, .status), "store_url", "list_url", "next",
    "nearby": [stores with .name, .available, .distance_km, .choose_url]}; None without a provider."""
    provider = _hook("CATALOG_STORE_PANEL_PROVIDER")
    return provider(request, product, sku_ids, next_url) if provider is not None else None
