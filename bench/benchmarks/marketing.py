"""The points mall (积分商城) as the demo shopper sees it, logged in, with the demo data loaded."""

from bench.harness import HttpBenchmark, seed_demo


def _points_mall():
    seed_demo()
    from marketing.selectors import open_items
    from members.demo import DEMO_SHOPPER

    return {"login": DEMO_SHOPPER["username"], "items": open_items().count()}


def benchmarks():
    return [HttpBenchmark(name="points_mall", path="/marketing/points-mall/", setup=_points_mall)]
