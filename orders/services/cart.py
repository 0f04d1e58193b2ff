"""The cart: a member's (kept across devices), or, before login, the browser session's, merged into
the member's cart on login. Quantities change by conditional UPDATEs (two taps on + in two tabs add
up; nothing goes past MAX_LINE_QUANTITY). Whether a line can be bought is not decided here but when
the cart is shown and at checkout, against the chosen store (orders.selectors.evaluate_cart)."""

import functools
import uuid
from datetime import timedelta

from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from catalog.errors import NotSellable
from catalog.selectors import sellable_sku_product_id
from core.numbers import parse_int
from core.prepared import Prepared, PreparedSQL

from ..errors import Code, OrderError
from ..models import Cart, CartLine
from ..models.cart import MAX_CART_LINES, MAX_LINE_QUANTITY

SESSION_KEY = "orders.cart_token"


def parse_quantity(raw, *, allow_zero=False):
    """A quantity typed or posted by a shopper: ASCII digits, 1..999 (0 too when removing is meant)."""
    try:
        return parse_int(raw, minimum=0 if allow_zero else 1, maximum=MAX_LINE_QUANTITY)
    except ValueError:
        raise OrderError(
            _("数量必须是 1 到 %(max)s 之间的整数"), code=Code.INVALID_QUANTITY, params={"max": MAX_LINE_QUANTITY}
        ) from None


def session_cart_token(request):
    """The anonymous cart's token kept in this session (a UUID), or None."""
    raw = request.session.get(SESSION_KEY)
    try:
        return uuid.UUID(str(raw)) if raw else None
    except ValueError:
        return None


@functools.cache
def _cart_sql():
    """The statements of the hot cart paths (adding from a product page, the badge), written out:
    the ORM compiling them on every request cost several times what PostgreSQL spends running them."""
    cart, line = Cart._meta.db_table, CartLine._meta.db_table
    return {
        "add_to_line": f"UPDATE {line} SET quantity = quantity + %s, selected = %s "
                       f"WHERE cart_id = %s AND sku_id = %s AND quantity <= %s",
        # PostgreSQL: a member's add of a SKU already in the cart in one statement: the cart (id,
        # updated_at), the line's conditional UPDATE (its new quantity, NULL when no line took it)
        # and the other lines' pieces (the badge is those plus the new quantity)
        "add_for_member": f"WITH c AS (SELECT id, updated_at FROM {cart} WHERE user_id = %s), "
                          f"u AS (UPDATE {line} SET quantity = quantity + %s, selected = TRUE "
                          f"WHERE cart_id = (SELECT id FROM c) AND sku_id = %s AND quantity <= %s "
                          f"RETURNING quantity) "
                          f"SELECT c.id, c.updated_at, (SELECT quantity FROM u), "
                          f"(SELECT COALESCE(SUM(quantity), 0) FROM {line} WHERE cart_id = c.id AND sku_id <> %s) "
                          f"FROM c",
        "count": f"SELECT COALESCE(SUM(quantity), 0) FROM {line} WHERE cart_id = %s",
        "ticked": f"SELECT l.sku_id, l.quantity FROM {line} l INNER JOIN {cart} c ON c.id = l.cart_id "
                  f"WHERE c.user_id = %s AND l.selected ORDER BY l.added_at DESC, l.id DESC",
    }


_member_carts = Prepared(lambda user_id: Cart.objects.filter(user_id=user_id))


def _member_cart(user_id):
    return next(iter(_member_carts(user_id)), None)


def cart_quantity(cart_id):
    """How many items the cart holds (the badge): one statement on its lines."""
    with connection.cursor() as cursor:
        cursor.execute(_cart_sql()["count"], [cart_id])
        return int(cursor.fetchone()[0])


_ticked = functools.cache(lambda: PreparedSQL(_cart_sql()["ticked"]))


def ticked_lines(user_id):
    """[(sku id, quantity)] of the member's ticked cart lines, newest first (the cart page's order);
    on PostgreSQL a server-side prepared statement (core.prepared)."""
    return [(sku_id, quantity) for sku_id, quantity in _ticked().rows([user_id])]


def cart_for(request, *, create=False):
    """The cart of this request's shopper: the member's, else the session's anonymous one. With
    `create`, made when missing. Returns None when there is none and `create` is False."""
    user = request.user
    if user.is_authenticated:
        cart = _member_cart(user.pk)
        if cart is None and create:
            cart = _create_member_cart(user)
        return cart
    token = session_cart_token(request)
    cart = Cart.objects.filter(token=token, user__isnull=True).first() if token else None
    if cart is None and create:
        cart = Cart.objects.create()
        request.session[SESSION_KEY] = str(cart.token)
    return cart


def _create_member_cart(user):
    try:
        with transaction.atomic():
            return Cart.objects.create(user=user)
    except IntegrityError:  # a concurrent first add made it
        return Cart.objects.get(user=user)


CART_TOUCH_EVERY = timedelta(minutes=5)


def add_to_cart(cart, sku_id, quantity):
    """Put `quantity` of a sellable SKU in the cart (added to what is there). Refuses a SKU that
    cannot be sold, a quantity outside 1..999 or a total past 999, and a 101st line.

    A SKU already in the cart costs one conditional UPDATE (sellability read through the
    catalogue cache, as on the product page; checkout decides again on the database's rows)."""
    quantity = parse_quantity(quantity)
    sku_id = _sellable_id(sku_id)
    with connection.cursor() as cursor:
        cursor.execute(_cart_sql()["add_to_line"], [quantity, True, cart.pk, sku_id, MAX_LINE_QUANTITY - quantity])
        added = cursor.rowcount
    if not added:
        _add_line(cart, sku_id, quantity)
    _touch(cart)


def add_for_member(user, sku_id, quantity):
    """add_to_cart for a signed-in member, on their cart (made at the first add), and the cart's
    piece count afterwards (the badge). The same rules and refusals as add_to_cart.

    On PostgreSQL a SKU already in the cart costs one statement (add_for_member in _cart_sql: the
    cart, the line's conditional UPDATE and the other lines' sum) instead of three."""
    quantity = parse_quantity(quantity)
    sku_id = _sellable_id(sku_id)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(_cart_sql()["add_for_member"],
                           [user.pk, quantity, sku_id, MAX_LINE_QUANTITY - quantity, sku_id])
            row = cursor.fetchone()
        if row is not None:
            cart_id, updated_at, line_quantity, others = row
            cart = Cart(pk=cart_id, user_id=user.pk, updated_at=updated_at)
            if line_quantity is None:  # no such line yet, or its 999 cap refused
                _add_line(cart, sku_id, quantity)
            _touch(cart)
            return cart_quantity(cart_id) if line_quantity is None else int(others) + int(line_quantity)
    cart = _member_cart(user.pk)
    if cart is None:
        cart = _create_member_cart(user)
    add_to_cart(cart, sku_id, quantity)
    return cart_quantity(cart.pk)


def _sellable_id(sku_id):
    try:
        sellable_sku_product_id(sku_id)
    except NotSellable:
        raise OrderError(_("该商品已下架或暂不可售"), code=Code.NOT_SELLABLE) from None
    return int(sku_id)


def _touch(cart):
    now = timezone.now()
    if cart.updated_at is None or cart.updated_at < now - CART_TOUCH_EVERY:
        Cart.objects.filter(pk=cart.pk).update(updated_at=now)
        cart.updated_at = now


@transaction.atomic
def _add_line(cart, sku_id, quantity):
    """A new line, unless the SKU is there already (then its 999 cap is what refused) or the
    cart is full."""
    if CartLine.objects.filter(cart=cart, sku_id=sku_id).exists():
        raise OrderError(
            _("该商品在购物车中最多 %(max)s 件"), code=Code.INVALID_QUANTITY, params={"max": MAX_LINE_QUANTITY}
        )
    if CartLine.objects.filter(cart=cart).count() >= MAX_CART_LINES:
        raise OrderError(_("购物车已满（最多 %(n)s 种商品），请先结算或删除一些"), code=Code.CART_FULL,
                         params={"n": MAX_CART_LINES})
    try:
        with transaction.atomic():
            CartLine.objects.create(cart=cart, sku_id=sku_id, quantity=quantity)
    except IntegrityError:  # the same SKU added at the same moment from another tab
        added = CartLine.objects.filter(
            cart=cart, sku_id=sku_id, quantity__lte=MAX_LINE_QUANTITY - quantity
        ).update(quantity=F("quantity") + quantity, selected=True)
        if not added:
            raise OrderError(
                _("该商品在购物车中最多 %(max)s 件"), code=Code.INVALID_QUANTITY, params={"max": MAX_LINE_QUANTITY}
            ) from None


@transaction.atomic
def set_line_quantity(cart, line_id, quantity):
    """Set a line's quantity (0 removes it). Another cart's line is 'not found'."""
    quantity = parse_quantity(quantity, allow_zero=True)
    line = CartLine.objects.filter(cart=cart, pk=line_id).first()
    if line is None:
        raise OrderError(_("购物车中没有这件商品"), code=Code.NOT_FOUND)
    if quantity == 0:
        line.delete()
        return None
    CartLine.objects.filter(pk=line.pk).update(quantity=quantity)
    line.quantity = quantity
    return line


@transaction.atomic
def remove_lines(cart, line_ids):
    """Remove these lines of this cart (ids of other carts are ignored). Returns how many went."""
    deleted, _detail = CartLine.objects.filter(cart=cart, pk__in=list(line_ids)).delete()
    return deleted


@transaction.atomic
def select_lines(cart, line_ids, selected):
    """Tick or untick lines (`line_ids` None: all of them)."""
    lines = CartLine.objects.filter(cart=cart)
    if line_ids is not None:
        lines = lines.filter(pk__in=list(line_ids))
    return lines.update(selected=bool(selected))


@transaction.atomic
def merge_carts(source, user):
    """On login: the anonymous cart's lines join the member's cart (quantities add up, capped at
    999; lines past the cart's limit are dropped), and the anonymous cart goes. Idempotent."""
    if source is None or source.user_id is not None:
        return None
    target, _created = Cart.objects.get_or_create(user=user)
    existing = {line.sku_id: line for line in CartLine.objects.select_for_update().filter(cart=target)}
    room = MAX_CART_LINES - len(existing)
    for line in CartLine.objects.filter(cart=source).order_by("added_at", "pk"):
        mine = existing.get(line.sku_id)
        if mine is not None:
            CartLine.objects.filter(pk=mine.pk).update(
                quantity=min(MAX_LINE_QUANTITY, mine.quantity + line.quantity), selected=True
            )
        elif room > 0:
            CartLine.objects.create(cart=target, sku_id=line.sku_id, quantity=line.quantity, selected=line.selected)
            room -= 1
    source.delete()
    return target


@transaction.atomic
def reorder(order, cart):
    """再来一单: the order's lines join the cart (quantities add up, capped as any add). Returns
    (names added, names skipped): a line that cannot be sold any more, or would go past the cart's
    limits, is skipped and named."""
    added, skipped = [], []
    for line in order.lines.all().order_by("pk"):
        try:
            with transaction.atomic():
                add_to_cart(cart, line.sku_id, line.quantity)
        except OrderError:
            skipped.append(line.product_name)
        else:
            added.append(line.product_name)
    return added, skipped


def remove_ordered(user, sku_ids):
    """After an order from the cart: its SKUs leave the member's cart (in the order's transaction).
    One DELETE written out: it runs on every order, and the ORM's delete (a collector, a joined
    subquery) cost more to build than the database takes to answer."""
    sku_ids = [int(pk) for pk in sku_ids]
    if not sku_ids:
        return 0
    qn = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute(
            f"DELETE FROM {qn(CartLine._meta.db_table)} WHERE {qn('cart_id')} IN"
            f" (SELECT {qn('id')} FROM {qn(Cart._meta.db_table)} WHERE {qn('user_id')} = %s)"
            f" AND {qn('sku_id')} IN ({', '.join(['%s'] * len(sku_ids))})",
            [user.pk, *sku_ids],
        )
        return cursor.rowcount
