"""Store scope: who sees which stores' data. Written once here; orders, pickups and every later
app reuse it for their admin and back-office pages.

Who is who
- **HQ** (总部): a superuser, or an active staff user holding the permission
  ``stores.hq_all_stores`` (give it through the Django group "总部", which ``seed_demo`` creates).
  HQ sees and changes every store's data.
- **Store staff**: an active ``is_staff`` user with ``StoreStaff`` rows (role manager or clerk)
  linking them to one or more stores. They see only those stores' rows. Model permissions
  (``stores.view_stock`` …) still decide *what* they may do in the admin; scope decides *where*.
- Anyone else sees no store data.

The tools
- ``is_hq(user)``, ``stores_for(user)`` (a Store queryset), ``store_ids_for(user)`` (a subquery,
  no extra query when used inside a filter), ``working_stores(user)`` (those not archived, by city
  and name: a list, read through a statement compiled once per process).
- ``choose_store(user, raw)``: the store a back-office page works on, among ``working_stores``.
- ``scope_queryset(qs, user, store_field="store")``: filter any queryset to the user's stores.
  ``store_field`` is the lookup path to the Store FK (``"stock__store"``), or a tuple of them
  meaning "any of" (a transfer is visible to the source's and the destination's staff).
- ``get_scoped_object_or_404(model_or_qs, user, store_field="store", **lookup)``: the only way
  a view loads one scoped row; another store's id answers 404, exactly like a missing id.
- ``StoreScopedQuerysetMixin``: for class-based views; set ``store_field``.
- ``StoreScopedAdminMixin``: for ModelAdmin; scopes ``get_queryset`` (so change, delete and
  history views 404 on other stores' ids: ``get_object`` raises Http404 instead of the admin's
  redirect), limits Store foreign-key choices to the user's stores, and hides the model from users
  with no store at all.

Usage in a later app::

    from stores.scope import StoreScopedAdminMixin, get_scoped_object_or_404

    class OrderAdmin(StoreScopedAdminMixin, admin.ModelAdmin):
        store_field = "store"

    order = get_scoped_object_or_404(Order, request.user, pk=pk)
"""

from django.db.models import Q, QuerySet
from django.http import Http404

from core.prepared import Prepared

HQ_PERMISSION = "stores.hq_all_stores"
HQ_GROUP_NAME = "总部"


def is_hq(user):
    if not (user and user.is_authenticated and user.is_active):
        return False
    if user.is_superuser:
        return True
    cached = getattr(user, "_stores_is_hq", None)
    if cached is None:
        cached = user.is_staff and user.has_perm(HQ_PERMISSION)
        user._stores_is_hq = cached
    return cached


def store_ids_for(user):
    """A subquery of the user's store ids (only meaningful for non-HQ users)."""
    from .models import StoreStaff

    if not (user and user.is_authenticated and user.is_active and user.is_staff):
        return StoreStaff.objects.none().values("store_id")
    return StoreStaff.objects.filter(user_id=user.pk).values("store_id")


def stores_for(user):
    """The stores this user may work on: all of them for HQ, their own for store staff."""
    from .models import Store

    if is_hq(user):
        return Store.objects.all()
    return Store.objects.filter(pk__in=store_ids_for(user))


def _working(stores):
    return stores.filter(is_archived=False).order_by("city", "name", "pk")


def _all_working_stores():
    from .models import Store

    return _working(Store.objects.all())


def _own_working_stores(user_id):
    from .models import Store, StoreStaff

    return _working(Store.objects.filter(pk__in=StoreStaff.objects.filter(user_id=user_id).values("store_id")))


# the working-store lists of every back-office page, compiled once per process (core.prepared):
# building and compiling the ORM query cost more than PostgreSQL's answering it
_prepared_all = Prepared(_all_working_stores)
_prepared_own = Prepared(_own_working_stores)


def working_stores(user):
    """stores_for(user) not archived, by city, name and id, as a list: what choose_store offers."""
    if is_hq(user):
        return _prepared_all()
    if not (user and user.is_authenticated and user.is_active and user.is_staff):
        return []
    return _prepared_own(user.pk)


def choose_store(user, raw):
    """(store, stores) for a back-office page: `stores` are the user's working stores (not
    archived, by city and name); `raw` (a store id from the query or form) must be one of them,
    else Http404 like any other out-of-scope id. No `raw` picks the first; None when they have none."""
    stores = working_stores(user)
    if raw in (None, ""):
        return (stores[0] if stores else None), stores
    for store in stores:
        if str(store.pk) == str(raw):
            return store, stores
    raise Http404("not your store")


def scope_queryset(qs, user, store_field="store"):
    if is_hq(user):
        return qs
    ids = store_ids_for(user)
    fields = (store_field,) if isinstance(store_field, str) else tuple(store_field)
    condition = Q()
    for field in fields:
        condition |= Q(**{f"{field}__in": ids})
    return qs.filter(condition)


def user_can_work_on(user, store_or_id):
    """Whether the user may act for this store (one query for store staff, none for HQ)."""
    from .models import StoreStaff

    if is_hq(user):
        return True
    store_id = getattr(store_or_id, "pk", store_or_id)
    if not (user and user.is_authenticated and user.is_active and user.is_staff):
        return False
    return StoreStaff.objects.filter(user_id=user.pk, store_id=store_id).exists()


def manages_store(user, store_or_id):
    """Whether the user may change this store's own settings (hours, phone, pickup and delivery,
    cover): HQ for every store, a manager for theirs; a clerk may only look."""
    from .models import StoreStaff

    if is_hq(user):
        return True
    store_id = getattr(store_or_id, "pk", store_or_id)
    if not (user and user.is_authenticated and user.is_active and user.is_staff):
        return False
    return StoreStaff.objects.filter(user_id=user.pk, store_id=store_id, role=StoreStaff.Role.MANAGER).exists()


def get_scoped_object_or_404(model_or_qs, user, store_field="store", **lookup):
    qs = model_or_qs if isinstance(model_or_qs, QuerySet) else model_or_qs._default_manager.all()
    try:
        return scope_queryset(qs, user, store_field).get(**lookup)
    except (qs.model.DoesNotExist, ValueError, TypeError) as exc:
        raise Http404("not found") from exc


class StoreScopedQuerysetMixin:
    """For ListView/DetailView/UpdateView…: the queryset is cut to the user's stores, so
    `get_object` 404s on another store's id."""

    store_field = "store"

    def get_queryset(self):
        return scope_queryset(super().get_queryset(), self.request.user, self.store_field)


class StoreScopedAdminMixin:
    """ModelAdmin mixin: rows, lookups and Store choices limited to the user's stores.

    Set ``store_field`` (a lookup path or a tuple of them). For the Store model itself use
    ``store_field = "pk"``. Only HQ may add or delete unless ``staff_may_add`` / ``staff_may_delete``.
    """

    store_field = "store"
    staff_may_add = True
    staff_may_delete = False

    def get_queryset(self, request):
        qs = super().get_queryset(request)
        if self.store_field == "pk":
            return qs if is_hq(request.user) else qs.filter(pk__in=store_ids_for(request.user))
        return scope_queryset(qs, request.user, self.store_field)

    def get_object(self, request, object_id, from_field=None):
        obj = super().get_object(request, object_id, from_field)
        if obj is None:
            raise Http404("not found")
        return obj

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        from .models import Store

        if db_field.related_model is Store and not is_hq(request.user):
            kwargs["queryset"] = stores_for(request.user)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def _has_any_store(self, request):
        if is_hq(request.user):
            return True
        cached = getattr(request, "_stores_has_any", None)
        if cached is None:
            cached = store_ids_for(request.user).exists()
            request._stores_has_any = cached
        return cached

    def has_module_permission(self, request):
        return super().has_module_permission(request) and self._has_any_store(request)

    def has_view_permission(self, request, obj=None):
        return super().has_view_permission(request, obj) and self._has_any_store(request)

    def has_add_permission(self, request, *args):
        allowed = super().has_add_permission(request, *args)
        return allowed and (is_hq(request.user) or (self.staff_may_add and self._has_any_store(request)))

    def has_change_permission(self, request, obj=None):
        return super().has_change_permission(request, obj) and self._has_any_store(request)

    def has_delete_permission(self, request, obj=None):
        allowed = super().has_delete_permission(request, obj)
        return allowed and (is_hq(request.user) or (self.staff_may_delete and self._has_any_store(request)))
