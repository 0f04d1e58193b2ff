"""Load generators: Debian's wrk (with bench/wrk_report.lua) or, without it, an aiohttp client.

Both take the same arguments and return the same dict: requests, ok_2xx, non_2xx, first_non_2xx,
socket_errors, rps, p50_ms, p95_ms, p99_ms, client.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from bench.harness import percentiles_ms

LUA = Path(__file__).resolve().parent / "wrk_report.lua"


def find_wrk(install: bool = True) -> str | None:
    """wrk's path; as root on Debian, install it with apt-get when missing (None if that fails)."""
    path = shutil.which("wrk")
    if path or not install:
        return path
    if hasattr(os, "geteuid") and os.geteuid() == 0 and shutil.which("apt-get"):
        print("wrk is missing: installing it with apt-get ...", file=sys.stderr)
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        try:
            subprocess.run(["apt-get", "update", "-qq"], check=True, env=env, timeout=300)
            subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=True, env=env, timeout=300,
                           stdout=subprocess.DEVNULL)
        except (subprocess.SubprocessError, OSError) as exc:
            print(f"could not install wrk ({exc})", file=sys.stderr)
    return shutil.which("wrk")


def run_wrk(wrk, url, *, headers, method, body, duration, connections, threads, bodies=None):
    cmd = [wrk, f"-t{threads}", f"-c{connections}", f"-d{max(1, round(duration))}s", "--timeout", "10s",
           "-s", str(LUA)]
    for name, value in headers.items():
        cmd += ["-H", f"{name}: {value}"]
    cmd.append(url)
    env = {**os.environ, "BENCH_METHOD": method or "GET", "BENCH_BODY": body or "",
           "BENCH_BODIES": "\n".join(bodies or [])}
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=duration + 60)
    line = next((x for x in proc.stdout.splitlines() if x.startswith("BENCH_JSON ")), None)
    if proc.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed (exit {proc.returncode}): {proc.stderr.strip() or proc.stdout.strip()}")
    raw = json.loads(line.removeprefix("BENCH_JSON "))
    seconds = raw["duration_us"] / 1e6
    return {
        "client": "wrk",
        "requests": raw["requests"],
        "ok_2xx": raw["ok_2xx"],
        "non_2xx": raw["non_2xx"],
        "first_non_2xx": raw["first_non_2xx"] or None,
        "socket_errors": sum(raw["socket_errors"].values()),
        "rps": round(raw["ok_2xx"] / seconds, 1) if seconds else 0.0,
        "p50_ms": round(raw["p50_us"] / 1000, 2),
        "p95_ms": round(raw["p95_us"] / 1000, 2),
        "p99_ms": round(raw["p99_us"] / 1000, 2),
    }


async def _python_load(url, headers, method, body, duration, connections, bodies=None):
    import itertools

    import aiohttp

    latencies, statuses, errors = [], {}, [0]
    stop_at = time.perf_counter() + duration
    connector = aiohttp.TCPConnector(limit=connections)
    timeout = aiohttp.ClientTimeout(total=10)
    rotation = itertools.cycle([b.encode() for b in bodies]) if bodies else None
    data = body.encode() if body else None
    async with aiohttp.ClientSession(connector=connector, timeout=timeout, cookie_jar=aiohttp.DummyCookieJar()) as s:

        async def one_connection():
            while time.perf_counter() < stop_at:
                began = time.perf_counter()
                try:
                    payload = next(rotation) if rotation else data
                    async with s.request(method, url, headers=headers, data=payload, allow_redirects=False) as r:
                        await r.read()
                        statuses[r.status] = statuses.get(r.status, 0) + 1
                except (TimeoutError, aiohttp.ClientError):
                    errors[0] += 1
                    continue
                latencies.append(time.perf_counter() - began)

        began = time.perf_counter()
        await asyncio.gather(*(one_connection() for _ in range(connections)))
        elapsed = time.perf_counter() - began
    return latencies, statuses, errors[0], elapsed


def _run_in_own_loop(coroutine):
    """asyncio.run, also when the caller already runs an event loop (Playwright's sync API in the
    same test session does): then the load runs on a thread with a loop of its own."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coroutine)
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


def run_python(url, *, headers, method, body, duration, connections, threads=None, bodies=None):
    load = _python_load(url, headers, method or "GET", body, duration, connections, bodies)
    latencies, statuses, errors, elapsed = _run_in_own_loop(load)
    ok = sum(n for code, n in statuses.items() if 200 <= code < 300)
    bad = sorted(code for code in statuses if not 200 <= code < 300)
    ordered = sorted(latencies)
    return {
        "client": "python",
        "requests": sum(statuses.values()),
        "ok_2xx": ok,
        "non_2xx": sum(statuses[c] for c in bad),
        "first_non_2xx": bad[0] if bad else None,
        "socket_errors": errors,
        "rps": round(ok / elapsed, 1) if elapsed else 0.0,
        **percentiles_ms(latencies),
        "p99_ms": round(ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))] * 1000, 2) if ordered else None,
    }
