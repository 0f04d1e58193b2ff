"""What every orders back-office page shares: which store(s) a page works on, loading one order
or after-sale within the user's scope, and turning service errors into messages."""

from functools import wraps

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404
from django.utils.translation import gettext as _

from core.numbers import id_or_none
from stores.scope import choose_store, get_scoped_object_or_404, is_hq

from ..models import AfterSale, Order

ALL_STORES = "all"
PAGE_SIZE = 20
MAX_PAGES = 50  # deeper than this, a filter finds it faster than paging (and OFFSET stays bounded)


class StoreChoice:
    """The store a page shows: one store, or every store (HQ only: `store` None, `all` True)."""

    def __init__(self, store, stores, all_stores, hq=False):
        self.store = store
        self.stores = stores
        self.all = all_stores
        self.hq = hq

    @property
    def empty(self):
        """A member of staff with no store at all (and not HQ): the page shows a hint."""
        return self.store is None and not self.all

    @property
    def many(self):
        return self.hq or len(self.stores) > 1

    @property
    def param(self):
        return ALL_STORES if self.all else (self.store.pk if self.store else "")

    def filter(self, qs, field="store"):
        if self.all:
            return qs
        return qs.filter(**{field: self.store})


def pick_store(request, raw):
    """The store from ?store= (or a form): one of the user's stores, else 404; "all" (and the
    default) for HQ means every store; store staff default to their first store."""
    user = request.user
    hq = is_hq(user)
    if raw == ALL_STORES or (hq and raw in (None, "")):
        if not hq:
            raise Http404("not HQ")
        _first, stores = choose_store(user, None)
        return StoreChoice(None, stores, True, hq=True)
    store, stores = choose_store(user, raw)
    return StoreChoice(store, stores, False, hq=hq)


def scoped_order(request, pk, qs=None):
    """The order with this id if the user may see its store; else 404 (like a missing one)."""
    pk = id_or_none(pk)
    if pk is None:
        raise Http404("bad id")
    return get_scoped_object_or_404(qs if qs is not None else Order.objects.select_related("store", "user"),
                                    request.user, pk=pk)


def scoped_after_sale(request, pk, qs=None):
    pk = id_or_none(pk)
    if pk is None:
        raise Http404("bad id")
    qs = qs if qs is not None else AfterSale.objects.select_related("order__store", "user")
    return get_scoped_object_or_404(qs, request.user, "order__store", pk=pk)


def staff_with_any(*perms):
    """Like core.backoffice.staff_required, for a page that needs ANY of `perms` (the shared pickup
    screen: order staff and points-mall staff both use it)."""

    def decorate(view):
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            user = request.user
            if not user.is_authenticated:
                return redirect_to_login(request.get_full_path(), login_url=settings.STAFF_LOGIN_URL)
            if not (user.is_active and user.is_staff) or not any(user.has_perm(p) for p in perms):
                raise PermissionDenied
            return view(request, *args, **kwargs)

        return wrapper

    return decorate


def page_of(qs, raw_page, count, per_page=PAGE_SIZE, max_pages=MAX_PAGES):
    """A page of `qs` whose total is already known (the tab counts): no second COUNT(*). An
    absurd or foreign ?page= gives the first or the last page (at most `max_pages`)."""
    paginator = Paginator(qs, per_page)
    paginator.__dict__["count"] = count  # cached_property: the aggregate already counted them
    last = min(paginator.num_pages, max_pages)
    number = id_or_none(raw_page) or 1
    return paginator.page(min(number, last))


def report_error(request, exc):
    messages.error(request, str(exc))


def form_error(request, form):
    from ..backoffice_forms import error_text

    messages.error(request, error_text(form) or _("提交的内容有误，请检查后重试"))


# get_status_display() rebuilds a hashable copy of the choices on every call (a queue page called
# it twenty times); the labels are lazy, so one dict serves every language
STATUS_LABELS = dict(Order.Status.choices)


def staff_status_label(order):
    """What staff read: 待付款 / 待发货 (express, delivery) or 待备货 (pickup) / 待自提 / …"""
    if order.status == Order.Status.PAID:
        return _("待备货") if order.fulfilment == Order.Fulfilment.PICKUP else _("待发货")
    return STATUS_LABELS.get(order.status, order.status)
