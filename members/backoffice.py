"""Back-office pages for members: list (search, level filter, pages), detail with ledger, points
adjustment and level change with a required reason, CSV export. Staff only."""

from django.contrib import messages
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from core.backoffice import staff_required
from core.csv_export import streaming_csv
from core.numbers import id_or_none, page_number

from . import selectors, services
from .auth.phones import format_phone
from .forms import LevelChangeForm, PointsAdjustForm
from .models import LevelChange, Member, MemberLevel, PointsEntry

PAGE_SIZE = 30


def _level_filter(request):
    return id_or_none(request.GET.get("level"))


@staff_required(perm="members.view_member")
def member_list(request):
    query = request.GET.get("q", "").strip()[:64]
    level_id = _level_filter(request)
    page = Paginator(selectors.member_list(query, level_id), PAGE_SIZE).get_page(page_number(request.GET.get("page")))
    return render(
        request,
        "members/backoffice/member_list.html",
        {
            "page": page,
            "q": query,
            "level_id": level_id,
            "levels": list(MemberLevel.objects.order_by("rank")),
        },
    )


def _detail_context(request, member, adjust_form=None, level_form=None):
    entries = Paginator(
        PointsEntry.objects.filter(member=member).select_related("actor").order_by("-id"), PAGE_SIZE
    ).get_page(page_number(request.GET.get("page")))
    return {
        "member": member,
        "entries": entries,
        "level_changes": LevelChange.objects.filter(member=member).select_related(
            "from_level", "to_level", "actor"
        )[:10],
        "adjust_form": adjust_form or PointsAdjustForm(),
        "level_form": level_form or LevelChangeForm(initial={"level": member.level_id}),
        "addresses": member.user.addresses.all(),
    }


def _member(pk):
    return get_object_or_404(Member.objects.select_related("user", "level", "referrer"), pk=pk)


@staff_required(perm="members.view_member")
def member_detail(request, pk):
    return render(request, "members/backoffice/member_detail.html", _detail_context(request, _member(pk)))


@staff_required(perm=("members.view_member", "members.change_member"))
@require_POST
def adjust_points(request, pk):
    member = _member(pk)
    form = PointsAdjustForm(request.POST)
    if form.is_valid():
        try:
            services.adjust_points(
                member, form.cleaned_data["delta"], form.cleaned_data["reason"], request.user,
                reference=form.reference(),
            )
        except services.MembersError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, _("积分已调整"))
            return redirect("members_bo:detail", member.pk)
    return render(
        request,
        "members/backoffice/member_detail.html",
        _detail_context(request, member, adjust_form=form),
        status=400,
    )


@staff_required(perm=("members.view_member", "members.change_member"))
@require_POST
def change_level(request, pk):
    member = _member(pk)
    form = LevelChangeForm(request.POST)
    if form.is_valid():
        try:
            services.change_level(
                member, form.cleaned_data["level"], form.cleaned_data["reason"], request.user
            )
        except services.MembersError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, _("等级已修改"))
            return redirect("members_bo:detail", member.pk)
    return render(
        request,
        "members/backoffice/member_detail.html",
        _detail_context(request, member, level_form=form),
        status=400,
    )


@staff_required(perm="members.view_member")
def export_csv(request):
    """The filtered list as CSV (UTF-8 with BOM so Excel opens Chinese correctly), streamed."""
    rows = selectors.member_list(request.GET.get("q", "").strip()[:64], _level_filter(request))
    header = [
        _("编号"),
        _("手机号"),
        _("昵称"),
        _("等级"),
        _("积分余额"),
        _("成长值"),
        _("注册来源"),
        _("注册时间"),
    ]

    lines = (
        [
            m.pk,
            format_phone(m.user.phone),  # 138 0013 8000: text in Excel, no formula guard needed
            m.user.nickname,
            m.level.name if m.level else "",
            m.points_balance,
            m.growth,
            m.get_source_display(),
            timezone.localtime(m.created_at).strftime("%Y-%m-%d %H:%M"),
        ]
        for m in rows.iterator(chunk_size=500)
    )
    return streaming_csv("members.csv", header, lines)
