from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from import_export import fields, resources
from import_export.admin import ExportMixin

from . import services
from .auth.phones import format_phone
from .forms import LevelChangeForm, PointsAdjustForm
from .models import Address, Consent, LegalDocument, LevelChange, Member, MemberLevel, PointsEntry, User


class MemberInline(admin.StackedInline):
    model = Member
    fk_name = "user"
    can_delete = False
    fields = ("level", "points_balance", "growth", "gender", "birthday", "source", "referrer", "created_at")
    readonly_fields = ("level", "points_balance", "growth", "source", "referrer", "created_at")
    extra = 0


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    list_display = ("username", "nickname", "shown_phone", "is_staff", "is_active", "date_joined")
    search_fields = ("username", "nickname", "phone")
    fieldsets = DjangoUserAdmin.fieldsets + ((_("会员资料"), {"fields": ("phone", "nickname", "avatar")}),)
    inlines = [MemberInline]

    @admin.display(description=_("手机号"), ordering="phone")
    def shown_phone(self, obj):
        return format_phone(obj.phone) or "-"


class MemberResource(resources.ModelResource):
    phone = fields.Field(attribute="user__phone", column_name=_("手机号"))
    nickname = fields.Field(attribute="user__nickname", column_name=_("昵称"))
    level_name = fields.Field(attribute="level__name", column_name=_("等级"))
    points = fields.Field(attribute="points_balance", column_name=_("积分余额"))
    growth_value = fields.Field(attribute="growth", column_name=_("成长值"))
    source_name = fields.Field(attribute="get_source_display", column_name=_("注册来源"))
    registered = fields.Field(attribute="created_at", column_name=_("注册时间"))

    def dehydrate_phone(self, member):
        return format_phone(member.user.phone)  # 138 0013 8000: text in Excel, not "+86…"

    class Meta:
        model = Member
        fields = (
            "id",
            "phone",
            "nickname",
            "level_name",
            "points",
            "growth_value",
            "source_name",
            "registered",
        )
        export_order = fields

    def get_queryset(self):
        return Member.objects.select_related("user", "level")


@admin.register(Member)
class MemberAdmin(ExportMixin, admin.ModelAdmin):
    """Members: search by phone/nickname, filter by level; points and level change only with a reason."""

    resource_classes = [MemberResource]
    list_display = (
        "user",
        "phone",
        "level",
        "points_balance",
        "growth",
        "source",
        "created_at",
        "actions_links",
    )
    list_filter = ("level", "source", "gender")
    search_fields = ("user__phone", "user__nickname", "user__username")
    list_select_related = ("user", "level")
    readonly_fields = (
        "user",
        "level",
        "points_balance",
        "growth",
        "source",
        "referrer",
        "created_at",
        "sign_in_streak",
    )
    fields = readonly_fields + ("gender", "birthday")
    ordering = ("-id",)

    def has_add_permission(self, request):
        return False  # a member profile is created with its user

    def get_queryset(self, request):
        return super().get_queryset(request).filter(user__is_staff=False, user__is_superuser=False)

    @admin.display(description=_("手机号"), ordering="user__phone")
    def phone(self, obj):
        return format_phone(obj.user.phone) or "-"

    @admin.display(description=_("操作"))
    def actions_links(self, obj):
        return format_html(
            '<a href="{}">{}</a> | <a href="{}">{}</a>',
            reverse("admin:members_member_adjust_points", args=[obj.pk]),
            _("调整积分"),
            reverse("admin:members_member_change_level", args=[obj.pk]),
            _("修改等级"),
        )

    def get_urls(self):
        own = [
            path(
                "<int:pk>/adjust-points/",
                self.admin_site.admin_view(self.adjust_points_view),
                name="members_member_adjust_points",
            ),
            path(
                "<int:pk>/change-level/",
                self.admin_site.admin_view(self.change_level_view),
                name="members_member_change_level",
            ),
        ]
        return own + super().get_urls()

    def _form_view(self, request, pk, form_class, title, apply):
        member = get_object_or_404(Member.objects.select_related("user", "level"), pk=pk)
        if not self.has_change_permission(request, member):
            raise PermissionDenied
        form = form_class(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                apply(member, form.cleaned_data)
            except services.MembersError as exc:
                form.add_error(None, str(exc))
            else:
                self.message_user(request, _("已保存"), messages.SUCCESS)
                return redirect("admin:members_member_change", member.pk)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": title,
            "member": member,
            "form": form,
        }
        return TemplateResponse(request, "members/admin/member_form.html", context)

    def adjust_points_view(self, request, pk):
        return self._form_view(
            request,
            pk,
            PointsAdjustForm,
            _("调整积分"),
            lambda member, data: services.adjust_points(
                member, data["delta"], data["reason"], request.user,
                reference=f"staff:{data['request_id']}" if data.get("request_id") else "",
            ),
        )

    def change_level_view(self, request, pk):
        return self._form_view(
            request,
            pk,
            LevelChangeForm,
            _("修改等级"),
            lambda member, data: services.change_level(member, data["level"], data["reason"], request.user),
        )


@admin.register(MemberLevel)
class MemberLevelAdmin(admin.ModelAdmin):
    list_display = (
        "name",
        "rank",
        "growth_threshold",
        "discount_percent",
        "points_multiplier",
        "flash_sale_early_minutes",
        "free_delivery",
        "birthday_points",
    )
    ordering = ("rank",)


class ReadOnlyAdmin(admin.ModelAdmin):
    """Ledgers are append-only: visible to staff, changed only by the services."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(PointsEntry)
class PointsEntryAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "member", "kind", "delta", "balance_after", "reference", "reason", "actor")
    list_filter = ("kind",)
    search_fields = ("member__user__phone", "member__user__nickname", "reference")
    list_select_related = ("member__user", "actor")


@admin.register(LevelChange)
class LevelChangeAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "member", "from_level", "to_level", "reason", "actor")
    list_select_related = ("member__user", "from_level", "to_level", "actor")


@admin.register(Address)
class AddressAdmin(admin.ModelAdmin):
    list_display = ("receiver", "phone", "province", "city", "district", "user", "is_default")
    search_fields = ("receiver", "phone", "user__phone", "user__nickname")
    list_select_related = ("user",)
    raw_id_fields = ("user",)


@admin.register(LegalDocument)
class LegalDocumentAdmin(admin.ModelAdmin):
    """用户协议 and 隐私政策: "增加" publishes a new version (shoppers agree to the newest at their next
    login); editing a row corrects its text without asking anyone again."""

    list_display = ("title", "kind", "version", "published_at")
    list_filter = ("kind",)
    fields = ("kind", "version", "title", "body")

    def get_form(self, request, obj=None, **kwargs):
        form = super().get_form(request, obj, **kwargs)
        if obj is None:
            form.base_fields["version"].required = False
            form.base_fields["version"].help_text = _("留空则为该类型的下一个版本")
        return form

    def get_readonly_fields(self, request, obj=None):
        return ("kind", "version") if obj is not None else ()

    def save_model(self, request, obj, form, change):
        if not change and not obj.version:
            latest = LegalDocument.objects.filter(kind=obj.kind).order_by("-version").first()
            obj.version = (latest.version if latest else 0) + 1
        super().save_model(request, obj, form, change)


@admin.register(Consent)
class ConsentAdmin(admin.ModelAdmin):
    """The record of who agreed to which version, when: read only."""

    list_display = ("user", "kind", "version", "agreed_at", "channel", "ip")
    list_filter = ("kind", "channel")
    search_fields = ("user__phone", "user__username")
    raw_id_fields = ("user",)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
