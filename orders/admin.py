"""Django admin for orders: a read-only record, scoped to the user's stores (stores.scope).

Orders, payments, refunds and after-sales are changed only by orders.services (the back office at
/backoffice/orders/ calls them): here they can be looked at, never added, edited or deleted, so no
money field, status or stock can move outside the one transition function and its event log. A
POST to their change page is refused (403) and another store's id answers 404.

The express fee rules are the one thing edited here: HQ edits every rule, the HQ default (no store)
included; store staff edit only their own stores' rules and cannot create or see the HQ one.
"""

from django import forms
from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _

from core.admin import BoundedDateHierarchyMixin
from core.numbers import id_or_none
from stores.scope import StoreScopedAdminMixin, is_hq, stores_for

from .models import (
    AfterSale,
    AfterSaleLine,
    AfterSalePhoto,
    ExpressFeeRule,
    Order,
    OrderEvent,
    OrderLine,
    PaymentAttempt,
    PaymentEvent,
    ReconciliationDifference,
    ReconciliationRun,
    Refund,
    Shipment,
)


class ScopedStoreFilter(admin.SimpleListFilter):
    """门店, listing only the stores the user works at (a plain filter would list every store)."""

    title = _("门店")
    parameter_name = "store"
    store_path = "store"

    def lookups(self, request, model_admin):
        return [(str(s.pk), s.name) for s in stores_for(request.user).order_by("city", "name")]

    def queryset(self, request, queryset):
        store_id = id_or_none(self.value())
        if store_id is not None:
            return queryset.filter(**{f"{self.store_path}_id": store_id})
        return queryset


class OrderStoreFilter(ScopedStoreFilter):
    store_path = "order__store"


class ReadOnlyAdmin(StoreScopedAdminMixin, admin.ModelAdmin):
    """Look, never touch: no add, no change (the change page is a view page), no delete."""

    staff_may_add = False

    def has_add_permission(self, request, *args):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields] + list(self.readonly_fields)


class ReadOnlyInline(admin.TabularInline):
    """Rows of an order shown with it; readable by whoever may view the order."""

    extra = 0
    can_delete = False
    view_perm = "orders.view_order"

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_view_permission(self, request, obj=None):
        return request.user.has_perm(self.view_perm)

    def get_readonly_fields(self, request, obj=None):
        return list(self.fields or [f.name for f in self.model._meta.fields])


class OrderLineInline(ReadOnlyInline):
    model = OrderLine
    fields = ["product_name", "spec_text", "sku_code", "unit_price", "quantity", "member_discount",
              "coupon_discount", "points_discount", "adjustment", "paid_amount", "refunded_quantity",
              "refunded_amount", "fulfilled_quantity"]


class OrderEventInline(ReadOnlyInline):
    model = OrderEvent
    fields = ["created_at", "kind", "from_status", "to_status", "actor_label", "note", "visible_to_shopper"]


class PaymentAttemptInline(ReadOnlyInline):
    model = PaymentAttempt
    fields = ["out_trade_no", "channel", "amount_fen", "state", "is_order_payment", "refund_committed_fen",
              "succeeded_at", "created_at"]
    show_change_link = True


class RefundInline(ReadOnlyInline):
    model = Refund
    fk_name = "order"
    fields = ["out_refund_no", "cause", "amount", "state", "reason", "requested_by", "succeeded_at", "created_at"]
    show_change_link = True


class ShipmentInline(ReadOnlyInline):
    model = Shipment
    fields = ["carrier_name", "tracking_no", "last_state", "shipped_by", "created_at"]


@admin.register(Order)
class OrderAdmin(ReadOnlyAdmin):
    list_display = ["number", "store", "buyer", "status", "fulfilment", "pay_amount", "paid_amount",
                    "refunded_amount", "created_at"]
    list_filter = ["status", "fulfilment", ScopedStoreFilter]
    search_fields = ["=number", "receiver_name", "=receiver_phone"]
    list_select_related = ["store", "user"]
    # no date_hierarchy: it reads the distinct dates of every order on each page (a full scan)
    readonly_fields = ["backoffice"]
    inlines = [OrderLineInline, PaymentAttemptInline, RefundInline, ShipmentInline, OrderEventInline]
    show_full_result_count = False  # 100,000 orders a store: no second COUNT(*) per page

    @admin.display(description=_("买家"))
    def buyer(self, obj):
        return obj.user.staff_label

    @admin.display(description=_("处理订单"))
    def backoffice(self, obj):
        return format_html('<a href="{}">{}</a>', reverse("orders_bo:detail", args=[obj.pk]), _("到订单后台处理"))

    def get_readonly_fields(self, request, obj=None):
        # the buyer's raw account (and phone) stays out; staff read it as staff_label
        fields = [f.name for f in Order._meta.fields if f.name not in ("user", "pickup_code", "checkout_token")]
        return ["backoffice", "buyer", *fields]

    def get_fields(self, request, obj=None):
        return self.get_readonly_fields(request, obj)


class PaymentEventInline(ReadOnlyInline):
    model = PaymentEvent
    fields = ["created_at", "kind", "gateway_reference", "amount_fen", "detail"]


@admin.register(PaymentAttempt)
class PaymentAttemptAdmin(ReadOnlyAdmin):
    store_field = "order__store"
    list_display = ["out_trade_no", "order", "channel", "amount_fen", "state", "is_order_payment", "created_at"]
    list_filter = ["state", "channel", OrderStoreFilter]
    search_fields = ["=out_trade_no", "=gateway_trade_no", "=order__number"]
    list_select_related = ["order"]
    inlines = [PaymentEventInline]
    show_full_result_count = False


@admin.register(Refund)
class RefundAdmin(ReadOnlyAdmin):
    store_field = "order__store"
    list_display = ["out_refund_no", "order", "cause", "amount", "state", "created_at", "succeeded_at"]
    list_filter = ["state", "cause", OrderStoreFilter]
    search_fields = ["=out_refund_no", "=order__number"]
    list_select_related = ["order"]
    readonly_fields = ["events"]
    show_full_result_count = False

    @admin.display(description=_("支付记录"))
    def events(self, obj):
        """The payment events of this refund: those of its attempt carrying its out_refund_no."""
        rows = PaymentEvent.objects.filter(attempt_id=obj.attempt_id, gateway_reference=obj.out_refund_no).order_by("id")
        items = format_html_join("", "<li>{} · {}{}</li>", (
            (e.created_at.strftime("%Y-%m-%d %H:%M:%S"), e.get_kind_display(),
             f" · {e.amount_fen}" if e.amount_fen is not None else "") for e in rows))
        return format_html("<ul>{}</ul>", items) if items else "-"


class AfterSaleLineInline(ReadOnlyInline):
    model = AfterSaleLine
    fields = ["order_line", "quantity", "amount"]


class AfterSalePhotoInline(ReadOnlyInline):
    model = AfterSalePhoto
    fields = ["image", "created_at"]


@admin.register(AfterSale)
class AfterSaleAdmin(ReadOnlyAdmin):
    store_field = "order__store"
    list_display = ["number", "order", "kind", "status", "amount", "created_at"]
    list_filter = ["status", "kind", OrderStoreFilter]
    search_fields = ["=number", "=order__number"]
    list_select_related = ["order"]
    readonly_fields = ["backoffice"]
    inlines = [AfterSaleLineInline, AfterSalePhotoInline]

    @admin.display(description=_("处理售后"))
    def backoffice(self, obj):
        return format_html('<a href="{}">{}</a>', reverse("orders_bo:after_sale", args=[obj.pk]), _("到售后后台处理"))

    def get_readonly_fields(self, request, obj=None):
        return ["backoffice", *[f.name for f in AfterSale._meta.fields if f.name != "request_id"]]


class ExpressFeeRuleForm(forms.ModelForm):
    class Meta:
        model = ExpressFeeRule
        fields = ["store", "base_fee", "free_over", "excluded_provinces", "is_active"]

    def __init__(self, *args, hq=False, **kwargs):
        super().__init__(*args, **kwargs)
        if not hq:  # a rule without a store is HQ's default: store staff must name one of their stores
            self.fields["store"].required = True
            self.fields["store"].help_text = _("只能设置自己门店的规则；总部默认规则只有总部可以修改")


@admin.register(ExpressFeeRule)
class ExpressFeeRuleAdmin(StoreScopedAdminMixin, admin.ModelAdmin):
    """HQ: every rule; store staff: their stores' rules only (the HQ rule, without a store, is not in
    their queryset, so its change page answers 404)."""

    form = ExpressFeeRuleForm
    list_display = ["__str__", "base_fee", "free_over", "excluded_provinces", "is_active", "updated_at"]
    list_select_related = ["store"]
    staff_may_add = True
    staff_may_delete = True

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        hq = is_hq(request.user)

        class ScopedForm(form):
            def __init__(self, *args, **kw):
                super().__init__(*args, hq=hq, **kw)

        return ScopedForm


# --- reconciliation (orders.payments.reconcile) ----------------------------------------------------
class ReconciliationDifferenceInline(admin.TabularInline):
    """The differences this run found that are still the day's (a later comparison of the same bill
    replaced the others); other apps' lines are left out (a seller account can have thousands)."""

    model = ReconciliationDifference
    fk_name = "run"
    extra = 0
    can_delete = False
    fields = ["kind", "row_kind", "channel", "out_trade_no", "out_refund_no", "gateway_reference", "ours_fen",
              "theirs_fen", "order", "occurred_at", "recorded_at", "note"]
    readonly_fields = fields

    def get_queryset(self, request):
        return super().get_queryset(request).exclude(kind=ReconciliationDifference.Kind.NOT_OURS).select_related("order")

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_view_permission(self, request, obj=None):
        return is_hq(request.user)


@admin.register(ReconciliationRun)
class ReconciliationRunAdmin(BoundedDateHierarchyMixin, admin.ModelAdmin):
    """Every reconciliation run, read-only and for HQ only (the bills cover every store): whatever
    model permissions a store's staff hold, the runs are neither listed nor opened for them."""

    list_display = ["day", "status", "trigger", "requested_by", "differences", "not_ours", "finished_at"]
    list_filter = ["status", "trigger"]
    list_select_related = ["requested_by"]
    date_hierarchy = "day"
    readonly_fields = ["backoffice"]
    inlines = [ReconciliationDifferenceInline]
    show_full_result_count = False

    @admin.display(description=_("对账页面"))
    def backoffice(self, obj):
        return format_html('<a href="{}">{}</a>', reverse("orders_bo:reconciliation_day", args=[obj.day.isoformat()]),
                           _("到支付对账页面"))

    def get_readonly_fields(self, request, obj=None):
        return ["backoffice", *[f.name for f in ReconciliationRun._meta.fields]]

    def get_fields(self, request, obj=None):
        return self.get_readonly_fields(request, obj)

    def has_module_permission(self, request):
        return is_hq(request.user)

    def has_view_permission(self, request, obj=None):
        return is_hq(request.user)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
