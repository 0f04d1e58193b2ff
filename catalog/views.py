"""Shopper pages of the catalogue: home, categories, product lists, search, product detail.

Views are thin: they parse the query string, call a selector, render. The list grid is cached
as rendered HTML per (category or search, sort, page, language) under the catalogue version, so
any visible change shows at once (catalog.cache); sales figures ("已售N", the sales sort) are the
one exception and catch up within catalog.cache.SALES_STALENESS seconds.
"""

import hashlib
from types import SimpleNamespace
from urllib.parse import urlencode

from django.http import Http404
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.safestring import mark_safe
from django.utils.translation import get_language, gettext
from django.views.decorators.http import require_POST

from core.numbers import id_or_none
from core.numbers import page_number as read_page

from . import cache as catalog_cache
from . import pagecache, selectors
from .models import Product
from .templatetags.catalog_tags import product_img, sold_out_stock, stock_of


@pagecache.cached_page()
def home(request):
    """The shop's home page (首页): search bar, first-level categories, recommended products.

    Hook for the stores app: when the context has `home_store_partial` (set by a context
    processor of stores), home.html includes that template as the chosen-store banner."""
    # HQ's featured list is home-page content: its own cache area (catalog.cache), bumped by its
    # edits; sold-out products are left off per request, so a stock change never touches the cache
    key = catalog_cache.area_key("home", "home-candidates", get_language())
    candidates = catalog_cache.get(key)
    if candidates is None:
        candidates = selectors.recommended_products(limit=selectors.RECOMMENDED_CANDIDATES)
        catalog_cache.set(key, candidates, catalog_cache.FRAGMENT_TIMEOUT)
    # kept whole for visitors (catalog.pagecache): rebuilt when HQ's content, a store, or the stock
    # of a candidate (sold out or back) changes; read before the stock is
    pagecache.depends_area("home")
    pagecache.depends(pagecache.STORES_DEP, *(pagecache.stock_dep(p.id) for p in candidates))
    recommended = selectors.featured(candidates, limit=10)
    return render(
        request,
        "shop/home.html",
        {"active_tab": "home", "top_categories": selectors.top_categories()[:10], "recommended": recommended},
    )


def categories(request):
    """分类: first level as a side rail, the chosen one's children as a grid."""
    roots = selectors.top_categories()
    current = None
    wanted = id_or_none(request.GET.get("c"))
    for root in roots:
        if root["id"] == wanted:
            current = root
    if current is None and roots:
        current = roots[0]
    template = "catalog/partials/_category_body.html" if request.headers.get("HX-Request") else "catalog/categories.html"
    return render(request, template, {"active_tab": "category", "roots": roots, "current": current})


def _list_grid(request, cache_parts, queryset_factory, base_url, sort, extra_query=""):
    """Rendered cards of one page plus the "load more" button, from cache when warm."""
    page = read_page(request.GET.get("page"), maximum=selectors.MAX_PAGE)
    # htmx "load more" appends bare cards; a full page (page 1, or ?page=N without JS) is wrapped
    wrapped = not request.headers.get("HX-Request")
    key = catalog_cache.key("grid", *cache_parts, sort, page, int(wrapped), get_language())
    html = catalog_cache.get(key)
    if html is not None:
        return mark_safe(html)  # our own rendered template, cached as is
    products, has_more, page_number = selectors.page_of(queryset_factory(), page)
    html = render_to_string(
        "catalog/partials/_product_grid.html",
        {
            "products": products,
            "has_more": has_more,
            "next_page": page_number + 1,
            "base_url": base_url,
            "sort": sort,
            "extra_query": extra_query,
            "wrapped": wrapped or page_number == 1,
            "page_number": page_number,
        },
    )
    catalog_cache.set(key, str(html), catalog_cache.FRAGMENT_TIMEOUT)
    return html


def _sort_param(request):
    """The page's sort tab state: price toggles between up and down."""
    sort = request.GET.get("sort", "default")
    if sort == "price":
        sort = "price_asc"
    return sort if sort in selectors.SORTS else "default"


@pagecache.cached_page(params=("sort", "page"))
def category_products(request, pk):
    node = selectors.get_category(pk)
    if node is None:
        raise Http404
    sort = _sort_param(request)
    base_url = request.path
    grid = _list_grid(
        request, ("cat", pk), lambda: selectors.products_in_category(node, sort), base_url, sort
    )
    if request.headers.get("HX-Request") and request.GET.get("page"):
        return render(request, "catalog/partials/_grid_only.html", {"grid": grid})
    key = catalog_cache.key("list-head", pk, sort, get_language())
    header_html = catalog_cache.get(key)
    if header_html is None:
        tree = selectors.category_tree()
        children = [tree["by_id"][i] for i in tree["children"].get(pk, [])]
        header_html = render_to_string(
            "catalog/partials/_list_header.html",
            {"category": node, "children": children, "sort": sort, "base_url": base_url},
        )
        catalog_cache.set(key, str(header_html), catalog_cache.FRAGMENT_TIMEOUT)
    return render(
        request,
        "catalog/product_list.html",
        {
            "active_tab": "category",
            "category": node,
            "header_html": mark_safe(header_html),  # our own template, rendered above
            "grid": grid,
            "title": node["name"],
        },
    )


RECENT_SESSION_KEY = "recent_searches"
RECENT_MAX = 10
QUERY_MAX = 100


def _clean_query(raw):
    """The words searched for: printable characters only (a NUL or a control character is dropped,
    never sent to the database), single-spaced, at most QUERY_MAX characters."""
    text = "".join(ch if ch.isprintable() else " " for ch in str(raw or "")[: QUERY_MAX * 4])
    return " ".join(text.split())[:QUERY_MAX]


def _recent_searches(request):
    recent = request.session.get(RECENT_SESSION_KEY)
    if not isinstance(recent, list):
        return []
    return [q for q in recent if isinstance(q, str) and q][:RECENT_MAX]


def _remember_search(request, query):
    """The shopper's last RECENT_MAX searches, newest first, in the session (a shopper not logged
    in has them too); a repeated search moves to the front."""
    recent = _recent_searches(request)
    updated = [query] + [q for q in recent if q != query][: RECENT_MAX - 1]
    if updated != recent:
        request.session[RECENT_SESSION_KEY] = updated


def search(request):
    """搜索: the results of `q`; without one, HQ's hot words and the shopper's recent searches."""
    query = _clean_query(request.GET.get("q"))
    sort = _sort_param(request)
    extra = urlencode({"q": query})
    grid = ""
    if query:
        grid = _list_grid(
            request, ("q", hashlib.sha1(query.encode()).hexdigest()), lambda: selectors.search_products(query, sort),
            request.path, sort, extra,
        )
    if request.headers.get("HX-Request") and request.GET.get("page"):
        return render(request, "catalog/partials/_grid_only.html", {"grid": grid})
    if query:
        _remember_search(request, query)
    return render(
        request,
        "catalog/search.html",
        {"active_tab": "category", "query": query, "grid": grid, "sort": sort, "base_url": request.path,
         "extra_query": extra, "hot_words": [] if query else selectors.hot_words(),
         "recent_searches": [] if query else _recent_searches(request)},
    )


@require_POST
def clear_recent_searches(request):
    """清除: forget the shopper's recent searches (a second submit finds nothing to forget)."""
    request.session.pop(RECENT_SESSION_KEY, None)
    return redirect("catalog:search")


def _picker_rows(option_types, sku_rows):
    """The option rows of the SKU picker ([{id, name, values: [{id, value}]}]), or [] when the
    product has no options or any enabled SKU does not name exactly one value of each option
    type (data left behind by an edit): the sheet then keeps its plain list of SKUs."""
    rows = [
        {"id": t.pk, "name": t.name, "values": [{"id": v.pk, "value": v.value} for v in t.values.all()]}
        for t in option_types
    ]
    rows = [row for row in rows if row["values"]]
    type_of = {value["id"]: row["id"] for row in rows for value in row["values"]}
    wanted = sorted(row["id"] for row in rows)
    for sku in sku_rows:
        if sorted(type_of.get(value_id, 0) for value_id in sku["values"]) != wanted:
            return []
    return rows


def _product_page(pk):
    """Everything the product page shows that is the same for every shopper, cached as plain data
    and HTML under the catalogue version (any change shows at once, the sales figure within
    catalog.cache.SALES_STALENESS). Raises Product.DoesNotExist
    for a product that is not listed; the cached copy is re-checked against the schedule."""
    key = catalog_cache.key("product-page-v2", pk, get_language())
    page = catalog_cache.get(key)
    if page is None:
        product = selectors.get_listed_product(pk)
        images = list(product.images.all())
        by_id = {image.pk: image for image in images}
        skus = product.enabled_skus
        default_spec = gettext("默认")
        sku_rows = [
            {
                "id": sku.pk,
                "spec": sku.spec_text or default_spec,
                "price": f"{sku.price:.2f}",
                "market": f"{sku.market_price:.2f}" if sku.market_price is not None else "",
                "image_url": by_id[sku.image_id].thumb("card")[0] if sku.image_id in by_id else "",
                # option_key is the sorted ids of the SKU's option values: no query for the m2m
                "values": [int(part) for part in sku.option_key.split("-") if part],
            }
            for sku in skus
        ]
        single = skus[0] if len(skus) == 1 else None
        context = {"product": product, "images": images, "skus": skus, "single_sku": single}
        page = {
            "product": {
                "id": product.pk, "pk": product.pk, "name": product.name, "category_id": product.category_id,
                "price_min": product.price_min, "price_max": product.price_max,
                "status": product.status, "list_at": product.list_at, "delist_at": product.delist_at,
                # what orders' pricing reads for the member-level discount
                "member_discount_enabled": product.member_discount_enabled,
            },
            "main_html": str(render_to_string("catalog/partials/_product_main.html", context)),
            "desc_html": str(render_to_string("catalog/partials/_product_desc.html", context)),
            "sheet_image": str(product_img(product.cover, "card", "", product.name)),
            "option_label": " / ".join(t.name for t in product.option_types.all()),
            "sku_rows": sku_rows,
            "option_types": _picker_rows(product.option_types.all(), sku_rows),
        }
        catalog_cache.set(key, page, catalog_cache.FRAGMENT_TIMEOUT)
    info = page["product"]
    if not selectors.is_within_listing(info["status"], info["list_at"], info["delist_at"]):
        raise Product.DoesNotExist
    return page


def _stock_view(request, pk):
    """What the product page shows per shopper, around its cached data: the selected SKU (?sku=,
    one of this product's enabled SKUs, else the only one, else none), each SKU's stock in the
    chosen store, whether no store can sell the product (已售罄), and the store panel (the chosen
    store's state for the selected SKU, the nearby stores that have it). Stock is read on every
    request, never cached, so a stock change shows at once and bumps nothing.
    Queries: the chosen store, its stock rows, in-stock anywhere, the nearby stores (4 at most)."""
    page = _product_page(pk)
    product_id = page["product"]["id"]
    product_ref = SimpleNamespace(pk=product_id, id=product_id, name=page["product"]["name"])
    sku_refs = [SimpleNamespace(pk=row["id"], id=row["id"]) for row in page["sku_rows"]]
    sold_out = product_id not in selectors.products_in_stock([product_id])
    sku_stock = selectors.sku_stock_for(request, product_ref, sku_refs)
    rows = [
        {**row, "stock": sold_out_stock() if sold_out else stock_of(sku_stock, row["id"])}
        for row in page["sku_rows"]
    ]
    wanted = id_or_none(request.GET.get("sku"))
    selected = next((row for row in rows if row["id"] == wanted), None)
    if selected is None and len(rows) == 1:
        selected = rows[0]
    base = reverse("catalog:product", args=[product_id])
    next_url = f"{base}?sku={selected['id']}" if selected else base
    panel_skus = [] if sold_out else ([selected["id"]] if selected else [row["id"] for row in rows])
    panel = selectors.store_panel_for(request, product_ref, panel_skus, next_url)
    if panel is not None:
        panel = {**panel, "state": _panel_state(rows, selected, sold_out), "url": f"{base}stores/",
                 "sku": selected["id"] if selected else ""}
    return page, rows, selected, sold_out, sku_stock, panel


def _panel_state(rows, selected, sold_out):
    """The chosen store's line of the store panel: the selected SKU's entry; with none selected,
    有货 when the store has any SKU of the product, 缺货 when it has none (or the prompt for a store)."""
    if sold_out:
        return sold_out_stock()
    if selected is not None:
        return selected["stock"]
    states = {row["stock"]["state"] for row in rows}
    for state in ("no_store", "unknown"):
        if state in states:
            return next(row["stock"] for row in rows if row["stock"]["state"] == state)
    if states <= {"out"}:  # also a product left with no enabled SKU by a bulk edit
        return stock_of({0: {"state": "out", "available": 0}}, 0)
    return stock_of({0: {"state": "in_stock"}}, 0)


def _max_quantity(stock):
    """The quantity stepper's upper bound for a SKU: what the chosen store has, else 999."""
    if stock["state"] in ("in_stock", "low") and stock["available"]:
        return min(stock["available"], 999)
    return 999


@pagecache.cached_page(params=("sku",))
def product_detail(request, pk):
    """Product page: carousel, price range, the store panel, SKU picker sheet with each SKU's
    price and stock state.

    The sheet lists every SKU as a radio (works without JavaScript); catalog.js turns it into one
    row per option type from the `sku-picker-data` json_script, disabling values that lead to no
    enabled or only out-of-stock SKUs, checks the matching SKU's radio, sets the quantity
    stepper's max to that SKU's stock in the chosen store (`data-available`) and reloads the store
    panel for it (/products/<pk>/stores/?sku=, product_stores).

    Stock comes from selectors.sku_stock_for() (settings.CATALOG_STOCK_PROVIDER, set by the stores
    app), called per request with light objects (`pk`) for the product and its enabled SKUs;
    without a provider the picker says "有货"; with one but no store chosen it asks for a store.
    A product no store can sell (CATALOG_IN_STOCK_PROVIDER) shows 已售罄 and cannot be bought.
    A draft or delisted product is a 404.

    Kept whole for visitors (catalog.pagecache) per chosen store and location: rebuilt when the
    product's stock changes in any store (the panel lists the others), a store changes, or the
    catalogue does, and no later than the product's delisting time."""
    product_id = id_or_none(pk)
    if product_id is not None:  # read before the stock and the stores are
        pagecache.depends(pagecache.stock_dep(product_id), pagecache.STORES_DEP)
    try:
        page, rows, selected, sold_out, sku_stock, panel = _stock_view(request, pk)
    except Product.DoesNotExist:
        raise Http404 from None
    pagecache.valid_until(page["product"]["delist_at"])
    option_types = page.get("option_types", [])
    # what the picker script needs (static/catalog/catalog.js); never the cost price
    picker_data = {
        "types": [t["id"] for t in option_types],
        "skus": [
            {
                "id": row["id"], "values": row.get("values", []), "spec": row["spec"], "price": row["price"],
                "market": row["market"], "image": row["image_url"], "state": row["stock"]["state"],
                "stock": row["stock"]["label"], "max": _max_quantity(row["stock"]),
            }
            for row in rows
        ],
        "selected": selected["id"] if selected else None,
    } if option_types else None
    for row in rows:
        row["max"] = _max_quantity(row["stock"])
    return render(
        request,
        "catalog/product_detail.html",
        {
            "product": page["product"],
            "main_html": mark_safe(page["main_html"]),  # our own template, rendered above
            "desc_html": mark_safe(page.get("desc_html", "")),
            "sheet_image": mark_safe(page["sheet_image"]),
            "option_label": page["option_label"],
            "option_types": option_types,
            "picker_data": picker_data,
            "sku_rows": rows,
            "single_sku": rows[0] if len(rows) == 1 else None,
            "selected_sku": selected,
            "sold_out": sold_out,
            "store_panel": panel,
            "sku_stock": sku_stock,
            "hide_tabbar": True,
        },
    )


def product_stores(request, pk):
    """The product page's store panel alone, for the SKU in ?sku= (catalog.js asks for it when the
    shopper picks a SKU). A SKU of another product, or no valid id, gives the panel for the whole
    product, as the page without ?sku= does."""
    try:
        _page, _rows, _selected, _sold_out, _stock, panel = _stock_view(request, pk)
    except Product.DoesNotExist:
        raise Http404 from None
    if panel is None:
        raise Http404
    return render(request, "catalog/partials/_store_panel.html", {"store_panel": panel})
