"""The order queue (订单管理): one store's orders (or every store's, for HQ) under status tabs with
their counts, searched and filtered, a page at a time; the same list as CSV; and the tiny poll
behind the new-order banner.

Speed with 100,000 orders in a store (EXPLAIN ANALYZE on PostgreSQL 15, 511,111 orders, 100,000 in
the store): every tab's count is ONE query, a correlated subquery per status over a VALUES list
(planned once: ~0.15 ms where seven inlined copies took ~0.8 ms warm and ~2 ms cold), each reading
at most COUNT_CAP + 1 entries of the index (store[, fulfilment], status, -created_at), index-only
(~11 ms for eight tabs of 2,001 where counting every order took ~110 ms), and it gives the page
count too, so the paginator does not count again. A tab's page is one more query (its orders to
the LIMIT on the same indexes, joined with store, buyer and lines); paging stops at COUNT_CAP, so
OFFSET stays small. A phone or name search scans the store's orders once (no index on those
columns: ~150 ms at 100,000) and counts every tab in the same pass.

Past the database, the page was Python: the filtered orders are compiled once (by hand when no
text search: plain_base) and shared by the counts and the rows, the rows are read without the
ORM's query machinery (QueueRows), and the rows' HTML and the filters-and-tabs block come from
the cache under keys made of everything they show (never stale, nothing to invalidate). Around
them, the back-office frame (header, menu, scripts) comes from this process's kept copy
(core.templatetags.backoffice_frame) and the store choice from a statement compiled once
(stores.scope.working_stores).
"""

import functools
import hashlib
from datetime import UTC, datetime, time, timedelta

import django
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.db import connection
from django.db.models import Count, Prefetch, Q
from django.http import JsonResponse
from django.shortcuts import render
from django.template.loader import get_template, render_to_string
from django.urls import get_script_prefix, reverse
from django.utils import timezone, translation
from django.utils.http import urlencode
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from core.backoffice import staff_required
from core.csv_export import streaming_csv
from core.numbers import int_or_none
from stores.models import Store
from stores.scope import store_ids_for

from ..backoffice_forms import QueueFilterForm, read_search
from ..models import AfterSale, Order, OrderLine
from .common import MAX_PAGES, PAGE_SIZE, page_of, pick_store, staff_status_label

S = Order.Status
F = Order.Fulfilment
# a tab counts exactly, and pages through, its newest 1,000 orders (MAX_PAGES × PAGE_SIZE); older
# ones are found by date or search
COUNT_CAP = MAX_PAGES * PAGE_SIZE


def _open_after_sale_orders():
    return AfterSale.objects.filter(status__in=AfterSale.OPEN_STATUSES).values("order_id")


@functools.cache
def _open_after_sale_sql(vendor):
    """(sql, params) of _open_after_sale_orders, compiled once per database backend (it takes no
    input)."""
    sql, params = _open_after_sale_orders().order_by().query.sql_with_params()
    return sql, tuple(params)


# the statuses of each status tab: its listing condition and its count (_capped_tab_counts)
TAB_STATUSES = {
    "pending": [S.PENDING_PAYMENT], "to_fulfil": [S.PAID], "pickup": [S.READY_FOR_PICKUP],
    "on_the_way": [S.SHIPPED, S.DELIVERING], "completed": [S.COMPLETED], "closed": [S.CANCELLED, S.CLOSED],
}
# each status in exactly one tab (全部's count is their sum)
assert sorted(s for statuses in TAB_STATUSES.values() for s in statuses) == sorted(S.values)  # noqa: S101


# (key, label, condition); "all" has no condition. The after-sale tab is "an open after-sale",
# whatever the order's status.
TABS = [
    ("all", gettext_lazy("全部"), None),
    ("pending", gettext_lazy("待付款"), Q(status__in=TAB_STATUSES["pending"])),
    ("to_fulfil", gettext_lazy("待发货/待备货"), Q(status__in=TAB_STATUSES["to_fulfil"])),
    ("pickup", gettext_lazy("待自提"), Q(status__in=TAB_STATUSES["pickup"])),
    ("on_the_way", gettext_lazy("配送中/已发货"), Q(status__in=TAB_STATUSES["on_the_way"])),
    ("completed", gettext_lazy("已完成"), Q(status__in=TAB_STATUSES["completed"])),
    ("closed", gettext_lazy("已取消/已关闭"), Q(status__in=TAB_STATUSES["closed"])),
    ("after_sale", gettext_lazy("售后中"), None),
]
TAB_KEYS = [key for key, _label, _cond in TABS]


def tab_condition(key):
    if key == "after_sale":
        return Q(pk__in=_open_after_sale_orders())
    return dict((k, c) for k, _label, c in TABS)[key]


def _day_start(day):
    return timezone.make_aware(datetime.combine(day, time.min))


def filtered_orders(choice, form):
    """(the user's orders at the chosen store(s) with the form's search and filters, not the tab;
    whether the search has no index to follow: a phone or a name)."""
    qs = choice.filter(Order.objects.all())
    if not (form.is_bound and form.is_valid()):
        return qs, False
    data = form.cleaned_data
    kind, value = read_search(data.get("q"))
    conditions = []  # applied in one filter() (each one clones the query)
    if kind == "phone":
        buyers = get_user_model().objects.filter(phone="+86" + value).values("pk")
        conditions.append(Q(user_id__in=buyers) | Q(receiver_phone=value))
    elif kind == "number":
        conditions.append(Q(number=value) if len(value) == 18 else Q(number__startswith=value))
    elif kind == "name":
        # the delivery's receiver, or the buyer by nickname (a pickup order has no receiver)
        buyers = get_user_model().objects.filter(nickname__icontains=value).values("pk")
        conditions.append(Q(receiver_name__icontains=value) | Q(user_id__in=buyers))
    if data.get("date_from"):
        conditions.append(Q(created_at__gte=_day_start(data["date_from"])))
    if data.get("date_to"):
        conditions.append(Q(created_at__lt=_day_start(data["date_to"] + timedelta(days=1))))
    if data.get("fulfilment"):
        conditions.append(Q(fulfilment=data["fulfilment"]))
    if conditions:
        qs = qs.filter(*conditions)
    return qs, kind in ("phone", "name")


def tab_counts(qs, *, scan, base=None):
    """{tab key: how many orders} for every tab, in one query.

    Without a text search each tab's count reads at most COUNT_CAP + 1 rows of its own index range
    (reports.capped_counts): a store with 100,000 orders costs what one with 1,000 does, and a count
    above COUNT_CAP reads "1000+". A phone or name search (`scan`) has no index to follow, so it
    counts every tab in one pass over the matching orders (COUNT … FILTER), exactly."""
    if scan:
        counts = {key: Count("pk", filter=tab_condition(key)) if tab_condition(key) is not None else Count("pk")
                  for key in TAB_KEYS}
        return qs.order_by().aggregate(**counts)
    return _capped_tab_counts(base if base is not None else compiled_base(qs), COUNT_CAP)



def compiled_base(qs):
    """(sql, params) of the filtered orders with what a row shows of them: compiled once a page,
    for the tab counts (which read only id and status: the planner drops the rest) and the page of
    rows."""
    return qs.order_by().values(*ROW_COLUMNS[0][2]).query.sql_with_params()


def plain_base(choice, form):
    """compiled_base(filtered_orders(choice, form)[0]) written without the ORM when every filter is
    a plain comparison (store, dates, delivery method): building and compiling the ORM's query was
    a tenth of the page. None when there is a text search: filtered_orders builds those. Values go
    through their fields (get_db_prep_value), as the ORM's do: SQLite stores datetimes as UTC text."""
    data = form.cleaned_data if form.is_bound and form.is_valid() else {}
    if read_search(data.get("q"))[0]:
        return None
    qn = connection.ops.quote_name
    where, params = [], []

    def compare(name, operator, value):
        field = Order._meta.get_field(name)
        where.append(f"{qn(Order._meta.db_table)}.{qn(field.column)} {operator} %s")
        params.append(field.get_db_prep_value(value, connection))

    if not choice.all:
        compare("store", "=", choice.store.pk)
    if data.get("date_from"):
        compare("created_at", ">=", _day_start(data["date_from"]))
    if data.get("date_to"):
        compare("created_at", "<", _day_start(data["date_to"] + timedelta(days=1)))
    if data.get("fulfilment"):
        compare("fulfilment", "=", data["fulfilment"])
    columns = ", ".join(
        f"{qn(Order._meta.db_table)}.{qn(Order._meta.get_field(name).column)} AS {qn(name)}"
        for name in ROW_COLUMNS[0][2]
    )
    sql = f"SELECT {columns} FROM {qn(Order._meta.db_table)}"
    return (sql + " WHERE " + " AND ".join(where) if where else sql), tuple(params)


def _capped_tab_counts(compiled, cap):
    """{tab: min(count, cap + 1)} in one query (as reports.capped_counts), with the filtered
    queryset compiled ONCE (compiling it once per tab cost more than the counting).

    One correlated subquery counts at most cap + 1 of the filtered orders of ONE status, for each
    row of a VALUES list of the statuses; a second counts those with an open after-sale. PostgreSQL
    plans the subquery once (seven inlined copies, one per tab, took ~2 ms to plan for ~1 ms of
    counting) and runs it per status on its own index range ((store[, fulfilment], status,
    -created_at)), stopping early. A tab of two statuses adds their capped counts: above the cap
    exactly when its count is."""
    base, params = compiled
    open_after_sales, open_params = _open_after_sale_sql(connection.vendor)
    statuses = list(S.values)
    capped = "SELECT COUNT(*) FROM (SELECT 1 AS one FROM ({base}) AS b WHERE {where} LIMIT %s) AS t"
    sql = (
        f"SELECT v.column1, ({capped.format(base=base, where='b.status = v.column1')})"
        f" FROM (VALUES {', '.join(['(%s)'] * len(statuses))}) AS v"
        f" UNION ALL SELECT %s, ({capped.format(base=base, where=f'b.id IN ({open_after_sales})')})"
    )
    values = [*params, cap + 1, *statuses, "after_sale", *params, *open_params, cap + 1]
    with connection.cursor() as cursor:
        cursor.execute(sql, values)
        found = dict(cursor.fetchall())
    counts = {key: min(sum(found[s] for s in statuses), cap + 1) for key, statuses in TAB_STATUSES.items()}
    counts["after_sale"] = found["after_sale"]
    # every status is in exactly one status tab, so their capped counts add up to the whole, and
    # reach cap + 1 exactly when the whole does: 全部 needs no count of its own
    counts["all"] = min(sum(found[s] for s in S.values), cap + 1)
    return counts


def _read(request):
    choice = pick_store(request, request.GET.get("store"))
    form = QueueFilterForm(request.GET or None)
    tab = request.GET.get("tab")
    return choice, form, tab if tab in TAB_KEYS else "all"


def _filter_params(choice, form):
    """The valid filters as query parameters (for tab links, pages and the export)."""
    params = {"store": choice.param}
    if form.is_bound and form.is_valid():
        for name in ("q", "date_from", "date_to", "fulfilment"):
            value = form.cleaned_data.get(name)
            if value:
                params[name] = value.isoformat() if hasattr(value, "isoformat") else value
    return params


def _shown(count):
    return f"{COUNT_CAP}+" if count > COUNT_CAP else str(count)


def _lines_text(lines):
    """The goods of a row from its lines' (product name, quantity), in line order."""
    text = "、".join(f"{name}×{quantity}" for name, quantity in lines[:3])
    if len(lines) > 3:
        text += _(" 等%(n)s种商品") % {"n": len(lines)}  # distinct products (lines), not pieces
    return text


def _in_field_order(model, names):
    """`names` in the order of the model's fields, as Model.from_db takes a subset of them."""
    order = [field.attname for field in model._meta.concrete_fields]
    return tuple(sorted(names, key=order.index))


# what a row of the queue shows, by model: the orders' other fields are deferred
ROW_COLUMNS = (
    (Order, "p", _in_field_order(Order, (
        "id", "number", "status", "fulfilment", "paid_at", "paid_amount", "pay_amount", "refunded_amount",
        "receiver_name", "pickup_slot_start", "created_at", "store_id", "user_id"))),
    (Store, "s", _in_field_order(Store, ("id", "name"))),
    (get_user_model(), "u", _in_field_order(get_user_model(), ("id", "username", "nickname", "phone"))),
    (OrderLine, "l", ("product_name", "quantity")),
)


@functools.cache
def _row_sql(vendor):
    """The SELECT list and joins of a page of rows (one statement: the orders, their store and buyer
    and their lines), and each column's converters (as the ORM applies them: SQLite gives back
    text and floats where PostgreSQL gives datetimes and Decimals)."""
    qn = connection.ops.quote_name
    columns, converters = [], []
    for model, alias, names in ROW_COLUMNS:
        for name in names:
            field = model._meta.get_field(name)
            col = field.get_col(alias)
            columns.append(f"{alias}.{qn(field.column)}")
            found = connection.ops.get_db_converters(col) + field.get_db_converters(connection)
            if found:
                converters.append((len(columns) - 1, found, col))
    joins = (
        f" INNER JOIN {qn(Store._meta.db_table)} s ON s.id = p.{qn('store_id')}"
        f" INNER JOIN {qn(get_user_model()._meta.db_table)} u ON u.id = p.{qn('user_id')}"
        f" LEFT JOIN {qn(OrderLine._meta.db_table)} l ON l.{qn('order_id')} = p.id"
    )
    return ", ".join(columns), joins, converters


def _tab_where(key):
    """(SQL condition on the filtered orders `b`, params) of a tab; ("", []) for 全部."""
    if key == "all":
        return "", []
    if key == "after_sale":
        sql, params = _open_after_sale_sql(connection.vendor)
        return f" WHERE b.id IN ({sql})", list(params)
    statuses = TAB_STATUSES[key]
    return f" WHERE b.status IN ({', '.join(['%s'] * len(statuses))})", list(statuses)


class QueueRows:
    """A tab's rows, newest first, for the Paginator: slicing it reads one page in ONE query (the
    page's orders by the index of the filter and the order, joined with their store, buyer and
    lines) and gives Order instances whose store and user are loaded, with `lines_shown` (product
    name, quantity) in line order. Nothing more is compiled through the ORM: the filtered orders
    come compiled (compiled_base); building, compiling and reading the ORM's query and its
    prefetch of the lines cost more than the database's work (~4 ms a page)."""

    def __init__(self, compiled, tab):
        self.compiled = compiled
        self.tab = tab

    def __getitem__(self, window):
        offset, stop = window.start or 0, window.stop
        base, params = self.compiled
        where, where_params = _tab_where(self.tab)
        columns, joins, converters = _row_sql(connection.vendor)
        sql = (
            f"SELECT {columns} FROM (SELECT * FROM ({base}) AS b{where}"
            " ORDER BY b.created_at DESC, b.id DESC LIMIT %s OFFSET %s) AS p"
            f"{joins} ORDER BY p.created_at DESC, p.id DESC, l.id ASC"
        )
        with connection.cursor() as cursor:
            cursor.execute(sql, [*params, *where_params, stop - offset, offset])
            fetched = cursor.fetchall()
        return _rows_of(fetched, converters)


def _rows_of(fetched, converters):
    orders = {}
    order_names, store_names, user_names, _line = (names for _model, _alias, names in ROW_COLUMNS)
    User = get_user_model()
    db = connection.alias
    id_at, store_id_at, user_id_at = order_names.index("id"), store_names.index("id"), user_names.index("id")
    stores, users = {}, {}
    for raw in fetched:
        values = list(raw)
        for index, found, col in converters:
            for convert in found:
                values[index] = convert(values[index], col, connection)
        pk = values[id_at]
        order = orders.get(pk)
        if order is None:
            a, b = len(order_names), len(order_names) + len(store_names)
            order = orders[pk] = Order.from_db(db, order_names, values[:a])
            store_values, user_values = values[a:b], values[b:b + len(user_names)]
            # one instance per store and per buyer on the page (read only, like a prefetch's)
            store = stores.get(store_values[store_id_at])
            if store is None:
                store = stores[store_values[store_id_at]] = Store.from_db(db, store_names, store_values)
            user = users.get(user_values[user_id_at])
            if user is None:
                user = users[user_values[user_id_at]] = User.from_db(db, user_names, user_values)
            order.store, order.user = store, user
            order.lines_shown = []
        if values[-2] is not None:  # an order without lines (the LEFT JOIN's NULLs)
            order.lines_shown.append((values[-2], values[-1]))
    return list(orders.values())


ROW_TEMPLATE = "orders/backoffice/_queue_row.html"
ROW_SECONDS = 3600


@functools.cache
def _row_template_digest():
    return hashlib.sha1(get_template(ROW_TEMPLATE).template.source.encode()).hexdigest()[:12]


def _row_key_scope():
    return f"{_row_template_digest()}:{translation.get_language()}:{timezone.get_current_timezone_name()}"


def row_cache_key(row, *, many, scope=None):
    """The cache key of a rendered row: a digest of everything the row shows (status, amounts,
    goods, buyer, delivery, times), the language, the time zone and the template's source (`scope`,
    worked out once a page). An order
    that changed in anything the row shows gets another key: a cached row is never stale and needs
    no invalidation."""
    shown = (
        row.pk, row.number, many, row.store.name if many else "", row.lines_text, row.paid_at is not None,
        str(row.paid_amount), str(row.pay_amount), str(row.refunded_amount), row.user.staff_label,
        row.receiver_name, row.fulfilment, row.pickup_slot_start, row.created_at, row.status,
    )  # the status label follows from status, delivery method and language (staff_status_label)
    digest = hashlib.sha1(repr(shown).encode()).hexdigest()
    return f"orders:queue-row:{scope or _row_key_scope()}:{digest}"


def attach_row_html(rows, *, many):
    """Set `row_html` on each listed order: the page's rows from the cache in one value (keyed by
    all their row keys, so it is as exact as they are), else each row from the cache (one round
    trip for the page) or rendered, and both stored."""
    if not rows:
        return
    scope = _row_key_scope()
    keys = [row_cache_key(row, many=many, scope=scope) for row in rows]
    page_key = "orders:queue-rows:" + hashlib.sha1("|".join(keys).encode()).hexdigest()
    page = cache.get(page_key)
    if page is None or len(page) != len(rows):
        found = cache.get_many(keys)
        missing = {}
        page = []
        for row, key in zip(rows, keys, strict=True):
            html = found.get(key)
            if html is None:
                html = missing[key] = render_to_string(ROW_TEMPLATE, {"o": row, "many": many})
            page.append(html)
        cache.set_many({**missing, page_key: page}, ROW_SECONDS)
    for row, html in zip(rows, page, strict=True):
        row.row_html = mark_safe(html)  # noqa: S308 - our template's output


HEAD_TEMPLATE = "orders/backoffice/_queue_head.html"
HEAD_TEMPLATES = (HEAD_TEMPLATE, "orders/backoffice/_store_select.html")


@functools.cache
def _head_template_digest():
    sources = "".join(get_template(name).template.source for name in HEAD_TEMPLATES)
    return hashlib.sha1((django.get_version() + sources).encode()).hexdigest()[:12]


def head_html(request, context):
    """The filters and the status tabs (HEAD_TEMPLATE), from the cache when a page with the same
    everything they show was rendered: the query string (the form, its values and errors, the tab
    links and the export link follow from it), the store choice (ids, cities, names), the tabs'
    counts, the language, the URL prefix and the templates (with Django's widgets, by version).
    A key for each of them: a stored copy is never stale and needs no invalidation. Rendering
    the form's widgets and the tabs was a third of the page's template time."""
    choice = context["choice"]
    shown = (
        _head_template_digest(), translation.get_language(), get_script_prefix(), sorted(request.GET.lists()),
        context["tab"], choice.many, choice.hq, choice.all, choice.param,
        choice.store.name if choice.store else None, [(s.pk, s.city, s.name) for s in choice.stores],
        [(t["key"], t["shown"]) for t in context["tabs"]], context["export_url"],
    )
    key = "orders:queue-head:" + hashlib.sha1(repr(shown).encode()).hexdigest()
    html = cache.get(key)
    if html is None:
        html = render_to_string(HEAD_TEMPLATE, context, request=request)
        cache.set(key, html, ROW_SECONDS)
    return mark_safe(html)  # noqa: S308 - our template's output


@staff_required(perm="orders.view_order")
def queue(request):
    choice, form, tab = _read(request)
    context = {"choice": choice, "form": form, "tab": tab}
    if choice.empty:
        return render(request, "orders/backoffice/no_store.html", context)
    compiled = plain_base(choice, form)
    if compiled is None:  # a text search
        qs, scan = filtered_orders(choice, form)
        compiled = compiled_base(qs)
    else:
        qs, scan = None, False
    counts = tab_counts(qs, scan=scan, base=compiled)
    page = page_of(QueueRows(compiled, tab), request.GET.get("page"), min(counts[tab], COUNT_CAP))
    rows = list(page.object_list)
    for row in rows:
        row.status_label = staff_status_label(row)
        row.lines_text = _lines_text(row.lines_shown)
        row.item_count = sum(quantity for _name, quantity in row.lines_shown)
    attach_row_html(rows, many=choice.many)
    params = _filter_params(choice, form)
    context.update(
        tabs=[{"key": k, "label": label, "count": counts[k], "shown": _shown(counts[k]),
               "url": "?" + urlencode({**params, "tab": k})} for k, label, _cond in TABS],
        capped=counts[tab] > COUNT_CAP,
        cap=COUNT_CAP,
        page_obj=page,
        rows=rows,
        page_query=urlencode({**params, "tab": tab}),
        export_url=reverse("orders_bo:export") + "?" + urlencode({**params, "tab": tab}),
    )
    context["head_html"] = head_html(request, context)
    return render(request, "orders/backoffice/queue.html", context)


# --- CSV ----------------------------------------------------------------------------------------
def as_text(value):
    """A cell Excel must keep as text: an 18-digit order number would lose its last digits as a
    number, a phone its formatting. A trailing tab makes it text without a formula (a leading tab
    or "=" is what core.csv_export defuses)."""
    value = str(value or "")
    return f"{value}\t" if value else ""


def _money(value):
    return f"{value:.2f}"


def _local(dt):
    return timezone.localtime(dt).strftime("%Y-%m-%d %H:%M:%S") if dt else ""


def _slot(order):
    if not order.pickup_slot_start:
        return ""
    start = timezone.localtime(order.pickup_slot_start)
    end = timezone.localtime(order.pickup_slot_end) if order.pickup_slot_end else None
    return f"{start:%Y-%m-%d %H:%M}" + (f"-{end:%H:%M}" if end else "")


EXPORT_HEADER = [
    gettext_lazy("订单号"), gettext_lazy("门店"), gettext_lazy("下单时间"), gettext_lazy("付款时间"),
    gettext_lazy("状态"), gettext_lazy("配送方式"), gettext_lazy("买家"), gettext_lazy("收货人"),
    gettext_lazy("收货电话"), gettext_lazy("收货地址"), gettext_lazy("自提时段"), gettext_lazy("商品"),
    gettext_lazy("件数"), gettext_lazy("商品金额"), gettext_lazy("会员折扣"), gettext_lazy("优惠券抵扣"),
    gettext_lazy("积分抵扣"), gettext_lazy("运费"), gettext_lazy("改价"), gettext_lazy("实付金额"),
    gettext_lazy("已退款"), gettext_lazy("买家留言"), gettext_lazy("商家备注"),
]


def export_rows(qs):
    for order in qs.iterator(chunk_size=500):
        lines = list(order.lines.all())
        yield [
            as_text(order.number), order.store.name, _local(order.created_at), _local(order.paid_at),
            str(staff_status_label(order)), order.get_fulfilment_display(), order.user.staff_label,
            order.receiver_name, as_text(order.receiver_phone), order.address_text, _slot(order),
            "；".join(f"{line.product_name} {line.spec_text} ×{line.quantity}".replace("  ", " ") for line in lines),
            sum(line.quantity for line in lines), _money(order.goods_amount), _money(order.member_discount),
            _money(order.coupon_discount), _money(order.points_discount), _money(order.delivery_fee),
            _money(order.adjustment), _money(order.paid_amount or order.pay_amount), _money(order.refunded_amount),
            order.buyer_remark, order.merchant_remark,
        ]


@staff_required(perm="orders.view_order")
def export(request):
    """The filtered queue (same store, tab, search and filters) as a streamed CSV."""
    choice, form, tab = _read(request)
    if choice.empty:
        return render(request, "orders/backoffice/no_store.html", {"choice": choice})
    qs, _scan = filtered_orders(choice, form)
    condition = tab_condition(tab)
    if condition is not None:
        qs = qs.filter(condition)
    qs = qs.select_related("user", "store").prefetch_related(
        Prefetch("lines", queryset=OrderLine.objects.only("pk", "order_id", "product_name", "spec_text", "quantity"))
    ).order_by("-created_at", "-id")
    name = "all" if choice.all else choice.store.code
    stamp = timezone.localtime().strftime("%Y%m%d%H%M")
    return streaming_csv(f"orders-{name}-{tab}-{stamp}.csv", [str(h) for h in EXPORT_HEADER], export_rows(qs))


# --- new-order poll -----------------------------------------------------------------------------
POLL_WINDOW = timedelta(hours=1)  # a cursor older than this (a tab left open overnight) starts here
SHOWN = 5


EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MICROSECOND = timedelta(microseconds=1)


def _micros(dt):
    """Exact microseconds since the epoch (a float timestamp can be off by one and repeat an order)."""
    return (dt - EPOCH) // MICROSECOND


@staff_required(perm="orders.view_order")
def new_orders(request):
    """JSON for the banner: orders of the user's own stores (their StoreStaff rows, HQ included)
    paid after ``?after=`` (microseconds since the epoch, the cursor the last answer gave) and
    still waiting to be fulfilled. One query, on the index (store, status, -created_at): an order
    is paid within a day of being placed (the pay deadline is minutes). The first call (no cursor)
    only returns the cursor, and whether the user has any store to hear about."""
    now = timezone.now()
    after = int_or_none(request.GET.get("after"), minimum=0, maximum=_micros(now) + 60_000_000)
    if after is None:
        return JsonResponse({"cursor": _micros(now), "orders": [], "more": False,
                             "enabled": store_ids_for(request.user).exists()})
    since = min(max(EPOCH + after * MICROSECOND, now - POLL_WINDOW), now)
    rows = list(
        Order.objects.filter(
            store_id__in=store_ids_for(request.user), status=S.PAID,
            created_at__gte=since - timedelta(days=1), paid_at__gt=since,
        ).order_by("-paid_at", "-pk").values("pk", "number", "paid_at", "paid_amount", "fulfilment", "store__name")
        [:SHOWN + 1]
    )
    cursor = max([_micros(r["paid_at"]) for r in rows] + [after])
    labels = dict(F.choices)
    return JsonResponse({
        "cursor": cursor,
        "more": len(rows) > SHOWN,
        "enabled": True,
        "orders": [
            {"number": r["number"], "store": r["store__name"], "fulfilment": str(labels.get(r["fulfilment"], "")),
             "amount": f"{r['paid_amount']:.2f}", "url": reverse("orders_bo:detail", args=[r["pk"]])}
            for r in rows[:SHOWN]
        ],
    })
