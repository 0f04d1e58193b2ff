"""The shop's home page. (The baseline `hello` is measured by bench/run.py itself.)"""

from bench.harness import HttpBenchmark


def benchmarks():
    return [HttpBenchmark(name="home", path="/")]
