"""会员等级与权益 (every level, its threshold and benefits, the member's progress), the sign-in
page (the month calendar and the rules), the member centre's figures after 签到, and the address
pages' guards (a confirmation before deleting, the limit shown instead of refused)."""

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.conf import settings
from django.contrib.messages import get_messages
from django.shortcuts import resolve_url
from django.urls import reverse
from django.utils import timezone

from members import services
from members.models import Address, Member, MemberLevel, PointsEntry
from members.templatetags.levels import zhe

from .factories import make_member

pytestmark = pytest.mark.django_db

SESSION = 1 if settings.SESSION_ENGINE == "django.contrib.sessions.backends.db" else 0
# the session, the user, the member with its level and the next level, then the page's own query
PAGE_QUERIES = SESSION + 3

BAD_VALUES = ["", "２０２６-１１", "2026-1１", "\x00", "9" * 5000, "2026-13", "2026-00", "1999-12", "abcd-ef", "-2026-1"]


def _messages(response):
    return [str(m) for m in get_messages(response.wsgi_request)]


def _at_level(rank, growth=None):
    services.ensure_default_levels()
    member = make_member()
    level = MemberLevel.objects.get(rank=rank)
    Member.objects.filter(pk=member.pk).update(level=level, growth=level.growth_threshold if growth is None else growth)
    member.refresh_from_db()
    return member


# --- the 折 filter -----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("percent", "shown"),
    [
        (Decimal("98.00"), "9.8折"),
        (Decimal("95.00"), "9.5折"),
        (Decimal("90.00"), "9折"),
        (Decimal("85.50"), "8.55折"),
        (Decimal("100.00"), ""),
        (None, ""),
        ("x", ""),
        (Decimal("NaN"), ""),
    ],
)
def test_a_discount_reads_as_zhe(percent, shown):
    assert zhe(percent) == shown


# --- 会员等级与权益 --------------------------------------------------------------------------------
def test_levels_page_sends_a_visitor_to_login(client):
    response = client.get(reverse("members:levels"))
    assert response.status_code == 302
    assert response["Location"] == f"{resolve_url(settings.LOGIN_URL)}?next=/members/levels/"


@pytest.mark.parametrize("rank", [0, 1, 2])
def test_levels_page_for_a_member_below_the_top(client, django_assert_num_queries, rank):
    member = _at_level(rank)
    client.force_login(member.user)
    with django_assert_num_queries(PAGE_QUERIES):
        response = client.get(reverse("members:levels"))
    assert response.status_code == 200
    page = response.content.decode()
    levels = response.context["levels"]
    assert [level.rank for level in levels] == [0, 1, 2, 3]
    assert [level.is_current for level in levels] == [r == rank for r in range(4)]
    # every level with its threshold and its benefits
    assert "注册即享" in page and "成长值达到 1000" in page and "成长值达到 5000" in page and "成长值达到 20000" in page
    assert "9.8折" in page and "9.5折" in page and "9折" in page
    assert ">1.2 倍<" in page and ">1.5 倍<" in page
    assert ">2 倍<" in page
    # the progress to the next level, named
    following = MemberLevel.objects.get(rank=rank + 1)
    need = following.growth_threshold - member.growth
    assert f"再获得 {need} 成长值升级为{following.name}" in page
    assert response.context["progress"].next_level.name == following.name
    # the levels above say how far they are, the ones below are reached
    assert page.count("已达成") == rank
    assert f"还差 {need} 成长值" in page


def test_levels_page_for_a_member_at_the_top_has_no_next_level(client, django_assert_num_queries):
    member = _at_level(3, growth=25000)
    client.force_login(member.user)
    with django_assert_num_queries(PAGE_QUERIES):
        response = client.get(reverse("members:levels"))
    page = response.content.decode()
    assert response.context["progress"].next_level is None
    assert "已是最高等级" in page and "再获得" not in page and "还差" not in page
    assert page.count("已达成") == 3


def test_levels_page_shows_free_delivery_and_a_birthday_gift_only_where_hq_set_them(client):
    member = _at_level(0)
    MemberLevel.objects.filter(rank=3).update(free_delivery=True, birthday_points=200)
    client.force_login(member.user)
    page = client.get(reverse("members:levels")).content.decode()
    assert page.count(">包邮<") == 1
    assert "生日礼" in page and "200 积分" in page
    # no birthday on the profile: the page says where to give it
    assert "填写生日，生日当天领取生日礼" in page
    MemberLevel.objects.filter(rank=3).update(free_delivery=False, birthday_points=0)
    page = client.get(reverse("members:levels")).content.decode()
    assert ">包邮<" not in page and "生日礼" not in page


def test_the_level_card_in_the_member_centre_opens_the_levels_page(client):
    member = _at_level(1)
    client.force_login(member.user)
    page = client.get(reverse("members:me")).content.decode()
    assert f'class="mc-level mc-level--link" href="{reverse("members:levels")}"' in page
    assert "会员价 9.8折" in page


# --- the sign-in page ----------------------------------------------------------------------------
def _signed_on(member, *days):
    for day in days:
        services.sign_in(member, today=day)


def test_sign_in_page_marks_this_months_signed_days_and_states_the_rules(client, django_assert_num_queries, settings):
    settings.SIGN_IN_BASE_POINTS, settings.SIGN_IN_STREAK_BONUS, settings.SIGN_IN_STREAK_BONUS_MAX = 5, 1, 3
    member = make_member()
    today = timezone.localdate()
    first = today.replace(day=1)
    days = sorted({first, today})
    _signed_on(member, *days)
    client.force_login(member.user)
    with django_assert_num_queries(PAGE_QUERIES):
        response = client.get(reverse("members:sign_in"))
    assert response.status_code == 200
    page = response.content.decode()
    signed = [cell.day for week in response.context["weeks"] for cell in week if cell.signed]
    assert signed == days
    assert page.count("data-signed") == len(days)
    assert f"本月已签到 {len(days)} 天" in page
    assert f"{today.year} 年 {today.month} 月" in page
    # the rules as configured: 5 a day, one more per day of a streak, at most 3 more
    assert "签到得 5 积分" in page and "第 4 天起每天 8 积分" in page
    assert [points for _day, points in response.context["rules"]["schedule"]] == [5, 6, 7, 8]
    assert "今日已签到" in page  # today is signed: no button


def test_sign_in_page_offers_todays_points_with_the_streak_and_goes_back_to_itself(client):
    member = make_member()
    yesterday = timezone.localdate() - timedelta(days=1)
    _signed_on(member, yesterday)
    client.force_login(member.user)
    page = client.get(reverse("members:sign_in")).content.decode()
    expected = services.sign_in_points(2)
    assert f"签到领 {expected} 积分" in page
    response = client.post(reverse("members:sign_in"), {"next": reverse("members:sign_in")})
    assert response.status_code == 302 and response["Location"] == reverse("members:sign_in")
    assert _messages(response) == [f"签到成功，获得 {expected} 积分"]
    # a second submit signs in nothing more
    response = client.post(reverse("members:sign_in"), {"next": reverse("members:sign_in")})
    assert _messages(response)[-1] == "今天已经签到过了"
    assert PointsEntry.objects.filter(member=member, kind=PointsEntry.Kind.SIGN_IN).count() == 2
    # a next that leaves the site goes to the member centre instead
    response = client.post(reverse("members:sign_in"), {"next": "//evil.example/"})
    assert response["Location"] == reverse("members:me")


def test_sign_in_page_shows_an_earlier_month_and_refuses_other_months_quietly(client):
    member = make_member()
    today = timezone.localdate()
    last_month = (today.replace(day=1) - timedelta(days=1)).replace(day=1)
    Member.objects.filter(pk=member.pk).update(created_at=timezone.now() - timedelta(days=70))
    _signed_on(member, last_month + timedelta(days=2))
    client.force_login(member.user)
    response = client.get(reverse("members:sign_in"), {"month": last_month.strftime("%Y-%m")})
    assert response.context["month"] == last_month
    assert response.context["signed_count"] == 1
    assert response.context["next_month"] == today.replace(day=1)
    future = (today.replace(day=28) + timedelta(days=10)).strftime("%Y-%m")
    for raw in [*BAD_VALUES, future]:
        response = client.get(reverse("members:sign_in"), {"month": raw})
        if "\x00" in raw:  # a NUL anywhere is refused before the view (core.middleware)
            assert response.status_code == 400
            continue
        assert response.status_code == 200, raw
        assert response.context["month"] == today.replace(day=1), raw
        assert response.context["next_month"] is None


# --- the member centre after 签到 ----------------------------------------------------------------
def test_htmx_sign_in_refreshes_the_member_centres_points_figures(client, django_assert_max_num_queries):
    member = make_member(points=100)
    client.force_login(member.user)
    with django_assert_max_num_queries(SESSION + 14):
        response = client.post(reverse("members:sign_in"), HTTP_HX_REQUEST="true")
    page = response.content.decode()
    member.refresh_from_db()
    gained = PointsEntry.objects.get(member=member, kind=PointsEntry.Kind.SIGN_IN).delta
    assert member.points_balance == 100 + gained
    # the balance, 可抵扣 and the recent entries come back out of band, with the new entry on top
    assert f'id="mc-points" hx-swap-oob="true">{100 + gained}<' in page
    assert '<div id="mc-recent" hx-swap-oob="true">' in page
    worth = services.points_value(100 + gained)
    assert f"可抵扣 ¥{worth}" in page
    assert page.index("每日签到") < page.index("后台调整")


# --- bad input on the points list -----------------------------------------------------------------
@pytest.mark.parametrize("before", ["１２", "²", "9" * 30, "\x00", "-1", "1_000"])
def test_points_list_reads_a_bad_cursor_as_the_first_page(client, before):
    member = make_member(points=10)
    client.force_login(member.user)
    response = client.get(reverse("members:points"), {"before": before})
    if "\x00" in before:  # a NUL anywhere is refused before the view (core.middleware)
        assert response.status_code == 400
        return
    assert response.status_code == 200
    assert len(response.context["rows"]) == 1


# --- addresses: a confirmation before deleting, the limit shown ---------------------------------
def _address(user, n=0):
    return services.save_address(
        user, Address(receiver=f"张{n}", phone="13800138000", province="上海市", city="上海市", district="徐汇区", detail="x")
    )


def test_deleting_an_address_asks_first_and_a_second_submit_changes_nothing(client):
    member = make_member()
    address = _address(member.user)
    client.force_login(member.user)
    page = client.get(reverse("members:addresses")).content.decode()
    assert 'data-confirm="删除收货地址“张0 上海市徐汇区x”？删除后不能恢复。"' in page
    url = reverse("members:address_delete", args=[address.pk])
    response = client.post(url)
    assert response["Location"] == reverse("members:addresses")
    assert _messages(response) == ["收货地址已删除"]
    response = client.post(url)  # the second tap
    assert response.status_code == 302 and _messages(response)[-1] == "该收货地址已不存在"
    assert not Address.objects.filter(user=member.user).exists()


@pytest.mark.parametrize("pk", ["other", 2**63, 10**30])
def test_deleting_another_shoppers_or_a_made_up_address_deletes_nothing(client, pk):
    member, other = make_member(), make_member()
    theirs = _address(other.user)
    client.force_login(member.user)
    target = theirs.pk if pk == "other" else pk
    response = client.post(f"/members/addresses/{target}/delete/")
    assert response.status_code == 302 and _messages(response) == ["该收货地址已不存在"]
    assert Address.objects.filter(pk=theirs.pk).exists()


def test_a_full_address_book_disables_adding_with_the_reason(client, django_assert_num_queries):
    member = make_member()
    for n in range(services.MAX_ADDRESSES):
        _address(member.user, n)
    client.force_login(member.user)
    response = client.get(reverse("members:addresses"))
    page = response.content.decode()
    assert response.context["at_limit"] is True
    assert f"最多保存 {services.MAX_ADDRESSES} 个收货地址，请先删除不用的地址" in page
    assert reverse("members:address_create") not in page
    Address.objects.filter(user=member.user).first().delete()
    page = client.get(reverse("members:addresses")).content.decode()
    assert reverse("members:address_create") in page and "请先删除不用的地址" not in page


# --- birthday gifts ------------------------------------------------------------------------------
def _born(member, birthday, rank=1, points=100):
    services.ensure_default_levels()
    level = MemberLevel.objects.get(rank=rank)
    MemberLevel.objects.filter(pk=level.pk).update(birthday_points=points)
    Member.objects.filter(pk=member.pk).update(birthday=birthday, level=level)


def test_birthday_points_are_given_once_a_year_under_their_reference():
    member, other_day, no_gift = make_member(), make_member(), make_member()
    _born(member, date(1990, 6, 1))
    _born(other_day, date(1990, 6, 2))
    _born(no_gift, date(1991, 6, 1), rank=0, points=0)
    assert services.grant_birthday_gifts(today=date(2026, 6, 1)) == 1
    assert services.grant_birthday_gifts(today=date(2026, 6, 1)) == 0  # the worker ran again
    entry = PointsEntry.objects.get(member=member, kind=PointsEntry.Kind.BIRTHDAY)
    assert (entry.delta, entry.reference) == (100, f"birthday:{member.pk}:2026")
    assert not PointsEntry.objects.filter(member__in=[other_day, no_gift]).exists()
    # next year, once more
    assert services.grant_birthday_gifts(today=date(2027, 6, 1)) == 1
    member.refresh_from_db()
    assert member.points_balance == 200 == sum(member.points_entries.values_list("delta", flat=True))


def test_a_29_february_birthday_is_celebrated_on_28_february_in_other_years():
    member = make_member()
    _born(member, date(2000, 2, 29))
    assert services.grant_birthday_gifts(today=date(2027, 2, 28)) == 1
    assert services.grant_birthday_gifts(today=date(2028, 2, 28)) == 0  # a leap year has the day
    assert services.grant_birthday_gifts(today=date(2028, 2, 29)) == 1


def test_the_birthday_task_runs_the_service():
    from members.tasks import grant_birthday_gifts

    member = make_member()
    _born(member, timezone.localdate())
    assert grant_birthday_gifts.delay().get() == 1
    assert "members.grant_birthday_gifts" in settings.CELERY_BEAT_SCHEDULE


def test_the_member_hears_of_the_birthday_gift_once(notices):
    member = make_member()
    _born(member, date(1990, 6, 1), points=88)
    services.grant_birthday_gifts(today=date(2026, 6, 1))
    services.grant_birthday_gifts(today=date(2026, 6, 1))
    told = [n for n in notices if n[3] == "birthday_gift"]
    assert len(told) == 1
    assert told[0][0] == member.user_id and "88 积分" in told[0][2]


def test_the_new_address_page_of_a_full_book_goes_back_to_the_list_with_the_reason(client):
    member = make_member()
    for n in range(services.MAX_ADDRESSES):
        _address(member.user, n)
    client.force_login(member.user)
    response = client.get(reverse("members:address_create"), {"next": "/orders/checkout/"})
    assert response.status_code == 302
    assert response["Location"] == reverse("members:addresses") + "?next=%2Forders%2Fcheckout%2F"
    assert _messages(response) == [f"最多保存 {services.MAX_ADDRESSES} 个收货地址，请先删除不用的地址"]
    # posting anyway is refused on the form, nothing is added
    response = client.post(
        reverse("members:address_create"),
        {"receiver": "王五", "phone": "13800138000", "province": "上海市", "city": "上海市", "district": "徐汇区", "detail": "y"},
    )
    assert response.status_code == 200
    assert Address.objects.filter(user=member.user).count() == services.MAX_ADDRESSES
    page = client.get(reverse("members:address_create"), follow=False)
    assert page.status_code == 302


def test_the_address_form_is_sent_once():
    from django.template.loader import get_template

    source = get_template("members/address_form.html").template.source
    assert 'id="address-form"' in source and "data-submit-once" in source
