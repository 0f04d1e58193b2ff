"""The member centre (我的) of the demo shopper, logged in, with the demo data loaded."""

from bench.harness import HttpBenchmark, seed_demo


def _member_centre():
    seed_demo()
    from members.demo import DEMO_SHOPPER
    from members.models import Member, PointsEntry

    member = Member.objects.get(user__username=DEMO_SHOPPER["username"])
    return {
        "login": DEMO_SHOPPER["username"],
        "points_entries": PointsEntry.objects.filter(member=member).count(),
    }


def benchmarks():
    return [HttpBenchmark(name="member_centre", path="/members/me/", setup=_member_centre)]
