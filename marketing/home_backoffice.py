"""Back office 首页装修: HQ arranges the home page (banners, notice bar, featured products, the
category grid) and the search page's hot words. One list page and one edit page per kind.

HQ only: each kind needs its model's view and change permissions (store staff hold none of them),
and marketing.home.save_content checks the change permission once more. Every write is a POST;
a create form's one-time id makes a double submit add one row; deleting what is already gone
says so and changes nothing.
"""

from dataclasses import dataclass

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST

from catalog.models import Category, FeaturedProduct, HotSearchWord
from core.backoffice import staff_required
from core.numbers import id_or_none

from . import home
from .home_forms import (
    BannerForm,
    CategoryGridForm,
    FeaturedProductForm,
    HomeNoticeForm,
    HotSearchWordForm,
    OneTimeForm,
)
from .models import Banner, HomeNotice


@dataclass(frozen=True)
class Kind:
    slug: str
    model: type
    form: type
    title: str
    columns: tuple  # (label, attribute) of the list
    can_create: bool = True

    @property
    def perms(self):
        meta = self.model._meta
        return (f"{meta.app_label}.view_{meta.model_name}", f"{meta.app_label}.change_{meta.model_name}")

    def queryset(self):
        if self.model is Banner:
            return Banner.objects.select_related("product", "category", "coupon").order_by("sort_order", "id")
        if self.model is FeaturedProduct:
            return FeaturedProduct.objects.select_related("product").order_by("sort_order", "id")
        if self.model is Category:
            return Category.objects.filter(parent__isnull=True).order_by("sort_order", "tree_id")
        return self.model.objects.order_by("sort_order", "id")


KINDS = {
    kind.slug: kind
    for kind in (
        Kind("banners", Banner, BannerForm, _("首页轮播图"),
             ((_("标题"), "title"), (_("跳转"), "link_label"), (_("时间"), "schedule"), (_("排序"), "sort_order"),
              (_("状态"), "state"))),
        Kind("notices", HomeNotice, HomeNoticeForm, _("首页公告"),
             ((_("公告内容"), "text"), (_("链接"), "link_path"), (_("时间"), "schedule"), (_("排序"), "sort_order"),
              (_("状态"), "state"))),
        Kind("featured", FeaturedProduct, FeaturedProductForm, _("首页精选商品"),
             ((_("商品"), "product"), (_("排序"), "sort_order"))),
        Kind("categories", Category, CategoryGridForm, _("首页分类宫格"),
             ((_("分类"), "name"), (_("图标样式"), "icon_label"), (_("排序"), "sort_order"), (_("状态"), "state")),
             can_create=False),
        Kind("hot-words", HotSearchWord, HotSearchWordForm, _("热搜词"),
             ((_("热搜词"), "word"), (_("排序"), "sort_order"), (_("状态"), "state"))),
    )
}


def _kind(request, slug):
    kind = KINDS.get(slug)
    if kind is None:
        raise Http404("no such content")
    if not request.user.has_perms(kind.perms):
        raise PermissionDenied
    return kind


def _row(kind, pk):
    pk = id_or_none(pk)
    row = kind.queryset().filter(pk=pk).first() if pk else None
    if row is None:
        raise Http404("no such row")
    return row


def _list_url(kind):
    return reverse("marketing_bo:home_list", args=[kind.slug])


def _cells(kind, row):
    from django.utils import timezone
    from django.utils.formats import date_format

    def when(value):
        return date_format(timezone.localtime(value), "Y-m-d H:i") if value else ""

    cells = []
    for _label, attribute in kind.columns:
        if attribute == "schedule":
            value = f"{when(row.starts_at) or _('立即')} ~ {when(row.ends_at) or _('长期')}"
        elif attribute == "state":
            showing = row.is_showing() if hasattr(row, "is_showing") else row.is_active
            value = _("展示中") if showing else (_("未启用") if not row.is_active else _("未到时间或已结束"))
        elif attribute == "link_label":
            target = {"product": row.product, "category": row.category, "coupon": row.coupon, "path": row.path}
            value = f"{row.get_link_kind_display()} {target.get(row.link_kind) or ''}".strip()
        elif attribute == "icon_label":
            value = row.get_icon_name_display() if row.icon_name else (_("已上传图片") if row.icon else "")
        else:
            value = getattr(row, attribute)
        cells.append(value)
    return cells


@staff_required
def content_list(request, slug):
    kind = _kind(request, slug)
    rows = [{"pk": row.pk, "cells": _cells(kind, row)} for row in kind.queryset()]
    return render(request, "marketing/backoffice/home_list.html", {"kind": kind, "kinds": _visible(request), "rows": rows})


def _visible(request):
    return [kind for kind in KINDS.values() if request.user.has_perms(kind.perms)]


def _edit(request, kind, row):
    """Show or save the form of `row` (None: a new one)."""
    creating = row is None
    instance = row if row is not None else kind.model()
    once = OneTimeForm(request.POST or None) if creating else None
    if request.method == "POST":
        form = kind.form(request.POST, request.FILES, instance=instance)
        if form.is_valid() and (once is None or once.is_valid()):
            try:
                saved, created = home.save_content(
                    form.instance, by=request.user, request_id=once.cleaned_data["request_id"] if once else None
                )
            except ValidationError as exc:
                form.add_error(None, exc)
            except home.HomeContentError as exc:
                raise PermissionDenied(str(exc)) from None
            else:
                if creating and not created:
                    messages.info(request, _("已保存过，请勿重复提交"))
                else:
                    messages.success(request, _("已保存：%(name)s") % {"name": saved})
                return redirect(_list_url(kind))
        elif once is not None and not once.is_valid():
            form.add_error(None, _("表单已过期，请重新提交"))
    else:
        form = kind.form(instance=instance)
        once = OneTimeForm() if creating else None
    return render(
        request,
        "marketing/backoffice/home_form.html",
        {"kind": kind, "kinds": _visible(request), "form": form, "once": once, "row": row},
    )


@staff_required
def content_create(request, slug):
    kind = _kind(request, slug)
    if not kind.can_create:
        raise Http404("not created here")
    return _edit(request, kind, None)


@staff_required
def content_edit(request, slug, pk):
    kind = _kind(request, slug)
    return _edit(request, kind, _row(kind, pk))


@staff_required
@require_POST
def content_delete(request, slug, pk):
    kind = _kind(request, slug)
    if not kind.can_create:
        raise Http404("not deleted here")
    try:
        deleted = home.delete_content(kind.model, id_or_none(pk) or 0, by=request.user)
    except home.HomeContentError as exc:
        raise PermissionDenied(str(exc)) from None
    if deleted:
        messages.success(request, _("已删除"))
    else:
        messages.info(request, _("该内容已删除"))
    return redirect(_list_url(kind))


@staff_required
def home_index(request):
    kinds = _visible(request)
    if not kinds:
        raise PermissionDenied
    return redirect(_list_url(kinds[0]))
