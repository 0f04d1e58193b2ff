import io

import pytest
from django.conf import settings
from django.shortcuts import resolve_url
from django.urls import reverse
from PIL import Image

from members import services
from members.models import Member, PointsEntry

from .factories import make_member, make_user

pytestmark = pytest.mark.django_db

# (session, with database sessions only) user, then the member centre's figures in one statement
# (members.centre.summary: member, level, next level, address summary, newest points entry, and the
# usable coupons, order counts per tab and the cart's pieces of settings.MEMBER_CENTRE_COUNTS; the
# tab bar's badge rides on it), and the recent points when the body is rendered (not kept yet)
SESSION_QUERIES = 1 if settings.SESSION_ENGINE == "django.contrib.sessions.backends.db" else 0
# the 购物车 badge on the tab bar counts the cart (orders.context_processors.cart_badge)
TAB_BAR_BADGE = 1
MEMBER_CENTRE_QUERIES = SESSION_QUERIES + 3
# the body kept (members.centre.cached_body): the user and the figures
MEMBER_CENTRE_WARM_QUERIES = SESSION_QUERIES + 2


def _with_history(member, n):
    for i in range(n):
        services.earn_points(member, 1 + i, PointsEntry.Kind.REVIEW, f"r{i}")


def _address(user, i):
    from members.models import Address

    services.save_address(
        user,
        Address(
            receiver=f"收{i}",
            phone="13800138000",
            province="上海市",
            city="上海市",
            district="徐汇区",
            detail="x",
        ),
    )


@pytest.mark.parametrize("rows", [0, 3, 60])
def test_member_centre_query_budget_does_not_grow_with_history(client, django_assert_num_queries, rows):
    member = make_member()
    _with_history(member, rows)
    for i in range(min(rows, 5)):
        _address(member.user, i)
    client.force_login(member.user)
    with django_assert_num_queries(MEMBER_CENTRE_QUERIES):
        response = client.get(reverse("members:me"))
    assert response.status_code == 200
    assert response.context["active_tab"] == "me"
    with django_assert_num_queries(MEMBER_CENTRE_WARM_QUERIES):
        again = client.get(reverse("members:me"))
    assert _without_tokens(again.content) == _without_tokens(response.content)


def _without_tokens(content):
    import re

    return re.sub(rb'(csrfmiddlewaretoken" value=|X-CSRFToken": )"[^"]*"', rb"\1-", content)


@pytest.mark.parametrize("rows", [0, 50])
def test_points_history_query_budget(client, django_assert_num_queries, rows):
    member = make_member()
    _with_history(member, rows)
    client.force_login(member.user)
    with django_assert_num_queries(SESSION_QUERIES + 3 + TAB_BAR_BADGE):
        response = client.get(reverse("members:points"))
    assert response.status_code == 200
    assert len(response.context["rows"]) == min(rows, 20)


def test_points_history_loads_more_through_htmx(client):
    member = make_member()
    _with_history(member, 25)
    client.force_login(member.user)
    first = client.get(reverse("members:points"))
    cursor = first.context["next_cursor"]
    assert cursor
    more = client.get(reverse("members:points"), {"before": cursor}, HTTP_HX_REQUEST="true")
    assert len(more.context["rows"]) == 5 and more.context["next_cursor"] is None
    assert b"<html" not in more.content
    assert client.get(reverse("members:points"), {"before": "abc"}).status_code == 200


@pytest.mark.parametrize(
    "name", ["members:me", "members:points", "members:addresses", "members:address_create", "members:profile"]
)
def test_anonymous_visitors_are_sent_to_login(client, name):
    response = client.get(reverse(name))
    assert response.status_code == 302
    assert response["Location"].startswith(resolve_url(settings.LOGIN_URL))


def test_sign_in_by_htmx_shows_the_streak_and_counts_once(client):
    member = make_member()
    client.force_login(member.user)
    response = client.post(reverse("members:sign_in"), HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert response.context["member"].sign_in_streak == 1
    client.post(reverse("members:sign_in"), HTTP_HX_REQUEST="true")
    assert PointsEntry.objects.filter(member=member, kind=PointsEntry.Kind.SIGN_IN).count() == 1
    # GET is the sign-in page (calendar and rules); other methods are refused
    assert client.put(reverse("members:sign_in")).status_code == 405


def test_sign_in_without_htmx_redirects(client):
    member = make_member()
    client.force_login(member.user)
    assert client.post(reverse("members:sign_in"))["Location"] == reverse("members:me")


def test_member_centre_extras_hook_shows_coupons_only_when_provided(client, settings):
    member = make_member()
    client.force_login(member.user)
    settings.MEMBER_CENTRE_EXTRAS = []
    assert "coupon_count" not in client.get(reverse("members:me")).context["extras"]
    settings.MEMBER_CENTRE_EXTRAS = ["tests.members.test_views.fake_coupons"]
    response = client.get(reverse("members:me"))
    assert response.context["extras"]["coupon_count"] == 7
    assert "/marketing/coupons/" in response.content.decode()


def fake_coupons(request):
    return {"coupon_count": 7}


def _png():
    buf = io.BytesIO()
    Image.new("RGB", (8, 8), "red").save(buf, "PNG")
    buf.seek(0)
    buf.name = "a.png"
    return buf


def test_profile_edit_saves_nickname_gender_birthday_and_avatar(client):
    user = make_user()
    client.force_login(user)
    response = client.post(
        reverse("members:profile"),
        {"nickname": "小李", "gender": "female", "birthday": "1990-05-01", "avatar": _png()},
    )
    assert response.status_code == 302
    user.refresh_from_db()
    member = Member.objects.get(user=user)
    assert user.nickname == "小李" and user.avatar and member.gender == "female"
    assert str(member.birthday) == "1990-05-01"


def test_profile_refuses_a_file_that_is_not_an_image(client):
    user = make_user(nickname="原名")
    client.force_login(user)
    fake = io.BytesIO(b"#!/bin/sh\necho hi\n")
    fake.name = "evil.png"
    response = client.post(reverse("members:profile"), {"nickname": "新名", "gender": "male", "avatar": fake})
    assert response.status_code == 200 and response.context["form"].errors["avatar"]
    user.refresh_from_db()
    assert user.nickname == "原名" and not user.avatar


def test_member_centre_shows_the_default_address_and_count(client):
    from members.models import Address

    member = make_member()
    user = member.user
    services.save_address(
        user,
        Address(
            receiver="a", phone="13800138000", province="上海市", city="上海市", district="徐汇区", detail="x"
        ),
    )
    other = services.save_address(
        user,
        Address(
            receiver="b", phone="13800138000", province="浙江省", city="杭州市", district="西湖区", detail="y"
        ),
    )
    services.set_default_address(user, other.pk)
    client.force_login(user)
    shown = client.get(reverse("members:me")).context["member"]
    assert (shown.address_count, shown.address_city, shown.address_district) == (2, "杭州市", "西湖区")
    anonymous_free = make_member()
    client.force_login(anonymous_free.user)
    assert client.get(reverse("members:me")).context["member"].address_count == 0


def test_a_user_without_a_profile_gets_one_on_the_member_centre(client):
    user = make_user()
    Member.objects.filter(user=user).delete()
    user = type(user).objects.get(pk=user.pk)
    client.force_login(user)
    assert client.get(reverse("members:me")).status_code == 200
    assert Member.objects.filter(user=user).exists()


def test_profile_form_shows_the_birthday_in_the_date_input_format(client):
    user = make_user()
    Member.objects.filter(user=user).update(birthday="1990-05-01")
    client.force_login(user)
    assert 'value="1990-05-01"' in client.get(reverse("members:profile")).content.decode()


def test_a_broken_streak_is_not_shown_as_running(client):
    from datetime import timedelta

    from django.utils import timezone

    member = make_member()
    today = timezone.localdate()
    services.sign_in(member, today - timedelta(days=3))
    client.force_login(member.user)
    assert client.get(reverse("members:me")).context["streak_alive"] is False
    services.sign_in(member, today - timedelta(days=1))
    assert client.get(reverse("members:me")).context["streak_alive"] is True


def test_member_centre_offers_phone_binding_until_the_phone_is_verified(client):
    user = make_user(username="wx-only")
    user.phone = None  # a WeChat-only account
    user.save()
    client.force_login(user)
    html = client.get("/members/me/").content.decode()
    assert "/accounts/bind-phone/?next=/members/me/" in html
    assert "去绑定" in html
    user.phone, user.phone_verified = "+8613900139000", True
    user.save()
    html = client.get("/members/me/").content.decode()
    assert "139****9000" in html
    assert "去绑定" not in html


def test_profile_page_query_budget(client, django_assert_num_queries):
    user = make_user()
    client.force_login(user)
    # the session (database sessions only), the user and the member's row (gender, birthday); no
    # tab bar on this form
    with django_assert_num_queries(SESSION_QUERIES + 2):
        response = client.get(reverse("members:profile"))
    assert response.status_code == 200 and 'name="nickname"' in response.content.decode()
