"""Shopper pages of the members app: member centre, points, sign-in, addresses, profile."""

from datetime import date, timedelta
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext_lazy
from django.views.decorators.http import require_http_methods, require_POST

from core import shell
from core.navigation import safe_next
from core.numbers import id_or_none, int_or_none

from . import centre, selectors, services
from .forms import AddressForm, ProfileForm
from .models import Address

RECENT_POINTS = 5


def _is_htmx(request):
    return request.headers.get("HX-Request") == "true"


@login_required
def member_centre(request):
    """The member centre: its figures in one query (members.centre.summary), its body from the cache
    under those figures, rendered (one more query, the recent points) only when one of them changed."""
    read = centre.summary(request.user)
    member = read.member
    request.member_centre_counts = read.counts
    progress = selectors.level_progress(member)
    today = _today()
    user = request.user
    context = {
        "member": member,
        "progress": progress,
        "points_value": services.points_value(member.points_balance),
        "signed_today": member.last_sign_in_on == today,
        "streak_alive": member.last_sign_in_on is not None and member.last_sign_in_on >= today - timedelta(days=1),
        "extras": selectors.member_centre_extras(request),
        "order_shortcuts": ORDER_SHORTCUTS,
    }
    facts = (
        read.figures, today, context["points_value"],
        user.display_name, user.masked_phone, user.phone, user.phone_verified, str(user.avatar or ""),
    )

    def full_context():
        recent, next_cursor = selectors.points_page(member, size=RECENT_POINTS)
        return {**context, "recent_points": recent, "more_points": next_cursor is not None}

    body = centre.cached_body(request, facts, full_context)
    return shell.render_page(request, "members/member_centre.html", context, body, layout={"active_tab": "me"})


ORDER_SHORTCUTS = [
    # (status in the orders app's list filter, label, icon glyph)
    ("pending_payment", gettext_lazy("待付款"), "¥"),
    ("paid", gettext_lazy("待发货"), "▣"),
    ("shipped", gettext_lazy("待收货"), "⇥"),
    ("completed", gettext_lazy("已完成"), "✓"),
    ("after_sale", gettext_lazy("售后"), "↺"),
]


# the sign-in calendar's columns, Sunday first as Chinese wall calendars print them
WEEKDAY_NAMES = [
    pgettext_lazy("星期", "日"),
    pgettext_lazy("星期", "一"),
    pgettext_lazy("星期", "二"),
    pgettext_lazy("星期", "三"),
    pgettext_lazy("星期", "四"),
    pgettext_lazy("星期", "五"),
    pgettext_lazy("星期", "六"),
]


def _today():
    return timezone.localdate()


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def sign_in(request):
    """GET: the sign-in page (this month's calendar, the rules, the button). POST: sign in for
    today; from the member centre by htmx, the answer also refreshes its points figures (balance,
    可抵扣, the recent entries) out of band."""
    if request.method == "POST":
        return _sign_in_now(request)
    member = selectors.member_with_level(request.user)
    today = _today()
    month = _month_asked(request.GET.get("month"), today)
    weeks, signed_count = selectors.sign_in_calendar(member, month, today)
    first_month = timezone.localtime(member.created_at).date().replace(day=1)
    previous = (month - timedelta(days=1)).replace(day=1)
    following = (month + timedelta(days=31)).replace(day=1)
    signed_today = member.last_sign_in_on == today
    next_streak = _next_streak(member, today)
    return render(
        request,
        "members/sign_in.html",
        {
            "member": member,
            "month": month,
            "weeks": weeks,
            "signed_count": signed_count,
            "previous_month": previous if previous >= first_month else None,
            "next_month": following if following <= today else None,
            "signed_today": signed_today,
            "streak_alive": next_streak > 1,
            "today_points": services.sign_in_points(next_streak),
            "tomorrow_points": services.sign_in_points(member.sign_in_streak + 1),
            "weekday_names": WEEKDAY_NAMES,
            "rules": _sign_in_rules(),
            "active_tab": "me",
            "hide_tabbar": True,
        },
    )


def _sign_in_now(request):
    result = services.sign_in(request.user)
    if _is_htmx(request):
        member = selectors.member_with_level(request.user)
        recent, next_cursor = selectors.points_page(member, size=RECENT_POINTS)
        return render(
            request,
            "members/partials/_sign_in.html",
            {
                "member": member,
                "signed_today": True,
                "result": result,
                "refresh_points": True,
                "recent_points": recent,
                "points_value": services.points_value(member.points_balance),
            },
        )
    if result.created:
        messages.success(request, _("签到成功，获得 %(points)s 积分") % {"points": result.points})
    else:
        messages.info(request, _("今天已经签到过了"))
    return redirect(safe_next(request, "members:me"))


def _month_asked(raw, today):
    """The month of ?month=YYYY-MM (ASCII digits, not after this month), else this month."""
    this_month = today.replace(day=1)
    raw = raw or ""
    if len(raw) != 7 or raw[4] != "-":
        return this_month
    year, month = int_or_none(raw[:4], minimum=2000, maximum=today.year), int_or_none(raw[5:], minimum=1, maximum=12)
    if year is None or month is None:
        return this_month
    asked = date(year, month, 1)
    return asked if asked <= this_month else this_month


def _next_streak(member, today):
    if member.last_sign_in_on == today:
        return member.sign_in_streak
    if member.last_sign_in_on == today - timedelta(days=1):
        return member.sign_in_streak + 1
    return 1


def _sign_in_rules():
    """What each day of a streak gives, up to the day the bonus stops growing: [(day, points)]."""
    schedule = [(1, services.sign_in_points(1))]
    for day in range(2, 32):
        points = services.sign_in_points(day)
        if points == schedule[-1][1]:
            break
        schedule.append((day, points))
    return {
        "base": services.sign_in_points(1),
        "best": schedule[-1][1],
        "schedule": schedule,
        "capped_from": schedule[-1][0],
        "has_bonus": len(schedule) > 1,
    }


@login_required
def levels(request):
    """Every level with its threshold and benefits, and where the member stands."""
    member = selectors.member_with_level(request.user)
    levels = selectors.levels_for(member)
    return render(
        request,
        "members/levels.html",
        {
            "member": member,
            "progress": selectors.level_progress(member),
            "levels": levels,
            "any_birthday_gift": any(level.birthday_points for level in levels),
            "growth_per_yuan": int(getattr(settings, "GROWTH_PER_YUAN", 1)),
            "active_tab": "me",
            "hide_tabbar": True,
        },
    )


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
    addresses = selectors.addresses_for(request.user)
    return render(
        request,
        "members/address_list.html",
        {
            "addresses": addresses,
            "at_limit": len(addresses) >= services.MAX_ADDRESSES,
            "max_addresses": services.MAX_ADDRESSES,
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
            messages.success(request, _("收货地址已保存"))
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
    if request.method == "GET" and selectors.address_count(request.user) >= services.MAX_ADDRESSES:
        # the address book is full: the list says so (its add button is disabled with the reason)
        messages.info(
            request,
            _("最多保存 %(n)s 个收货地址，请先删除不用的地址") % {"n": services.MAX_ADDRESSES},
        )
        target = reverse("members:addresses")
        next_url = safe_next(request, "")
        return redirect(f"{target}?{urlencode({'next': next_url})}" if next_url else target)
    return _address_form(request)


@login_required
def address_edit(request, pk):
    return _address_form(request, get_object_or_404(Address, pk=pk, user=request.user))


@login_required
@require_POST
def address_delete(request, pk):
    try:
        services.delete_address(request.user, pk)
    except services.MembersError:
        # deleted already (a second tap, another tab) or not this shopper's: nothing to delete
        messages.info(request, _("该收货地址已不存在"))
    else:
        messages.success(request, _("收货地址已删除"))
    return redirect("members:addresses")


@login_required
@require_POST
def address_set_default(request, pk):
    try:
        services.set_default_address(request.user, pk)
    except services.MembersError as exc:
        raise Http404 from exc
    messages.success(request, _("已设为默认收货地址"))
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
        messages.success(request, _("个人资料已保存"))
        return redirect("members:me")
    return render(
        request,
        "members/profile_form.html",
        {"form": form, "member": member, "active_tab": "me", "hide_tabbar": True},
    )
