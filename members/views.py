"""Shopper pages of the members app: member centre, points, sign-in, addresses, profile."""

from datetime import timedelta

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from core.navigation import safe_next
from core.numbers import id_or_none

from . import selectors, services
from .forms import AddressForm, ProfileForm
from .models import Address

RECENT_POINTS = 5


def _is_htmx(request):
    return request.headers.get("HX-Request") == "true"


@login_required
def member_centre(request):
    member = selectors.member_with_level(request.user, with_addresses=True)
    progress = selectors.level_progress(member)
    recent, next_cursor = selectors.points_page(member, size=RECENT_POINTS)
    return render(
        request,
        "members/member_centre.html",
        {
            "active_tab": "me",
            "member": member,
            "progress": progress,
            "recent_points": recent,
            "more_points": next_cursor is not None,
            "points_value": services.points_value(member.points_balance),
            "signed_today": member.last_sign_in_on == _today(),
            "streak_alive": member.last_sign_in_on is not None
            and member.last_sign_in_on >= _today() - timedelta(days=1),
            "extras": selectors.member_centre_extras(request),
            "order_shortcuts": ORDER_SHORTCUTS,
        },
    )


ORDER_SHORTCUTS = [
    # (status in the orders app's list filter, label, icon glyph)
    ("pending_payment", gettext_lazy("待付款"), "¥"),
    ("paid", gettext_lazy("待发货"), "▣"),
    ("shipped", gettext_lazy("待收货"), "⇥"),
    ("completed", gettext_lazy("已完成"), "✓"),
    ("after_sale", gettext_lazy("售后"), "↺"),
]


def _today():
    return timezone.localdate()


@login_required
@require_POST
def sign_in(request):
    result = services.sign_in(request.user)
    if _is_htmx(request):
        member = selectors.member_with_level(request.user)
        return render(
            request,
            "members/partials/_sign_in.html",
            {"member": member, "signed_today": True, "result": result},
        )
    if result.created:
        messages.success(request, _("签到成功，获得 %(points)s 积分") % {"points": result.points})
    else:
        messages.info(request, _("今天已经签到过了"))
    return redirect("members:me")


@login_required
def points_history(request):
    member = selectors.member_with_level(request.user)
    before = id_or_none(request.GET.get("before"))
    rows, next_cursor = selectors.points_page(member, before=before)
    context = {"member": member, "rows": rows, "next_cursor": next_cursor, "active_tab": "me"}
    if _is_htmx(request) and before:
        return render(request, "members/partials/_points_rows.html", context)
    return render(request, "members/points_history.html", context)


@login_required
def address_list(request):
    return render(
        request,
        "members/address_list.html",
        {
            "addresses": selectors.addresses_for(request.user),
            "active_tab": "me",
            "next": safe_next(request, ""),
        },
    )


def _address_form(request, address=None):
    form = AddressForm(request.POST or None, instance=address)
    if request.method == "POST" and form.is_valid():
        try:
            services.save_address(
                request.user, form.save(commit=False), make_default=form.cleaned_data["make_default"]
            )
        except services.MembersError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, _("地址已保存"))
            return redirect(safe_next(request, "members:addresses"))
    return render(
        request,
        "members/address_form.html",
        {
            "form": form,
            "address": address,
            "active_tab": "me",
            "hide_tabbar": True,
            "next": safe_next(request, ""),
        },
    )


@login_required
def address_create(request):
    return _address_form(request)


@login_required
def address_edit(request, pk):
    return _address_form(request, get_object_or_404(Address, pk=pk, user=request.user))


@login_required
@require_POST
def address_delete(request, pk):
    try:
        services.delete_address(request.user, pk)
    except services.MembersError as exc:
        raise Http404 from exc
    messages.success(request, _("地址已删除"))
    return redirect("members:addresses")


@login_required
@require_POST
def address_set_default(request, pk):
    try:
        services.set_default_address(request.user, pk)
    except services.MembersError as exc:
        raise Http404 from exc
    messages.success(request, _("已设为默认地址"))
    return redirect(safe_next(request, "members:addresses"))


@login_required
def profile_edit(request):
    member = selectors.member_with_level(request.user)
    initial = {
        "nickname": request.user.nickname,
        "gender": member.gender,
        "birthday": member.birthday,
        "avatar": request.user.avatar,
    }
    form = ProfileForm(request.POST or None, request.FILES or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        services.update_profile(
            request.user,
            nickname=data["nickname"],
            gender=data["gender"],
            birthday=data["birthday"],
            avatar=data["avatar"] or None,
            clear_avatar=data["avatar"] is False,  # ClearableFileInput's "clear" box
        )
        messages.success(request, _("资料已保存"))
        return redirect("members:me")
    return render(
        request,
        "members/profile_form.html",
        {"form": form, "member": member, "active_tab": "me", "hide_tabbar": True},
    )
