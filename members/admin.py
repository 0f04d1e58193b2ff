from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.utils.translation import gettext_lazy as _

from .models import User


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    list_display = ("username", "nickname", "phone", "is_staff", "is_active", "date_joined")
    search_fields = ("username", "nickname", "phone")
    fieldsets = DjangoUserAdmin.fieldsets + ((_("会员资料"), {"fields": ("phone", "nickname", "avatar")}),)
