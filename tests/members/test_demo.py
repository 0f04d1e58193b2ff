import pytest
from django.core.management import call_command

from members import demo
from members.models import Member, MemberLevel
from members.selectors import points_mismatches

pytestmark = pytest.mark.django_db


def test_seed_creates_members_across_levels_and_is_idempotent():
    lines = []
    assert demo.seed(lines.append) > 0
    assert Member.objects.filter(user__username__startswith="demo-member-").count() == demo.DEMO_MEMBER_COUNT
    assert Member.objects.values("level").distinct().count() == MemberLevel.objects.count()
    shopper = Member.objects.select_related("user").get(user__phone=demo.DEMO_SHOPPER["phone"])
    assert shopper.user.nickname == "演示会员" and shopper.points_balance > 0
    assert any(demo.DEMO_SHOPPER["phone"] in line for line in lines)
    assert points_mismatches() == []
    call_command("check_points")
    assert demo.seed(lines.append) == 0


def test_demo_shopper_logs_in_by_phone_and_sms_code(client, settings):
    """What the README tells a newcomer: phone 13800138000, code from the (dev) SMS outbox."""
    from core import sms

    settings.SMS_BACKEND = "locmem"
    demo.seed(lambda line: None)
    sms.outbox.clear()
    client.post("/accounts/login/", {"phone": "13800138000", "agree": "on", "action": "send"})
    code = sms.outbox[-1].params["code"]
    client.post("/accounts/login/", {"action": "verify", "code": code})
    page = client.get("/members/me/")
    assert page.status_code == 200
    assert page.context["member"].user.nickname == "演示会员"
