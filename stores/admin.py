"""Admin for stores, staff, stock, ledger, transfers and alerts; all scoped by stores.scope.

Stock quantities are read-only here: they change only through services (the back office's
adjustment form, transfers, orders), so the ledger stays complete. Deleting a store that has
history archives it instead (see services.delete_or_archive_store).
"""

from django import forms
from django.contrib import admin, messages
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from core.admin import BoundedAutocompleteMixin, BoundedDateHierarchyMixin
from core.numbers import INT_MAX, IntegerField

from . import services
from .apps import stores_changed
from .hours import overlapping
from .models import (
    STORE_PHOTO_LIMIT,
    CodeLookup,
    LowStockAlert,
    Stock,
    StockDocument,
    StockDocumentEvent,
    StockDocumentLine,
    StockMovement,
    StockReservation,
    Store,
    StoreHours,
    StoreNotification,
    StorePhoto,
    StoreStaff,
    Transfer,
    TransferEvent,
    TransferLine,
)
from .scope import StoreScopedAdminMixin, is_hq


class StoreHoursFormSet(forms.BaseInlineFormSet):
    """Ranges of one store may not be open at the same moment (an overnight range counts into the
    next morning): overlapping rows would make 'open now' and the week table disagree."""

    def clean(self):
        super().clean()
        ranges = [
            (f.cleaned_data["weekday"], f.cleaned_data["opens"], f.cleaned_data["closes"])
            for f in self.forms
            if f.cleaned_data and not f.cleaned_data.get("DELETE")
            and all(f.cleaned_data.get(k) is not None for k in ("weekday", "opens", "closes"))
        ]
        clashes = overlapping(ranges)
        if clashes:
            days = dict(StoreHours.Weekday.choices)
            a, b = clashes[0]
            raise forms.ValidationError(
                _("营业时间重叠：%(a)s 与 %(b)s") % {
                    "a": f"{days[a[0]]} {a[1]:%H:%M}-{a[2]:%H:%M}",
                    "b": f"{days[b[0]]} {b[1]:%H:%M}-{b[2]:%H:%M}",
                }
            )


class StoreHoursInline(admin.TabularInline):
    model = StoreHours
    formset = StoreHoursFormSet
    extra = 0


class StorePhotoForm(forms.ModelForm):
    position = IntegerField(label=_("排序"), min_value=0, max_value=INT_MAX, initial=0,
                            help_text=_("数字越小越靠前"))

    class Meta:
        model = StorePhoto
        fields = ["image", "caption", "position"]

    def clean_caption(self):
        from .photos import clean_caption

        return clean_caption(self.cleaned_data.get("caption", ""))


class StorePhotoInline(admin.TabularInline):
    """门店相册 in the store's admin page; managers use the back office's settings page."""

    model = StorePhoto
    form = StorePhotoForm
    extra = 0
    max_num = STORE_PHOTO_LIMIT
    fields = ["preview", "image", "caption", "position"]
    readonly_fields = ["preview"]

    @admin.display(description=_("预览"))
    def preview(self, obj):
        if not obj.pk or not obj.image:
            return "-"
        return format_html(
            '<img src="{}" width="80" height="60" alt="" style="object-fit:cover">', obj.thumb("thumb").url
        )


class StoreStaffInline(BoundedAutocompleteMixin, admin.TabularInline):
    model = StoreStaff
    extra = 0
    autocomplete_fields = ["user"]

    def has_add_permission(self, request, obj=None):
        return is_hq(request.user)

    def has_change_permission(self, request, obj=None):
        return is_hq(request.user)

    def has_delete_permission(self, request, obj=None):
        return is_hq(request.user)


@admin.register(Store)
class StoreAdmin(StoreScopedAdminMixin, admin.ModelAdmin):
    store_field = "pk"
    staff_may_add = False
    list_display = ["name", "code", "city", "district", "status", "pickup_enabled", "delivery_enabled", "is_archived"]
    list_filter = ["status", "city", "is_archived", "pickup_enabled", "delivery_enabled"]
    search_fields = ["name", "code", "street", "phone"]
    inlines = [StoreHoursInline, StoreStaffInline, StorePhotoInline]
    actions = ["pause_stores", "open_stores"]
    fieldsets = [
        (None, {"fields": ["name", "code", "cover", "phone", "status", "is_archived"]}),
        (_("地址"), {"fields": ["province", "city", "district", "street", ("latitude", "longitude")]}),
        (_("配送与自提"), {"fields": [
            ("delivery_enabled", "delivery_radius_km"),
            ("delivery_fee", "delivery_min_order"),
            "express_enabled",
            "pickup_enabled",
            ("pickup_lead_minutes", "pickup_slot_minutes"),
        ]}),
    ]

    def get_readonly_fields(self, request, obj=None):
        if is_hq(request.user):
            return []
        # store staff see their store but cannot rename, move or reopen it
        return [f.name for f in Store._meta.fields if f.name != "id"]

    def has_change_permission(self, request, obj=None):
        return super().has_change_permission(request, obj) and is_hq(request.user)

    def get_deleted_objects(self, objs, request):
        # a store with history is archived, not refused: services.delete_or_archive_store decides
        to_delete, model_count, perms_needed, protected = super().get_deleted_objects(objs, request)
        if protected:  # it will be archived: nothing of its history is deleted
            return [str(obj) for obj in objs], {}, set(), []
        return to_delete, model_count, perms_needed, protected

    def delete_model(self, request, obj):
        if services.delete_or_archive_store(obj, by=request.user) == "archived":
            self.message_user(request, _("门店“%(name)s”有订单或库存记录，已归档而不是删除。") % {"name": obj.name},
                              messages.WARNING)

    def delete_queryset(self, request, queryset):
        archived = [s.name for s in queryset if services.delete_or_archive_store(s, by=request.user) == "archived"]
        if archived:
            self.message_user(request, _("以下门店有记录，已归档：%(names)s") % {"names": "、".join(archived)},
                              messages.WARNING)

    @admin.action(description=_("暂停营业"), permissions=["change"])
    def pause_stores(self, request, queryset):
        queryset.update(status=Store.Status.PAUSED)
        stores_changed()

    @admin.action(description=_("恢复营业"), permissions=["change"])
    def open_stores(self, request, queryset):
        queryset.filter(is_archived=False).update(status=Store.Status.OPEN)
        stores_changed()


@admin.register(StoreStaff)
class StoreStaffAdmin(BoundedAutocompleteMixin, StoreScopedAdminMixin, admin.ModelAdmin):
    list_display = ["user", "store", "role", "created_at"]
    list_filter = ["role", ("store", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["user__username", "user__phone", "store__name"]
    autocomplete_fields = ["user"]
    staff_may_add = False

    def has_change_permission(self, request, obj=None):
        return super().has_change_permission(request, obj) and is_hq(request.user)


class StockAdminForm(forms.ModelForm):
    low_threshold = IntegerField(label=_("低库存阈值"), min_value=0, max_value=1_000_000)

    class Meta:
        model = Stock
        fields = ["low_threshold"]


@admin.register(Stock)
class StockAdmin(StoreScopedAdminMixin, admin.ModelAdmin):
    form = StockAdminForm
    list_display = ["store", "sku_code", "sku", "on_hand", "reserved", "available_display", "low_threshold"]
    list_filter = [("store", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["sku__code", "sku__product__name", "store__name"]
    list_select_related = ["store", "sku__product"]
    readonly_fields = ["store", "sku", "on_hand", "reserved", "updated_at"]
    fields = ["store", "sku", "on_hand", "reserved", "low_threshold", "updated_at"]
    staff_may_add = False

    @admin.display(description=_("SKU编码"), ordering="sku__code")
    def sku_code(self, obj):
        return obj.sku.code

    @admin.display(description=_("可用"))
    def available_display(self, obj):
        return obj.available

    def has_add_permission(self, request):
        return False  # rows are created by receiving stock (services.receive_stock)

    def save_model(self, request, obj, form, change):
        # only the threshold is editable; it goes through the service so alerts follow
        services.set_threshold(obj, form.cleaned_data["low_threshold"], by=request.user)


@admin.register(StockMovement)
class StockMovementAdmin(BoundedDateHierarchyMixin, StoreScopedAdminMixin, admin.ModelAdmin):
    store_field = "stock__store"
    list_display = ["created_at", "stock", "reason", "quantity", "reserved_delta", "on_hand_after",
                    "reserved_after", "reference", "actor"]
    list_filter = ["reason", ("stock__store", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["reference", "stock__sku__code", "note"]
    list_select_related = ["stock__store", "stock__sku__product", "actor"]
    date_hierarchy = "created_at"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(StockReservation)
class StockReservationAdmin(StoreScopedAdminMixin, admin.ModelAdmin):
    """Read-only: reservations are made, released and sold by services, by their reference."""

    store_field = "stock__store"
    list_display = ["reference", "stock", "quantity", "sold", "released", "state", "updated_at"]
    list_filter = ["state", ("stock__store", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["reference", "stock__sku__code"]
    list_select_related = ["stock__store", "stock__sku__product"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class TransferLineInline(admin.TabularInline):
    model = TransferLine
    extra = 0
    readonly_fields = ["sku", "quantity", "quantity_received", "resolution", "resolved_by", "resolved_at"]
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


class TransferEventInline(admin.TabularInline):
    model = TransferEvent
    extra = 0
    readonly_fields = ["status", "actor", "note", "created_at"]
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Transfer)
class TransferAdmin(StoreScopedAdminMixin, admin.ModelAdmin):
    """Read-only view of transfers: they are created and moved in the back office
    (/backoffice/stores/transfers/), where each step checks which store may take it."""

    store_field = ("source", "destination")
    list_display = ["__str__", "source", "destination", "status", "difference_status", "created_by", "created_at"]
    list_filter = ["status", "difference_status"]
    list_select_related = ["source", "destination", "created_by"]
    readonly_fields = ["source", "destination", "status", "difference_status", "short_quantity", "note", "created_by",
                       "created_at"]
    inlines = [TransferLineInline, TransferEventInline]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class StockDocumentLineInline(admin.TabularInline):
    model = StockDocumentLine
    extra = 0
    fields = readonly_fields = ["sku", "quantity", "unit_cost", "counted", "expected", "counted_at", "delta"]
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class StockDocumentEventInline(admin.TabularInline):
    model = StockDocumentEvent
    extra = 0
    fields = readonly_fields = ["action", "actor", "note", "created_at"]
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(StockDocument)
class StockDocumentAdmin(StoreScopedAdminMixin, admin.ModelAdmin):
    """Read-only: documents are drafted, posted and reversed in the back office
    (/backoffice/stores/documents/), where each step checks the store, the role and the state; a
    posted document never changes (a reversal is a new document)."""

    list_display = ["number", "kind", "store", "state", "author", "created_at", "posted_at"]
    list_filter = ["kind", "state", ("store", admin.RelatedOnlyFieldListFilter)]
    list_select_related = ["store", "author"]
    search_fields = ["number", "supplier"]
    fields = readonly_fields = ["number", "kind", "store", "state", "source", "supplier", "issue_reason", "category",
                                "note", "reversal_of", "author", "created_at", "posted_by", "posted_at"]
    inlines = [StockDocumentLineInline, StockDocumentEventInline]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(LowStockAlert)
class LowStockAlertAdmin(StoreScopedAdminMixin, admin.ModelAdmin):
    store_field = "stock__store"
    list_display = ["stock", "status", "available_at_open", "threshold", "opened_at", "closed_at", "notified_at", "messaged_at"]
    list_filter = ["status", ("stock__store", admin.RelatedOnlyFieldListFilter)]
    list_select_related = ["stock__store", "stock__sku__product"]
    readonly_fields = ["stock", "status", "available_at_open", "threshold", "opened_at", "closed_at", "notified_at", "messaged_at"]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(StoreNotification)
class StoreNotificationAdmin(StoreScopedAdminMixin, admin.ModelAdmin):
    list_display = ["created_at", "user", "store", "title", "read_at"]
    list_select_related = ["user", "store"]
    readonly_fields = ["user", "store", "alert", "kind", "title", "body", "created_at", "read_at"]

    def get_queryset(self, request):
        qs = super().get_queryset(request)
        return qs if is_hq(request.user) else qs.filter(user=request.user)

    def has_add_permission(self, request):
        return False


@admin.register(CodeLookup)
class CodeLookupAdmin(StoreScopedAdminMixin, admin.ModelAdmin):
    """Every pickup code typed at a counter, read-only: who tried which code, when, and what came of it."""

    list_display = ["created_at", "store", "user", "purpose", "code", "outcome"]
    list_filter = ["outcome", "purpose"]
    list_select_related = ["store", "user"]
    search_fields = ["user__username", "user__phone"]
    readonly_fields = ["created_at", "store", "user", "purpose", "code", "outcome"]
    staff_may_add = False

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
