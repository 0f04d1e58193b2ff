import pytest
from django.core.management import call_command

from members import demo
from members.models import Member, MemberLevel, PointsEntry
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
    # every entry has its record: no exchange without a PointsExchange, no review points without a
    # review (there are no reviews), no purchase points for orders the shopper does not have
    assert not PointsEntry.objects.filter(kind__in=[PointsEntry.Kind.EXCHANGE, PointsEntry.Kind.REVIEW]).exists()
    assert not PointsEntry.objects.filter(member=shopper, kind=PointsEntry.Kind.PURCHASE).exists()
    # the demo members' spending elsewhere is one opening balance each, not orders this shop never saw
    assert not PointsEntry.objects.filter(reference__startswith="order:").exists()
    opening = PointsEntry.objects.filter(reference__startswith="import:")
    assert opening.count() == opening.values("member").distinct().count() > 100
    moments = list(PointsEntry.objects.filter(member=shopper).values_list("created_at", flat=True))
    assert len(moments) == 4 and len(set(moments)) == 4  # each sign-in at its own time, in the past
    # the members' history lies in the past, spread over months like the sign-ups, not at seeding time
    from django.utils import timezone

    from members.models import GrowthEntry, LevelChange

    an_hour_ago = timezone.now() - timezone.timedelta(hours=1)
    for model in (PointsEntry, GrowthEntry, LevelChange):
        rows = model.objects.filter(member__user__username__startswith="demo-member-")
        assert rows.filter(created_at__lt=an_hour_ago).count() >= rows.count() * 0.9, model.__name__
        assert rows.values("created_at__date").distinct().count() > 30, model.__name__
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
