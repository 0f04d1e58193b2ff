# Default member levels (editable afterwards) and a profile for every user that already exists.

from decimal import Decimal

from django.db import migrations

DEFAULT_LEVELS = [
    # name, rank, growth threshold, discount %, points multiplier, flash-sale early minutes
    ("普通会员", 0, 0, Decimal("100.00"), Decimal("1.00"), 0),
    ("银卡会员", 1, 1000, Decimal("98.00"), Decimal("1.20"), 0),
    ("金卡会员", 2, 5000, Decimal("95.00"), Decimal("1.50"), 10),
    ("钻石会员", 3, 20000, Decimal("90.00"), Decimal("2.00"), 30),
]


def create_levels(apps, schema_editor):
    MemberLevel = apps.get_model("members", "MemberLevel")
    Member = apps.get_model("members", "Member")
    User = apps.get_model("members", "User")
    for name, rank, threshold, discount, multiplier, early in DEFAULT_LEVELS:
        MemberLevel.objects.get_or_create(
            rank=rank,
            defaults={
                "name": name,
                "growth_threshold": threshold,
                "discount_percent": discount,
                "points_multiplier": multiplier,
                "flash_sale_early_minutes": early,
            },
        )
    base = MemberLevel.objects.order_by("rank").first()
    for user in User.objects.filter(member__isnull=True):
        Member.objects.create(user=user, level=base, source="admin" if user.is_staff else "phone")


class Migration(migrations.Migration):

    dependencies = [
        ("members", "0002_member_profile_levels_points_addresses"),
    ]

    operations = [
        migrations.RunPython(create_levels, migrations.RunPython.noop),
    ]
