"""Demo accounts and members. The passwords are published in the README: demo only.

200 demo members across the levels with points history (ledger rows written in bulk with their
running balance, so balance == sum(ledger) holds), and one demo shopper who logs in by phone + SMS
code (the code appears in the development SMS outbox / console).
"""

import random
from datetime import datetime, time, timedelta
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.db.models import OuterRef, Subquery
from django.utils import timezone

from core.references import import_ref

from . import services
from .models import Address, GrowthEntry, LevelChange, Member, MemberLevel, PointsEntry

DEMO_ADMIN = {"username": "admin", "password": "admin-demo-2026"}
DEMO_SHOPPER = {"username": "demo-shopper", "phone": "+8613800138000", "nickname": "演示会员"}
DEMO_MEMBER_COUNT = 200
SEED = 20261125

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高"
GIVEN = [
    "小明",
    "晓燕",
    "建国",
    "丽丽",
    "伟",
    "芳",
    "静",
    "磊",
    "婷婷",
    "浩然",
    "子涵",
    "欣怡",
    "宇轩",
    "思雨",
    "嘉怡",
]
CITIES = [
    ("上海市", "上海市", ["徐汇区", "静安区", "浦东新区", "闵行区"]),
    ("浙江省", "杭州市", ["西湖区", "上城区", "滨江区", "余杭区"]),
    ("江苏省", "南京市", ["玄武区", "鼓楼区", "建邺区"]),
    ("北京市", "北京市", ["朝阳区", "海淀区", "东城区"]),
    ("广东省", "深圳市", ["南山区", "福田区", "宝安区"]),
]


def seed(out):
    changed = _seed_admin(out)
    changed += _seed_members(out)
    changed += _seed_shopper(out)
    return changed


def _seed_admin(out):
    User = get_user_model()
    admin, created = User.objects.get_or_create(
        username=DEMO_ADMIN["username"],
        defaults={"nickname": "总部管理员", "is_staff": True, "is_superuser": True},
    )
    if created:
        admin.set_password(DEMO_ADMIN["password"])
        admin.save(update_fields=["password"])
    out(f"  HQ admin: {DEMO_ADMIN['username']} / {DEMO_ADMIN['password']}  (/admin/ and /backoffice/)")
    return int(created)


def _target_growth(rng):
    roll = rng.random()
    if roll < 0.5:
        return rng.randint(0, 999)
    if roll < 0.75:
        return rng.randint(1000, 4999)
    if roll < 0.92:
        return rng.randint(5000, 19999)
    return rng.randint(20000, 40000)


def _seed_members(out):
    User = get_user_model()
    if User.objects.filter(username="demo-member-001").exists():
        return 0
    rng = random.Random(SEED)
    now = timezone.now()
    services.ensure_default_levels()
    levels = list(MemberLevel.objects.order_by("rank"))
    base = levels[0]
    users = []
    for i in range(1, DEMO_MEMBER_COUNT + 1):
        user = User(
            username=f"demo-member-{i:03d}",
            phone=f"+86139{i:08d}",
            phone_verified=True,
            nickname=rng.choice(SURNAMES) + rng.choice(GIVEN),
            date_joined=now - timedelta(days=rng.randint(0, 180), minutes=rng.randint(0, 1439)),
        )
        user.set_unusable_password()
        users.append(user)
    # bulk_create sends no post_save, so the profiles are created here, in bulk too
    User.objects.bulk_create(users)
    users = list(User.objects.filter(username__startswith="demo-member-").order_by("username"))
    members, plans = [], []
    for user in users:
        growth = _target_growth(rng)
        level = max((lv for lv in levels if lv.growth_threshold <= growth), key=lambda lv: lv.rank)
        members.append(
            Member(
                user=user,
                gender=rng.choice(Member.Gender.values),
                birthday=None
                if rng.random() < 0.3
                else (now - timedelta(days=rng.randint(18 * 365, 60 * 365))).date(),
                source=rng.choices(Member.Source.values, weights=[5, 8, 3, 0])[0],
                level=level,
                growth=growth,
            )
        )
        plans.append((user, growth, level))
    Member.objects.bulk_create(members)
    Member.objects.filter(user__username__startswith="demo-member-").update(
        created_at=Subquery(User.objects.filter(pk=OuterRef("user_id")).values("date_joined")[:1])
    )
    members = {m.user_id: m for m in Member.objects.filter(user__username__startswith="demo-member-")}

    entries, growth_entries, level_changes, balances = [], [], [], {}
    for user, growth, level in plans:
        member = members[user.pk]
        history = _opening_balance(_history(rng, member, growth, level, user.date_joined, now), member, user)
        balance = 0
        for when, kind, delta, reference, reason, _paid in history:
            if delta < 0 and balance + delta < 0:
                continue
            balance += delta
            entries.append(
                PointsEntry(
                    member=member,
                    delta=delta,
                    balance_after=balance,
                    kind=kind,
                    reference=reference,
                    reason=reason,
                    created_at=when,
                    expires_at=_expiry(when) if delta > 0 else None,
                )
            )
        balances[member.pk] = balance
        running, crossed_at = 0, None
        for when, reference, paid in _purchases(history):
            running += paid
            if crossed_at is None and running >= level.growth_threshold:
                crossed_at = when  # the purchase that reached the member's level
            growth_entries.append(
                GrowthEntry(
                    member=member,
                    delta=paid,
                    balance_after=running,
                    reference=reference,  # the opening balance's reference, as for its points
                    created_at=when,
                )
            )
        if level.pk != base.pk:
            level_changes.append(
                LevelChange(member=member, from_level=base, to_level=level, reason="原系统会员等级导入",
                            created_at=crossed_at or user.date_joined)
            )
    for model, rows in ((PointsEntry, entries), (GrowthEntry, growth_entries), (LevelChange, level_changes)):
        _insert_back_in_time(model, rows)
    for pk, balance in balances.items():
        Member.objects.filter(pk=pk).update(points_balance=balance)
    # growth on the profile equals the growth ledger
    totals = {}
    for entry in growth_entries:
        totals[entry.member_id] = totals.get(entry.member_id, 0) + entry.delta
    for member in members.values():
        Member.objects.filter(pk=member.pk).update(growth=totals.get(member.pk, 0))
    out(f"  {DEMO_MEMBER_COUNT} demo members (demo-member-001 … {DEMO_MEMBER_COUNT:03d}) with points history")
    return len(users) + len(members) + len(entries) + len(growth_entries) + len(level_changes)


def _insert_back_in_time(model, rows):
    """bulk_create the rows, then give them back the times they were built with: auto_now_add
    stamps the moment of the insert on every row (and on the objects passed in)."""
    moments = [row.created_at for row in rows]
    created = model.objects.bulk_create(rows, batch_size=1000)
    for row, moment in zip(created, moments, strict=True):
        row.created_at = moment
    model.objects.bulk_update(created, ["created_at"], batch_size=1000)


def _expiry(when):
    from .services import points_expiry_for

    return points_expiry_for(when)


def _history(rng, member, growth, level, joined, now):
    """Time-ordered (when, kind, delta, reference, reason) for one member; purchases sum to `growth`."""
    span = max(1, int((now - joined).total_seconds()))
    events = []
    remaining, n = growth, 0
    while remaining > 0:
        n += 1
        paid = remaining if remaining < 300 else rng.randint(100, min(remaining, 3000))
        remaining -= paid
        when = joined + timedelta(seconds=rng.randint(0, span))
        points = int(Decimal(paid) * level.points_multiplier)
        events.append(
            (
                when,
                PointsEntry.Kind.PURCHASE,
                points,
                f"order:DEMO-{member.pk}-{n}",
                f"订单 DEMO-{member.pk}-{n} 完成",
                paid,
            )
        )
    for d in range(rng.randint(0, 8)):
        day = (now - timedelta(days=d + 1)).date()
        when = timezone.make_aware(timezone.datetime.combine(day, timezone.datetime.min.time())) + timedelta(
            hours=9
        )
        if when > joined:
            events.append((when, PointsEntry.Kind.SIGN_IN, 5 + min(d, 5), day.isoformat(), "每日签到", 0))
    events.sort(key=lambda e: e[0])
    return events


def _opening_balance(history, member, user):
    """The demo members came over from the merchant's previous system: what they had bought there
    is one opening entry (points and growth) when they joined, under ``import:<member>``, not a row
    per order that this system never saw (a ledger line must name a record that exists)."""
    purchases = [event for event in history if event[1] == PointsEntry.Kind.PURCHASE]
    if not purchases:
        return history
    opening = (user.date_joined, PointsEntry.Kind.ADJUST, sum(e[2] for e in purchases), import_ref(member.pk),
               "期初积分（原系统导入）", sum(e[5] for e in purchases))
    rest = [event for event in history if event[1] != PointsEntry.Kind.PURCHASE]
    return sorted([opening, *rest], key=lambda e: e[0])


def _purchases(history):
    """What counts as spending for growth: the opening balance carried over (see _opening_balance)."""
    return [(when, ref, paid) for when, _kind, _delta, ref, _reason, paid in history if paid]


def _seed_shopper(out):

    User = get_user_model()
    out(
        f"  Demo shopper: phone {DEMO_SHOPPER['phone']} ({DEMO_SHOPPER['nickname']}): log in at /accounts/login/ "
        "with 13800138000 and the SMS code shown at /accounts/dev/sms-outbox/ (development) or in the console"
    )
    if User.objects.filter(username=DEMO_SHOPPER["username"]).exists():
        return 0
    user = User(
        username=DEMO_SHOPPER["username"],
        phone=DEMO_SHOPPER["phone"],
        phone_verified=True,
        nickname=DEMO_SHOPPER["nickname"],
    )
    user.registration_source = Member.Source.PHONE
    user.set_unusable_password()
    user.save()
    member = services.ensure_member(user)
    today = timezone.localdate()
    for d in range(4, 0, -1):
        services.sign_in(member, today - timedelta(days=d))
    # each sign-in at its own morning, as it happened (the ledger stamps the time of the insert)
    for d, entry in zip(range(4, 0, -1), PointsEntry.objects.filter(member=member).order_by("pk"), strict=True):
        moment = timezone.make_aware(datetime.combine(today - timedelta(days=d), time(8, 30)))
        PointsEntry.objects.filter(pk=entry.pk).update(created_at=moment + timedelta(minutes=17 * d, seconds=d))
    # no other history here: the shopper's orders (orders.demo) and points-mall exchanges
    # (marketing.demo) earn and spend points through their own services, with their records
    services.save_address(
        user,
        Address(
            receiver="演示会员",
            phone="13800138000",
            province="上海市",
            city="上海市",
            district="徐汇区",
            detail="漕溪北路 88 号 8 楼",
            # located (使用当前位置): same-city delivery from the 徐家汇 store measures from here
            latitude=31.1946,
            longitude=121.4368,
        ),
    )
    services.save_address(
        user,
        Address(
            receiver="演示会员",
            phone="13800138000",
            province="浙江省",
            city="杭州市",
            district="西湖区",
            detail="文三路 100 号",
        ),
    )
    return 1 + PointsEntry.objects.filter(member=member).count() + 2
