"""Admin for coupons, members' coupons, the points mall and its exchanges.

Counters (a coupon's issued copies, an item's exchanges) are read-only: they move only through
marketing.services. Copies and exchanges are records, not edited here; staff grant coupons and
cancel an awaiting exchange through actions that call the services. Exchanges are scoped by store:
store staff see the goods exchanges of their own stores, coupon exchanges (no store) only HQ.
"""

from django import forms
from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from core.admin import BoundedAutocompleteMixin, BoundedDateHierarchyMixin
from core.errors import DomainError
from stores.scope import StoreScopedAdminMixin, is_hq

from . import mall_cache, services
from .backoffice_forms import GrantCouponForm
from .models import Banner, Coupon, HomeNotice, MemberCoupon, PointsExchange, PointsItem

# once copies are out, what they are worth stays as it was when they were issued
COUPON_VALUE_FIELDS = (
    "kind", "amount", "discount_percent", "max_discount", "threshold", "scope", "scope_categories", "scope_products",
)


class CouponAdminForm(forms.ModelForm):
    class Meta:
        model = Coupon
        fields = [
            "name", "description", "is_active", "claimable", "kind", "amount", "discount_percent", "max_discount",
            "threshold", "scope", "scope_categories", "scope_products", "validity", "valid_days", "valid_from",
            "valid_until", "total_quantity", "per_member_limit",
        ]

    def clean(self):
        cleaned = super().clean()
        scope = cleaned.get("scope", self.instance.scope)
        if scope == Coupon.Scope.CATEGORIES and "scope_categories" in self.fields and not cleaned.get("scope_categories"):
            self.add_error("scope_categories", _("请选择适用的分类"))
        if scope == Coupon.Scope.PRODUCTS and "scope_products" in self.fields and not cleaned.get("scope_products"):
            self.add_error("scope_products", _("请选择适用的商品"))
        return cleaned


def grant_reference(request_id, user_id):
    """One copy per member per grant form: the form's id and the member's."""
    return f"grant:{request_id.hex}:{user_id}"


def grant_coupon_by_phones(coupon, phones, *, request_id):
    """Give `coupon` to the members with these phones (+86…). Returns (granted, again, unknown,
    failed): copies issued now, members this form had already granted (a resubmit), phones with no
    account, and (phone, message) for those the service refused (sold out, stopped…)."""
    User = get_user_model()
    users = {u.phone: u for u in User.objects.filter(phone__in=phones)}
    references = {grant_reference(request_id, u.pk): u for u in users.values()}
    done_before = set(
        MemberCoupon.objects.filter(
            coupon=coupon, source=MemberCoupon.Source.GRANT, reference__in=list(references)
        ).values_list("reference", flat=True)
    )
    granted, again, unknown, failed = [], [], [], []
    for phone in phones:
        user = users.get(phone)
        if user is None:
            unknown.append(phone)
            continue
        if not user.is_active:  # a closed or merged-away account: nobody would ever see the coupon
            failed.append((phone, _("该账号已停用")))
            continue
        reference = grant_reference(request_id, user.pk)
        if reference in done_before:
            again.append(phone)
            continue
        try:
            services.issue_coupon(user, coupon, source=MemberCoupon.Source.GRANT, reference=reference)
        except DomainError as exc:
            failed.append((phone, str(exc)))
        else:
            granted.append(phone)
    return granted, again, unknown, failed


def _local_phone(phone):
    return phone.removeprefix("+86")


class KeepCounterAdminMixin:
    """Saving a changed row writes every field but `counter_field`: the counter (moved by the
    services' conditional UPDATEs) is not written back as it was when the form loaded the row."""

    counter_field = None

    def save_model(self, request, obj, form, change):
        if not change:
            return super().save_model(request, obj, form, change)
        fields = [f.name for f in obj._meta.concrete_fields if not f.primary_key and f.name != self.counter_field]
        obj.save(update_fields=fields)


@admin.register(Coupon)
class CouponAdmin(BoundedAutocompleteMixin, KeepCounterAdminMixin, admin.ModelAdmin):
    form = CouponAdminForm
    counter_field = "issued_count"
    list_display = [
        "name", "kind", "face", "condition", "validity_text", "issued_of_total", "claimable", "is_active",
        "grant_link",
    ]
    list_filter = ["kind", "validity", "claimable", "is_active"]
    search_fields = ["name", "description"]
    readonly_fields = ["issued_count", "created_at"]
    autocomplete_fields = ["scope_products"]
    filter_horizontal = ["scope_categories"]
    actions = ["grant_to_members", "deactivate"]
    fieldsets = [
        (None, {"fields": ["name", "description", "is_active", "claimable"]}),
        (_("面额"), {"fields": ["kind", "amount", "discount_percent", "max_discount", "threshold"]}),
        (_("适用范围"), {"fields": ["scope", "scope_categories", "scope_products"]}),
        (_("有效期"), {"fields": ["validity", "valid_days", "valid_from", "valid_until"]}),
        (_("数量"), {"fields": ["total_quantity", "issued_count", "per_member_limit", "created_at"]}),
    ]

    def get_readonly_fields(self, request, obj=None):
        fields = list(super().get_readonly_fields(request, obj))
        if obj is not None and obj.issued_count:
            fields += COUPON_VALUE_FIELDS
        return fields

    @admin.display(description=_("面额"))
    def face(self, obj):
        return obj.face_text

    @admin.display(description=_("使用门槛"), ordering="threshold")
    def condition(self, obj):
        text = obj.condition_text
        if obj.kind == Coupon.Kind.DISCOUNT and obj.max_discount:
            text = _("%(condition)s，最多减 ¥%(max)s") % {
                "condition": text, "max": format(obj.max_discount.normalize(), "f"),
            }
        return text

    @admin.display(description=_("有效期"))
    def validity_text(self, obj):
        if obj.validity == Coupon.Validity.RELATIVE:
            return _("领取后 %(n)s 天") % {"n": obj.valid_days}
        until = date_format(timezone.localtime(obj.valid_until), "Y-m-d H:i")
        if obj.valid_from:
            return f"{date_format(timezone.localtime(obj.valid_from), 'Y-m-d H:i')} ~ {until}"
        return _("至 %(until)s") % {"until": until}

    @admin.display(description=_("已发放/总量"), ordering="issued_count")
    def issued_of_total(self, obj):
        total = obj.total_quantity if obj.total_quantity is not None else _("不限")
        return f"{obj.issued_count} / {total}"

    @admin.display(description=_("操作"))
    def grant_link(self, obj):
        return format_html(
            '<a href="{}">{}</a>', reverse("admin:marketing_coupon_grant", args=[obj.pk]), _("发放给会员")
        )

    def get_urls(self):
        own = [
            path("<int:pk>/grant/", self.admin_site.admin_view(self.grant_view), name="marketing_coupon_grant"),
        ]
        return own + super().get_urls()

    @admin.action(description=_("发放给会员（按手机号）"), permissions=["change"])
    def grant_to_members(self, request, queryset):
        coupons = list(queryset[:2])
        if len(coupons) != 1:
            self.message_user(request, _("请只选择一张优惠券进行发放"), messages.WARNING)
            return None
        return redirect("admin:marketing_coupon_grant", coupons[0].pk)

    @admin.action(description=_("停止发放所选优惠券"), permissions=["change"])
    def deactivate(self, request, queryset):
        changed = queryset.filter(is_active=True).update(is_active=False)
        mall_cache.bump()  # an update sends no post_save: the mall's cards of these coupons show 已兑完
        self.message_user(request, _("已停止发放 %(n)s 张优惠券") % {"n": changed}, messages.SUCCESS)

    def grant_view(self, request, pk):
        coupon = get_object_or_404(Coupon, pk=pk)
        if not self.has_change_permission(request, coupon):
            raise PermissionDenied
        form = GrantCouponForm(request.POST or None)
        result = None
        if request.method == "POST" and form.is_valid():
            phones, invalid = form.split_phones()
            granted, again, unknown, failed = grant_coupon_by_phones(
                coupon, phones, request_id=form.cleaned_data["request_id"]
            )
            result = {
                "granted": [_local_phone(p) for p in granted],
                "again": [_local_phone(p) for p in again],
                "unknown": [_local_phone(p) for p in unknown],
                "invalid": invalid,
                "failed": [(_local_phone(p), message) for p, message in failed],
            }
            if granted:
                self.message_user(
                    request, _("已向 %(n)s 位会员发放“%(coupon)s”") % {"n": len(granted), "coupon": coupon.name},
                    messages.SUCCESS,
                )
            if again:
                self.message_user(
                    request, _("%(n)s 位会员已由本次表单发放过，未重复发放") % {"n": len(again)}, messages.INFO
                )
            if unknown or invalid or failed:
                self.message_user(request, _("部分手机号未发放，详见下方列表"), messages.WARNING)
            coupon.refresh_from_db()
            form = GrantCouponForm()  # the next batch is a new grant; a re-sent POST still carries the old id
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": _("发放优惠券"),
            "coupon": coupon,
            "form": form,
            "result": result,
        }
        return TemplateResponse(request, "marketing/admin/grant_coupon.html", context)


class ReadOnlyAdmin(admin.ModelAdmin):
    """Records written by the services: visible, never added, edited or deleted here."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(MemberCoupon)
class MemberCouponAdmin(BoundedDateHierarchyMixin, ReadOnlyAdmin):
    list_display = ["coupon", "member", "phone", "status", "source", "reference", "claimed_at", "valid_until",
                    "used_at", "used_reference"]
    list_filter = ["status", "source", "coupon"]
    search_fields = ["user__phone", "user__nickname", "coupon__name", "reference", "used_reference"]
    list_select_related = ["coupon", "user"]
    date_hierarchy = "claimed_at"
    ordering = ["-claimed_at", "-pk"]

    @admin.display(description=_("会员"), ordering="user__nickname")
    def member(self, obj):
        return obj.user.nickname or obj.user.username

    @admin.display(description=_("手机号"), ordering="user__phone")
    def phone(self, obj):
        return _local_phone(obj.user.phone) or "-"


@admin.register(PointsItem)
class PointsItemAdmin(BoundedAutocompleteMixin, KeepCounterAdminMixin, admin.ModelAdmin):
    counter_field = "exchanged_count"
    list_display = ["title", "kind", "target", "points", "remaining_display", "exchanged_count", "is_active",
                    "sort_order"]
    list_filter = ["kind", "is_active"]
    list_editable = ["sort_order"]
    search_fields = ["title", "coupon__name", "sku__code", "sku__product__name"]
    list_select_related = ["coupon", "sku__product"]
    autocomplete_fields = ["coupon", "sku"]
    readonly_fields = ["exchanged_count", "created_at"]
    fieldsets = [
        (None, {"fields": ["kind", "title", "image", "description", "points"]}),
        (_("兑换内容"), {"fields": ["coupon", "sku"], "description": _("优惠券兑换选优惠券；实物兑换选商品SKU，会员到店自提")}),
        (_("数量与时间"), {"fields": ["quantity", "exchanged_count", "per_member_limit", "starts_at", "ends_at",
                                  "is_active", "sort_order", "created_at"]}),
    ]

    @admin.display(description=_("兑换内容"))
    def target(self, obj):
        return obj.coupon if obj.kind == PointsItem.Kind.COUPON else obj.sku

    @admin.display(description=_("剩余"))
    def remaining_display(self, obj):
        remaining = obj.remaining
        return _("不限") if remaining is None else remaining


@admin.register(PointsExchange)
class PointsExchangeAdmin(BoundedDateHierarchyMixin, StoreScopedAdminMixin, admin.ModelAdmin):
    """Exchanges are records; the one thing staff do here is cancel a goods exchange not yet picked
    up (the unit returns to the store, the points to the member). Verification is in the back office."""

    store_field = "store"
    staff_may_add = False
    list_display = ["created_at", "title", "member", "points", "status", "store", "pickup_deadline",
                    "picked_up_at", "picked_up_by"]
    list_filter = ["status", "kind", ("store", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["title", "user__phone", "user__nickname"]
    list_select_related = ["user", "store", "picked_up_by"]
    date_hierarchy = "created_at"
    actions = ["cancel_awaiting"]
    fields = ["user", "item", "kind", "title", "points", "status", "member_coupon", "store", "sku", "pickup_code",
              "pickup_deadline", "picked_up_at", "picked_up_by", "closed_at", "closed_by", "created_at", "request_id"]

    def get_fields(self, request, obj=None):
        fields = list(super().get_fields(request, obj))
        if not is_hq(request.user):
            # the code is the shopper's proof at the counter; staff ask for it, they do not read it here;
            # and a clerk sees the member by nickname and masked phone, as on the verification page
            fields.remove("pickup_code")
            fields[fields.index("user")] = "member"
        return fields

    def get_readonly_fields(self, request, obj=None):
        return self.get_fields(request, obj)

    @admin.display(description=_("会员"), ordering="user__nickname")
    def member(self, obj):
        return obj.user.staff_label

    def has_change_permission(self, request, obj=None):
        # the change perm lets staff run the cancel action on the list; a single record stays read-only
        return obj is None and super().has_change_permission(request, obj)

    def has_add_permission(self, request):
        return False  # exchanges are made by shoppers in the points mall (services.exchange_points)

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.action(description=_("取消所选待自提兑换（退回积分与库存）"), permissions=["change"])
    def cancel_awaiting(self, request, queryset):
        cancelled, refused = 0, []
        skipped = queryset.exclude(status=PointsExchange.Status.AWAITING_PICKUP).count()
        for exchange in queryset.filter(status=PointsExchange.Status.AWAITING_PICKUP).order_by("pk"):
            try:
                services.cancel_exchange(exchange.pk, by=request.user)
            except DomainError as exc:
                refused.append(f"{exchange.title}: {exc}")
            else:
                cancelled += 1
        if cancelled:
            self.message_user(request, _("已取消 %(n)s 个兑换，积分和库存已退回") % {"n": cancelled}, messages.SUCCESS)
        if skipped:
            self.message_user(
                request, _("%(n)s 个兑换不是待自提状态，未处理") % {"n": skipped}, messages.WARNING
            )
        for line in refused:
            self.message_user(request, line, messages.ERROR)


@admin.register(Banner)
class BannerAdmin(admin.ModelAdmin):
    """The home page's carousel (also edited in the back office's 首页装修)."""

    list_display = ("title", "link_kind", "starts_at", "ends_at", "sort_order", "is_active")
    list_editable = ("sort_order", "is_active")
    list_filter = ("is_active", "link_kind")
    search_fields = ("title",)
    raw_id_fields = ("product", "category", "coupon")
    ordering = ("sort_order", "id")


@admin.register(HomeNotice)
class HomeNoticeAdmin(admin.ModelAdmin):
    list_display = ("text", "link_path", "starts_at", "ends_at", "sort_order", "is_active")
    list_editable = ("sort_order", "is_active")
    search_fields = ("text",)
    ordering = ("sort_order", "id")
