import itertools

from django.contrib.auth import get_user_model

_seq = itertools.count(1)


def make_user(phone=None, **extra):
    n = next(_seq)
    user = get_user_model().objects.create_user(
        extra.pop("username", f"member-{n}"), phone=phone or f"+86139{n:08d}", **extra
    )
    return user


def make_member(points=0, **extra):
    from members import services

    user = make_user(**extra)
    if points:
        services.adjust_points(user, points, "测试初始积分", None)
    user.member.refresh_from_db()
    return user.member
