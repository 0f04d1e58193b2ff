import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from members import services
from members.models import LevelChange, Member, MemberLevel, PointsEntry

from .factories import make_member

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff(client):
    user = get_user_model().objects.create_user("hq", password="x", is_staff=True, is_superuser=True)
    client.force_login(user)
    return user


def test_non_staff_cannot_open_the_member_back_office(client):
    member = make_member()
    client.force_login(member.user)
    assert client.get(reverse("members_bo:list")).status_code == 403
    assert (
        client.post(
            reverse("members_bo:adjust_points", args=[member.pk]), {"delta": 100, "reason": "x"}
        ).status_code
        == 403
    )
    assert Member.objects.get(pk=member.pk).points_balance == 0


def test_store_staff_without_member_permissions_cannot_open_or_change_members(client):
    """A store clerk is staff (back office for their store's stock) but not HQ: members'
    phones, points and levels are refused, and the menu does not offer them."""
    member = make_member(points=50)
    clerk = get_user_model().objects.create_user("clerk", password="x", is_staff=True)
    client.force_login(clerk)
    for url in (
        reverse("members_bo:list"),
        reverse("members_bo:detail", args=[member.pk]),
        reverse("members_bo:export"),
    ):
        assert client.get(url).status_code == 403, url
    adjust = client.post(reverse("members_bo:adjust_points", args=[member.pk]), {"delta": 100, "reason": "x"})
    assert adjust.status_code == 403
    assert Member.objects.get(pk=member.pk).points_balance == 50
    menu = client.get(reverse("backoffice:dashboard")).content.decode()
    assert reverse("members_bo:list") not in menu


def test_staff_granted_member_permissions_can_open_the_member_back_office(client):
    from django.contrib.auth.models import Permission

    member = make_member()
    operator = get_user_model().objects.create_user("operator", password="x", is_staff=True)
    operator.user_permissions.add(
        *Permission.objects.filter(content_type__app_label="members", codename__in=["view_member", "change_member"])
    )
    client.force_login(operator)
    assert client.get(reverse("members_bo:list")).status_code == 200
    response = client.post(reverse("members_bo:adjust_points", args=[member.pk]), {"delta": 100, "reason": "活动补发"})
    assert response.status_code == 302
    assert Member.objects.get(pk=member.pk).points_balance == 100


@pytest.mark.parametrize("count", [2, 40])
def test_member_list_query_budget_and_search(client, staff, django_assert_max_num_queries, count):
    members = [make_member(nickname=f"会员{i}") for i in range(count)]
    with django_assert_max_num_queries(8):
        response = client.get(reverse("members_bo:list"))
    assert response.status_code == 200
    target = members[1]
    response = client.get(reverse("members_bo:list"), {"q": target.user.phone[-8:]})
    assert [m.pk for m in response.context["page"]] == [target.pk]
    response = client.get(reverse("members_bo:list"), {"q": "会员1"})
    assert target.pk in [m.pk for m in response.context["page"]]


def test_level_filter(client, staff):
    make_member()
    gold = make_member()
    services.change_level(gold, MemberLevel.objects.get(rank=2), "测试", staff)
    response = client.get(reverse("members_bo:list"), {"level": gold.level.pk})
    assert [m.pk for m in response.context["page"]] == [gold.pk]
    assert client.get(reverse("members_bo:list"), {"level": "abc"}).status_code == 200


@pytest.mark.parametrize("rows", [1, 50])
def test_member_detail_query_budget(client, staff, django_assert_max_num_queries, rows):
    member = make_member()
    for i in range(rows):
        services.earn_points(member, 1, PointsEntry.Kind.REVIEW, f"r{i}")
    with django_assert_max_num_queries(12):
        assert client.get(reverse("members_bo:detail", args=[member.pk])).status_code == 200


def test_adjust_points_with_reason_goes_to_the_ledger(client, staff):
    member = make_member()
    response = client.post(
        reverse("members_bo:adjust_points", args=[member.pk]), {"delta": 300, "reason": "活动补发"}
    )
    assert response.status_code == 302
    entry = PointsEntry.objects.get(member=member)
    assert entry.delta == 300 and entry.reason == "活动补发" and entry.actor == staff


@pytest.mark.parametrize(
    "data",
    [
        {"delta": 100, "reason": ""},
        {"delta": 0, "reason": "x"},
        {"delta": "abc", "reason": "x"},
        {"delta": -1, "reason": "扣"},
    ],
)
def test_bad_adjustments_change_nothing(client, staff, data):
    member = make_member()
    response = client.post(reverse("members_bo:adjust_points", args=[member.pk]), data)
    assert response.status_code == 400
    assert not PointsEntry.objects.filter(member=member).exists()
    assert Member.objects.get(pk=member.pk).points_balance == 0


def test_level_change_needs_a_reason(client, staff):
    member = make_member()
    gold = MemberLevel.objects.get(rank=2)
    assert (
        client.post(
            reverse("members_bo:change_level", args=[member.pk]), {"level": gold.pk, "reason": " "}
        ).status_code
        == 400
    )
    assert (
        client.post(
            reverse("members_bo:change_level", args=[member.pk]), {"level": gold.pk, "reason": "大客户"}
        ).status_code
        == 302
    )
    assert LevelChange.objects.get(member=member).actor == staff


def test_unknown_member_answers_404(client, staff):
    assert client.get(reverse("members_bo:detail", args=[999999])).status_code == 404


def test_csv_export_lists_the_filtered_members_and_defuses_formulas(client, staff):
    make_member(nickname="=HYPERLINK(1)")
    make_member(nickname="小王")
    response = client.get(reverse("members_bo:export"))
    body = b"".join(response.streaming_content).decode("utf-8")
    assert body.startswith("\ufeff")
    assert "'=HYPERLINK(1)" in body and "小王" in body


def test_admin_pages_and_points_adjustment(client, staff):
    member = make_member()
    assert client.get(reverse("admin:members_member_changelist"), {"q": member.user.phone}).status_code == 200
    assert client.get(reverse("admin:members_member_change", args=[member.pk])).status_code == 200
    url = reverse("admin:members_member_adjust_points", args=[member.pk])
    assert client.post(url, {"delta": -5, "reason": "扣"}).status_code == 200  # refused: balance 0
    assert client.post(url, {"delta": 50, "reason": "补偿"}).status_code == 302
    assert Member.objects.get(pk=member.pk).points_balance == 50
    url = reverse("admin:members_member_change_level", args=[member.pk])
    assert client.post(url, {"level": MemberLevel.objects.get(rank=3).pk, "reason": "VIP"}).status_code == 302
    assert client.get(reverse("admin:members_member_export")).status_code == 200
    for name in [
        "members_pointsentry",
        "members_memberlevel",
        "members_address",
        "members_levelchange",
        "members_user",
    ]:
        assert client.get(reverse(f"admin:{name}_changelist")).status_code == 200


def test_admin_can_add_a_user_and_the_profile_follows(client, staff):
    response = client.get(reverse("admin:members_user_add"))
    assert response.status_code == 200
    data = {
        "username": "newbie",
        "password1": "a-long-pass-2026x",
        "password2": "a-long-pass-2026x",
        "usable_password": "true",
        "member-TOTAL_FORMS": "0",
        "member-INITIAL_FORMS": "0",
        "member-MIN_NUM_FORMS": "0",
        "member-MAX_NUM_FORMS": "1",
    }
    response = client.post(reverse("admin:members_user_add"), data)
    assert response.status_code == 302, response.content[:2000]
    user = get_user_model().objects.get(username="newbie")
    assert Member.objects.filter(user=user).exists()
    change = client.get(reverse("admin:members_user_change", args=[user.pk]))
    assert change.status_code == 200


def test_a_resent_points_adjustment_applies_once(client, staff):
    member = make_member()
    page = client.get(reverse("members_bo:detail", args=[member.pk])).content.decode()
    request_id = page.split('name="request_id" value="', 1)[1].split('"', 1)[0]
    assert len(request_id) == 36
    form = {"delta": 100, "reason": "活动补发", "request_id": request_id}
    for _ in range(3):  # a double click and a browser re-POST
        client.post(reverse("members_bo:adjust_points", args=[member.pk]), form)
    member.refresh_from_db()
    assert member.points_balance == 100
    assert PointsEntry.objects.filter(member=member, kind=PointsEntry.Kind.ADJUST).count() == 1
    # the next form shown is a new adjustment
    again = client.get(reverse("members_bo:detail", args=[member.pk])).content.decode()
    assert f'name="request_id" value="{request_id}"' not in again
