"""The shop's home page with the demo data loaded. (The baseline `hello` is measured by bench/run.py.)"""

from bench.harness import HttpBenchmark, seed_demo


def _home():
    seed_demo()
    return {}


def benchmarks():
    return [HttpBenchmark(name="home", path="/", setup=_home)]
