#!/usr/bin/env python
"""Run the benchmarks: `python bench/run.py [name ...]` (all of them without names). See bench/README.md.

1. Points Django at a dedicated benchmark database (BENCH_DATABASE_URL, else DATABASE_URL from the
   environment, else a fresh SQLite file of this run), migrates it and collects static files. Each
   run keeps its files in var/bench/run-<pid>/ (removed after a successful run), so two runs at the
   same time do not share a SQLite file.
2. Runs every selected benchmark's setup() inside Django (the ORM is available) and creates the
   session rows for `login=` benchmarks with the configured session engine.
3. Starts gunicorn once (config.wsgi, BENCH_ENDPOINTS=1, DEBUG=0, a throwaway SECRET_KEY; the same
   workers for every benchmark), waits for /healthz, measures `hello` (the baseline), then each HTTP
   benchmark with wrk (or the aiohttp client), then each custom benchmark.
4. Prints a table, writes bench/results/latest.json, stops gunicorn (also on Ctrl-C or an error).
Exits non-zero when a benchmark failed: an error, or any answer that was not 2xx.
"""

from __future__ import annotations

import argparse
import http.client
import importlib
import json
import logging
import os
import pkgutil
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import traceback
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import loadgen  # noqa: E402
from bench.harness import REQUEST_KEYS, Context, CustomBenchmark, HttpBenchmark, ratio  # noqa: E402

# This run's files: SQLite database, static, media, gunicorn.log. BENCH_VAR_DIR overrides (tests).
BENCH_VAR = Path(os.environ.get("BENCH_VAR_DIR") or ROOT / "var" / "bench" / f"run-{os.getpid()}")
KEPT_SQLITE = ROOT / "var" / "bench.sqlite3"  # --keep
KEPT_MEDIA = ROOT / "var" / "bench-media"  # --keep: uploads live as long as the kept database
DEFAULT_OUTPUT = ROOT / "bench" / "results" / "latest.json"
BASELINE = "hello"
# Result keys every HTTP benchmark has; anything else is the benchmark's own figure.
STANDARD_KEYS = {
    "rps", "p50_ms", "p95_ms", "p99_ms", "ratio", "path", "method", "client", "requests", "ok_2xx",
    "non_2xx", "first_non_2xx", "socket_errors", "kind", "error", "skipped", "module",
}


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description="Benchmark the app under gunicorn (see bench/README.md).")
    parser.add_argument("names", nargs="*", help="benchmarks to run (default: all); hello always runs")
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per measurement (default 5)")
    parser.add_argument("--warmup", type=float, default=1.0, help="seconds of warm-up, not measured (default 1)")
    parser.add_argument("--connections", type=int, default=8, help="load generator connections (default 8)")
    parser.add_argument("--wrk-threads", type=int, default=1, help="wrk threads (default 1)")
    # One process: with two, whichever worker wakes first accepts most of wrk's keep-alive
    # connections, and the same benchmark measured twice differed by 2x. Ratios need stability.
    parser.add_argument("--workers", type=int, default=1, help="gunicorn workers (default 1)")
    parser.add_argument("--threads", type=int, default=8, help="gunicorn gthread threads per worker (default 8)")
    parser.add_argument("--client", choices=["auto", "wrk", "python"], default="auto",
                        help="load generator: wrk (installed with apt-get if missing), python (aiohttp), "
                             "auto (wrk, else python)")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="results file (JSON)")
    parser.add_argument("--fresh", action="store_true",
                        help="start from an empty database (the default unless --keep): PostgreSQL's is "
                             "dropped and created again when its name contains 'bench', else flushed")
    parser.add_argument("--keep", action="store_true",
                        help="keep the database (SQLite: var/bench.sqlite3) and its uploads (var/bench-media) "
                             "for the next run; setups must be idempotent")
    parser.add_argument("--list", action="store_true", help="list the benchmarks and exit")
    return parser.parse_args(argv)


# --- environment and database ---------------------------------------------------------------
def configure_environment(keep=False):
    """Environment for this process and gunicorn; explicit values so a .env file cannot leak in."""
    url = os.environ.get("BENCH_DATABASE_URL") or os.environ.get("DATABASE_URL") or (
        f"sqlite:///{KEPT_SQLITE if keep else BENCH_VAR / 'db.sqlite3'}"
    )
    parts = urlsplit(url)
    if parts.scheme.startswith("sqlite"):
        path = Path(parts.path).resolve() if parts.path not in ("", "/") else None
        if path is None or path == (ROOT / "var" / "db.sqlite3").resolve():
            sys.exit(f"refusing to benchmark on {url}: use a dedicated database")
    elif parts.path.lstrip("/").startswith("test_"):
        sys.exit(f"refusing to benchmark on a test database: {url}")
    BENCH_VAR.mkdir(parents=True, exist_ok=True)
    os.environ.update(
        {
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "DATABASE_URL": url,
            "REDIS_URL": os.environ.get("REDIS_URL", ""),
            "BENCH_ENDPOINTS": "1",
            "DEBUG": "0",
            "HTTPS": "0",
            "SECRET_KEY": "bench-only-" + secrets.token_urlsafe(40),
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "STATIC_ROOT": str(BENCH_VAR / "static"),
            "MEDIA_ROOT": str(KEPT_MEDIA if keep else BENCH_VAR / "media"),
            "LOG_LEVEL": os.environ.get("BENCH_LOG_LEVEL", "WARNING"),
            "CELERY_TASK_ALWAYS_EAGER": "1",
        }
    )
    return url


def reset_database(fresh, keep):
    """A fresh SQLite file unless --keep; PostgreSQL: see prepare_postgres. True: flush after migrating."""
    from django.db import connections

    connections.close_all()
    url = os.environ["DATABASE_URL"]
    if url.startswith("sqlite"):
        if not keep:
            for suffix in ("", "-wal", "-shm", "-journal"):
                Path(f"{urlsplit(url).path}{suffix}").unlink(missing_ok=True)
        return False
    # Fresh by default, as SQLite: a kept database would name uploads of an earlier run's media folder.
    return prepare_postgres(fresh or not keep)


def migrate_and_collect(flush):
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", interactive=False, verbosity=0)
    if flush:
        call_command("flush", interactive=False, verbosity=0)
    call_command("collectstatic", interactive=False, verbosity=0)
    return connection.vendor


def prepare_postgres(fresh):
    """Create the database if missing; with --fresh drop it first (name contains "bench") or flush it.

    Returns True when the caller should flush after migrating.
    """
    import environ
    import psycopg2

    config = environ.Env.db_url_config(os.environ["DATABASE_URL"])
    if "postgres" not in config["ENGINE"]:
        return fresh
    name = config["NAME"]
    params = {"host": config.get("HOST") or None, "port": config.get("PORT") or None,
              "user": config.get("USER") or None, "password": config.get("PASSWORD") or None}
    drop = fresh and "bench" in name
    if not drop:
        try:
            psycopg2.connect(dbname=name, **params).close()
            return fresh
        except psycopg2.OperationalError as exc:
            if "does not exist" not in str(exc):
                raise
    conn = psycopg2.connect(dbname="postgres", **params)
    conn.autocommit = True
    with conn.cursor() as cursor:
        if drop:
            cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        cursor.execute(f'CREATE DATABASE "{name}"')
    conn.close()
    print(f"created database {name}")
    return False


# --- benchmarks -----------------------------------------------------------------------------
def discover():
    """(benchmarks in module order, import problems) from bench/benchmarks/*.py."""
    import bench.benchmarks as package

    found, problems, names = [], [], set()
    for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        module_name = f"bench.benchmarks.{info.name}"
        try:
            module = importlib.import_module(module_name)
            items = list(module.benchmarks())
        except Exception:
            problems.append((module_name, traceback.format_exc(limit=3)))
            continue
        for item in items:
            if not isinstance(item, HttpBenchmark | CustomBenchmark):
                problems.append((module_name, f"{item!r} is neither HttpBenchmark nor CustomBenchmark"))
            elif item.name == BASELINE or item.name in names:
                problems.append((module_name, f"duplicate benchmark name {item.name!r}"))
            else:
                item.module = info.name
                names.add(item.name)
                found.append(item)
    return found, problems


def login_cookie(username, extra=None):
    """A session cookie for `username` (created if missing) made with the configured session engine;
    `extra` is more session data (e.g. the shopper's chosen store)."""
    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, get_user_model

    user_model = get_user_model()
    user, created = user_model.objects.get_or_create(username=username)
    if created:
        user.set_unusable_password()
        user.save(update_fields=["password"])
    engine = importlib.import_module(settings.SESSION_ENGINE)
    session = engine.SessionStore()
    session[SESSION_KEY] = user._meta.pk.value_to_string(user)
    session[BACKEND_SESSION_KEY] = settings.AUTHENTICATION_BACKENDS[0]
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    for key, value in (extra or {}).items():
        session[key] = value
    session.save()
    return f"{settings.SESSION_COOKIE_NAME}={session.session_key}"


def build_request(bench):
    """Run bench.setup() and work out the request: path, method, body, headers, figures."""
    from django.conf import settings
    from django.utils.crypto import get_random_string

    returned = (bench.setup() if bench.setup else None) or {}
    if not isinstance(returned, dict):
        raise TypeError(f"{bench.name}: setup() must return a dict or None, not {type(returned).__name__}")
    request = {
        "path": returned.get("path", bench.path),
        "method": (returned.get("method") or bench.method or "GET").upper(),
        "body": returned.get("body", bench.body),
        "bodies": returned.get("bodies", bench.bodies),
        "login": returned.get("login", bench.login),
        "headers": {**(bench.headers or {}), **(returned.get("headers") or {})},
    }
    content_type = returned.get("content_type", bench.content_type)
    cookies = []
    if request["login"]:
        cookies.append(login_cookie(request["login"], returned.get("session")))
    if request["method"] not in ("GET", "HEAD", "OPTIONS"):
        token = get_random_string(32)
        cookies.append(f"{settings.CSRF_COOKIE_NAME}={token}")
        request["headers"].setdefault("X-CSRFToken", token)
        if request["bodies"] and request["body"] is None:
            request["body"] = request["bodies"][0]
        if request["body"] is not None:
            request["headers"].setdefault("Content-Type", content_type or "application/x-www-form-urlencoded")
    if cookies:
        request["headers"]["Cookie"] = "; ".join(cookies)
    figures = {k: v for k, v in returned.items() if k not in REQUEST_KEYS}
    return request, figures


# --- gunicorn -------------------------------------------------------------------------------
def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    def __init__(self, workers, threads):
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.log = BENCH_VAR / "gunicorn.log"
        self.cmd = [
            sys.executable, "-m", "gunicorn", "config.wsgi:application",
            "--bind", f"127.0.0.1:{self.port}", "--workers", str(workers), "--worker-class", "gthread",
            "--threads", str(threads), "--keep-alive", "5", "--timeout", "30", "--backlog", "256",
            "--log-level", "warning", "--error-logfile", str(self.log), "--chdir", str(ROOT),
        ]
        self.proc = None

    def start(self):
        self.log.write_text("")
        # as in production, the web process hands slow work (messages, gateway calls) to the worker
        # instead of running it inside the request; no worker runs during a bench, the tasks just queue
        env = {**os.environ, "CELERY_TASK_ALWAYS_EAGER": "0"}
        self.proc = subprocess.Popen(self.cmd, cwd=ROOT, env=env, start_new_session=True,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        last = "no answer"
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {self.proc.returncode}:\n{self.log_tail()}")
            try:
                status, body, _ = fetch(self.base_url, "/healthz")
                if status == 200:
                    return
                last = f"{status} {body[:200]!r}"
            except OSError as exc:
                last = str(exc)
            time.sleep(0.2)
        raise RuntimeError(f"gunicorn did not answer /healthz with 200 in 60 s ({last}):\n{self.log_tail()}")

    def stop(self):
        if not self.proc or self.proc.poll() is not None:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=5)
        except ProcessLookupError:
            pass

    def log_tail(self, lines=30):
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def fetch(base_url, path, method="GET", body=None, headers=None):
    """One request without following redirects: (status, body bytes, headers)."""
    parts = urlsplit(base_url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    try:
        conn.request(method, path, body=body.encode() if isinstance(body, str) else body, headers=headers or {})
        response = conn.getresponse()
        return response.status, response.read(), dict(response.getheaders())
    finally:
        conn.close()


# --- measuring ------------------------------------------------------------------------------
def measure_http(server, request, args, generator):
    status, body, headers = fetch(server.base_url, request["path"], request["method"], request["body"],
                                  request["headers"])
    if not 200 <= status < 300:
        where = headers.get("Location") or " ".join(body.decode(errors="replace").split())[:160]
        raise RuntimeError(f"{request['method']} {request['path']} answered {status} ({where}); "
                           "a benchmark must answer 2xx")
    run, load = generator
    url = server.base_url + request["path"]
    options = {"headers": request["headers"], "method": request["method"], "body": request["body"],
               "connections": args.connections, "threads": args.wrk_threads}
    if request.get("bodies"):
        options["bodies"] = request["bodies"]
    if args.warmup > 0:
        run(load, url, duration=args.warmup, **options)
    result = run(load, url, duration=args.duration, **options)
    result["path"] = request["path"]
    if request["method"] != "GET":
        result["method"] = request["method"]
    if result["non_2xx"] or not result["ok_2xx"]:
        result["error"] = (f"{result['non_2xx']} of {result['requests']} answers were not 2xx "
                           f"(first: {result['first_non_2xx']})")
    return result


def pick_generator(choice):
    if choice in ("auto", "wrk"):
        wrk = loadgen.find_wrk(install=True)
        if wrk:
            return (lambda load, url, **kw: loadgen.run_wrk(load, url, **kw)), wrk
        if choice == "wrk":
            sys.exit("wrk is not installed and could not be installed (apt-get install wrk)")
        print("WARNING: wrk is unavailable; using the Python aiohttp client (figures are not "
              "comparable with wrk runs; ratios still are)", file=sys.stderr)
    return (lambda load, url, **kw: loadgen.run_python(url, **kw)), None


# --- output ---------------------------------------------------------------------------------
def fmt(value):
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.1f}" if abs(value) >= 100 else f"{value:.3g}" if abs(value) < 1 else f"{value:.2f}"
    return str(value)


def num(value, pattern):
    return pattern.format(value) if isinstance(value, int | float) else fmt(value)


def print_table(results):
    header = ["name", "rps", "p50_ms", "p95_ms", "ratio", "extra"]
    rows = []
    for name, result in results.items():
        if "skipped" in result:
            rows.append([name, "-", "-", "-", "-", f"skipped: {result['skipped']}"])
            continue
        error = str(result.get("error", "")).strip().splitlines()[-1:]  # the full text is in latest.json
        if error and "rps" not in result:
            rows.append([name, "-", "-", "-", "-", f"ERROR: {error[0]}"])
            continue
        extra = {k: v for k, v in result.items() if k not in STANDARD_KEYS}
        text = ", ".join(f"{k}={fmt(v) if not isinstance(v, dict) else json.dumps(v)}" for k, v in extra.items())
        if error:
            text = f"ERROR: {error[0]}" + (f"; {text}" if text else "")
        rows.append([name, num(result.get("rps"), "{:,.1f}"), num(result.get("p50_ms"), "{:.2f}"),
                     num(result.get("p95_ms"), "{:.2f}"),
                     "-" if result.get("ratio") is None else f"{result['ratio']:.3f}", text])
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(5)]
    line = "  ".join(f"{{:<{widths[0]}}}" if i == 0 else f"{{:>{widths[i]}}}" for i in range(5)) + "  {}"
    print(line.format(*header))
    print(line.format(*["-" * w for w in widths], "-----"))
    for row in rows:
        print(line.format(*row))


def write_results(path, results):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, ensure_ascii=False, indent=2, default=str) + "\n")


def remove_run_files():
    if "BENCH_VAR_DIR" not in os.environ:
        shutil.rmtree(BENCH_VAR, ignore_errors=True)


# --- main -----------------------------------------------------------------------------------
def batch_timeouts():
    """The database timeouts of a worker for this process's connections: the open one now, new
    ones as they open (threads of a setup), until connections.close_all() and the signal is gone."""
    from django.db import connection
    from django.db.backends.signals import connection_created

    from core.dbtimeouts import set_task_timeouts

    def opened(sender, connection, **kwargs):
        set_task_timeouts(connection)

    connection_created.connect(opened, weak=False, dispatch_uid="bench.batch_timeouts")
    connection.ensure_connection()
    set_task_timeouts(connection)


def main(argv=None):
    args = parse_args(argv)
    configure_environment(args.keep)

    def terminate(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, terminate)

    if args.list:
        import django

        django.setup()
        found, problems = discover()
        for bench in found:
            print(f"{bench.name:<24} {bench.kind:<7} {bench.module}")
        for module_name, problem in problems:
            print(f"PROBLEM in {module_name}: {problem}", file=sys.stderr)
        remove_run_files()
        return 1 if problems else 0

    import django

    started = time.monotonic()
    django.setup()
    # eager tasks still open a (filesystem) broker connection, which warns about its missing hostname
    logging.getLogger("kombu.connection").setLevel(logging.ERROR)
    found, problems = discover()
    unknown = [n for n in args.names if n != BASELINE and n not in {b.name for b in found}]
    if unknown:
        for module_name, problem in problems:
            print(f"PROBLEM in {module_name}: {problem}", file=sys.stderr)
        remove_run_files()
        sys.exit(f"unknown benchmark(s): {', '.join(unknown)} (python bench/run.py --list)")
    vendor = migrate_and_collect(reset_database(args.fresh, args.keep))
    selected = [b for b in found if not args.names or b.name in args.names]
    failed = bool(problems) and not args.names
    for module_name, problem in problems:
        print(f"PROBLEM in {module_name}: {problem}", file=sys.stderr)

    from django.db import connections

    results: dict[str, dict] = {BASELINE: {}}
    prepared = {}
    # setups are batch work (100,000-row inserts and updates), so they run under the worker's and
    # commands' timeouts (core.dbtimeouts), not the web's; their connections are closed below, so
    # gunicorn and the custom runs get the web's again
    batch_timeouts()
    for bench in selected:
        try:
            if bench.kind == "http":
                prepared[bench.name] = build_request(bench)
            else:
                prepared[bench.name] = (None, (bench.setup() if bench.setup else None) or {})
            results[bench.name] = {}
        except Exception:
            results[bench.name] = {"error": "setup failed: " + traceback.format_exc(limit=6).strip()}
            print(f"{bench.name}: {results[bench.name]['error']}", file=sys.stderr)
    from django.db.backends.signals import connection_created

    connection_created.disconnect(dispatch_uid="bench.batch_timeouts")
    connections.close_all()  # gunicorn gets the database to itself (SQLite locks)

    run, load = pick_generator(args.client)
    server = Server(args.workers, args.threads)
    interrupted = False
    from django.conf import settings

    database = Path(str(settings.DATABASES["default"]["NAME"])).name
    print(f"{vendor} database {database}, redis={'yes' if os.environ['REDIS_URL'] else 'no'}, gunicorn "
          f"{args.workers} workers x {args.threads} threads, client {'wrk' if load else 'python'} "
          f"-c{args.connections} -d{args.duration:g}s (+{args.warmup:g}s warm-up)", flush=True)
    try:
        server.start()
        hello = {"path": "/_bench/hello", "method": "GET", "body": None, "headers": {}}
        results[BASELINE] = measure_http(server, hello, args, (run, load))
        results[BASELINE]["ratio"] = 1.0
        baseline_rps = results[BASELINE]["rps"]
        print(f"  {BASELINE}: {baseline_rps} rps", flush=True)
        for bench in [b for b in selected if b.kind == "http"]:
            if "error" in results[bench.name]:
                continue
            request, figures = prepared[bench.name]
            try:
                result = measure_http(server, request, args, (run, load))
                result["ratio"] = ratio(result["rps"], baseline_rps)
                result.update(figures)
            except Exception as exc:
                result = {"error": str(exc), **figures}
            results[bench.name] = result
            print(f"  {bench.name}: {result.get('rps', 'error')} rps", flush=True)
        for bench in [b for b in selected if b.kind == "custom"]:
            if "error" in results[bench.name]:
                continue
            ctx = Context(vendor=vendor, duration=args.duration, concurrency=args.connections,
                          base_url=server.base_url, results=results, setup=prepared[bench.name][1])
            try:
                result = dict(bench.run(ctx) or {})
                if "skipped" not in result:
                    missing = [k for k in ("rps", "p50_ms", "p95_ms", "ratio") if k not in result]
                    if missing:
                        result["error"] = f"run() did not return {', '.join(missing)}"
            except Exception:
                result = {"error": traceback.format_exc(limit=6).strip()}
                print(f"{bench.name}: {result['error']}", file=sys.stderr)
            finally:
                connections.close_all()
            results[bench.name] = result
            print(f"  {bench.name}: {result.get('rps', result.get('skipped', 'error'))}", flush=True)
    except KeyboardInterrupt:
        print("interrupted: stopping gunicorn (results not written)", file=sys.stderr)
        interrupted = failed = True
        results = {k: v for k, v in results.items() if v}
    except Exception as exc:
        print(f"ERROR: {exc}", file=sys.stderr)
        failed = True
        results = {k: v for k, v in results.items() if v}
    finally:
        server.stop()

    kinds = {b.name: b.kind for b in selected}
    for name, result in results.items():
        result.setdefault("kind", kinds.get(name, "http"))
        if "error" in result:
            failed = True
    print()
    print_table(results)
    if not interrupted:
        write_results(args.output, results)
        out = args.output.resolve()
        shown = out.relative_to(ROOT) if out.is_relative_to(ROOT) else out
        print(f"\nresults: {shown}  ({time.monotonic() - started:.0f} s)")
    if failed:
        print(f"FAILED: see the errors above (gunicorn's log: {server.log})", file=sys.stderr)
    else:
        remove_run_files()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
