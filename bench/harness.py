"""What a benchmark module builds: `HttpBenchmark` and `CustomBenchmark`, plus helpers for custom ones.

A module in bench/benchmarks/ defines `benchmarks()` returning a list of these objects; bench/run.py
finds it, runs every `setup` inside Django before gunicorn starts, then measures. See bench/README.md.
"""

from __future__ import annotations

import statistics
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

# Keys a setup() may return that change the request; every other key is reported as a figure.
REQUEST_KEYS = ("path", "login", "session", "headers", "method", "body", "bodies", "content_type")


@dataclass
class HttpBenchmark:
    """GET (or another method on) one URL of the running app with the load generator.

    name: the key in latest.json (the issue that adds the benchmark gives it).
    path: the URL path, e.g. "/"; setup() may override it ({"path": "/products/42/"}).
    setup: optional callable run inside Django (ORM available, bench database) before gunicorn starts;
        it may create rows and return a dict with any of REQUEST_KEYS to override the request, plus its
        own figures (e.g. {"products": 500}) that are reported beside rps.
    login: a username: the harness sends a valid session cookie for that user (created if missing);
        setup() may return "session": {key: value} to put more in that session (a chosen store).
    headers: extra request headers, e.g. {"HX-Request": "true"}.
    method/body/content_type: for a POST; the harness then sends a CSRF cookie and X-CSRFToken header.
    bodies: several bodies sent in turn instead of `body` (the first is the one checked before the run).
    """

    name: str
    path: str = "/"
    setup: Callable[[], dict | None] | None = None
    login: str | None = None
    headers: dict[str, str] | None = None
    method: str = "GET"
    body: str | None = None
    bodies: list[str] | None = None
    content_type: str | None = None
    kind: str = field(default="http", init=False)


@dataclass
class CustomBenchmark:
    """Anything that is not one URL under load: `run(ctx)` executes in the harness process.

    run(ctx) gets a `Context` and returns a dict with at least rps, p50_ms, p95_ms and ratio (against
    a baseline it measures itself in the same run, e.g. `SELECT 1` through `run_threads`), plus its own
    figures (e.g. {"oversold": 0}). A benchmark that needs PostgreSQL returns
    {"skipped": "needs PostgreSQL"} when ctx.vendor != "postgresql".
    setup: optional callable run before gunicorn starts, like HttpBenchmark.setup; its dict is ctx.setup.
    """

    name: str
    run: Callable[[Context], dict]
    setup: Callable[[], dict | None] | None = None
    kind: str = field(default="custom", init=False)


@dataclass
class Context:
    """What a custom benchmark gets."""

    vendor: str  # django.db.connection.vendor: "postgresql" or "sqlite"
    duration: float  # seconds each measurement should last (--duration)
    concurrency: int  # the load generator's connections (--connections); a fair thread count
    base_url: str  # the running gunicorn, e.g. "http://127.0.0.1:40123"
    results: dict[str, dict]  # results measured so far in this run (hello first)
    setup: dict = field(default_factory=dict)  # what this benchmark's setup() returned


def percentiles_ms(latencies_s: list[float]) -> dict:
    """p50/p95 (milliseconds, 2 decimals) of latencies given in seconds."""
    if not latencies_s:
        return {"p50_ms": None, "p95_ms": None}
    ordered = sorted(latencies_s)

    def pick(p):
        index = min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))
        return round(ordered[index] * 1000, 2)

    return {"p50_ms": pick(50), "p95_ms": pick(95)}


def run_threads(operation: Callable[[int], Any], threads: int, duration: float) -> dict:
    """Call operation(thread_index) repeatedly from `threads` threads for `duration` seconds.

    Each thread uses its own database connection (closed at the end). Returns rps, p50_ms, p95_ms,
    calls, and `outcomes`: how many times each return value was seen (e.g. {True: 100, False: 7}),
    so a benchmark can count successes/refusals. An exception stops the run and is raised again.
    """
    from django.db import connection

    latencies: list[list[float]] = [[] for _ in range(threads)]
    outcomes: list[dict] = [{} for _ in range(threads)]
    errors: list[BaseException] = []
    start_gate = threading.Barrier(threads + 1)
    stop_at = [0.0]

    def worker(index):
        try:
            start_gate.wait()
            mine, seen = latencies[index], outcomes[index]
            while time.perf_counter() < stop_at[0] and not errors:
                began = time.perf_counter()
                result = operation(index)
                mine.append(time.perf_counter() - began)
                seen[result] = seen.get(result, 0) + 1
        except BaseException as exc:  # reported to the caller below
            errors.append(exc)
        finally:
            connection.close()

    pool = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(threads)]
    for thread in pool:
        thread.start()
    began = time.perf_counter()
    stop_at[0] = began + duration
    start_gate.wait()
    for thread in pool:
        thread.join()
    elapsed = time.perf_counter() - began
    if errors:
        raise errors[0]
    flat = [x for part in latencies for x in part]
    merged: dict = {}
    for seen in outcomes:
        for key, count in seen.items():
            merged[key] = merged.get(key, 0) + count
    return {
        "rps": round(len(flat) / elapsed, 1) if elapsed else 0.0,
        **percentiles_ms(flat),
        "calls": len(flat),
        "outcomes": merged,
        "mean_ms": round(statistics.fmean(flat) * 1000, 2) if flat else None,
    }


_seeded: list[str] = []


def seed_demo() -> str:
    """Load every app's demo data (settings.DEMO_SEEDERS) into the bench database, once per run.

    For setups that want a realistic shop (categories, products, stores, members). Returns the
    command's output. Seeders are idempotent, so a kept database is not filled twice.
    """
    if not _seeded:
        from io import StringIO

        from django.core.management import call_command

        out = StringIO()
        call_command("seed_demo", allow_production=True, stdout=out)
        _seeded.append(out.getvalue())
    return _seeded[0]


def ratio(value: float | None, baseline: float | None) -> float | None:
    """value / baseline rounded to 3 decimals (None if either is missing or zero)."""
    if not value or not baseline:
        return None
    return round(value / baseline, 3)
