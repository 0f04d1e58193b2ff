"""Members are shoppers: staff accounts are neither listed nor counted as members (back office,
admin, dashboard, CSV); phones read 138 0013 8000, never +86…, and export as text without a quote."""

import csv
import io

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from members.auth.phones import format_phone, mask_phone

from .factories import make_member

pytestmark = pytest.mark.django_db


@pytest.fixture
def hq(client):
    user = get_user_model().objects.create_user("hq", password="x", is_staff=True, is_superuser=True,
                                                phone="+8613700000001")
    client.force_login(user)
    return user


@pytest.fixture
def clerk():
    return get_user_model().objects.create_user("clerk", password="x", is_staff=True, phone="+8613700000002")


@pytest.mark.parametrize("stored, shown", [
    ("+8613800138000", "138 0013 8000"), ("13800138000", "138 0013 8000"), ("", ""), (None, ""),
    ("+85291234567", "+85291234567"), ("021-12345678", "021-12345678"),
])
def test_phones_read_in_groups_of_three_four_four(stored, shown):
    assert format_phone(stored) == shown


def test_masked_phones_keep_the_first_three_and_last_four():
    assert mask_phone("+8613800138000") == "138****8000"


def test_staff_are_not_listed_or_counted_as_members(client, hq, clerk):
    shopper = make_member(phone="+8613800138000", nickname="真会员")
    response = client.get(reverse("members_bo:list"))
    assert [m.pk for m in response.context["page"].object_list] == [shopper.pk]
    page = response.content.decode()
    assert "真会员" in page and "138 0013 8000" in page and "+86" not in page
    assert "1370000000" not in page.split("</header>")[-1].replace(" ", "")  # no staff row
    admin = client.get(reverse("admin:members_member_changelist")).context["cl"]
    assert [m.pk for m in admin.result_list] == [shopper.pk]
    dashboard = client.get(reverse("backoffice:dashboard"))
    assert dashboard.context["member_count"] == 1 and dashboard.context["signup_total"] == 1


def test_a_phone_typed_with_spaces_finds_the_member(client, hq):
    make_member(phone="+8613800138000", nickname="小李")
    make_member(phone="+8613900139000", nickname="小张")
    for typed in ("138 0013 8000", "138-0013-8000", "+86 13800138000", "0013 8000"):
        page = client.get(reverse("members_bo:list"), {"q": typed}).content.decode()
        assert "小李" in page and "小张" not in page, typed


def test_the_csv_keeps_phones_as_text_without_a_stray_quote(client, hq, clerk):
    make_member(phone="+8613800138000", nickname="小李")
    response = client.get(reverse("members_bo:export"))
    body = b"".join(response.streaming_content).decode("utf-8").lstrip("\ufeff")
    rows = list(csv.reader(io.StringIO(body)))
    assert len(rows) == 2  # the header and the one shopper: no staff
    assert rows[1][1] == "138 0013 8000"


def test_the_admin_export_and_user_list_show_phones_the_same_way(client, hq):
    make_member(phone="+8613800138000", nickname="小李")
    users = client.get(reverse("admin:members_user_changelist")).content.decode()
    assert "138 0013 8000" in users
    from members.admin import MemberResource
    from members.models import Member

    dataset = MemberResource().export(Member.objects.filter(user__is_staff=False))
    assert dataset.dict[0][str(MemberResource.fields["phone"].column_name)] == "138 0013 8000"
