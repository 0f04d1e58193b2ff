"""`make bench`'s harness really runs: gunicorn starts, wrk measures hello and home, latest.json is written.

Fast mode (1 s per measurement, only `home`) on a throwaway SQLite file, never the real databases.
"""

import functools
import json
import os
import shutil
import subprocess
import sys
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.integration


def _run(tmp_path, *args):
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "BENCH_DATABASE_URL")}
    env["BENCH_DATABASE_URL"] = f"sqlite:///{tmp_path / 'bench.sqlite3'}"
    env["BENCH_VAR_DIR"] = str(tmp_path / "var")
    output = tmp_path / "latest.json"
    proc = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "run.py"), "--duration", "1", "--warmup", "0.3",
         "--output", str(output), *args],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )
    return proc, output


def test_hello_and_home_are_measured(tmp_path):
    proc, output = _run(tmp_path, "home")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    results = json.loads(output.read_text())
    assert set(results) == {"hello", "home"}
    for name in ("hello", "home"):
        result = results[name]
        assert result["rps"] > 0
        assert result["p50_ms"] > 0
        assert result["p95_ms"] >= result["p50_ms"]
        assert result["ratio"] > 0
        assert result["non_2xx"] == 0
    assert results["hello"]["ratio"] == 1.0
    assert results["home"]["path"] == "/"
    # the table is printed too
    assert "hello" in proc.stdout and "home" in proc.stdout and "p95_ms" in proc.stdout
    # gunicorn was stopped: no process is left whose command line names this run's log file
    assert not _processes_mentioning(str(tmp_path))


def _processes_mentioning(text):
    found = []
    for proc_dir in Path("/proc").glob("[0-9]*"):
        try:
            if text in (proc_dir / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace"):
                found.append(proc_dir.name)
        except OSError:
            continue
    return found


def test_unknown_benchmark_is_refused(tmp_path):
    proc, output = _run(tmp_path, "no_such_benchmark")
    assert proc.returncode != 0
    assert "unknown benchmark" in proc.stderr
    assert not output.exists()


@pytest.fixture
def static_server(tmp_path):
    (tmp_path / "ok.txt").write_text("ok")
    handler = functools.partial(SimpleHTTPRequestHandler, directory=str(tmp_path))
    handler.log_message = lambda *a: None
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize("client", ["wrk", "python"])
def test_load_generators_count_non_2xx(static_server, client):
    from bench import loadgen

    if client == "wrk" and not shutil.which("wrk"):
        pytest.skip("needs wrk (apt-get install wrk)")

    run = loadgen.run_wrk if client == "wrk" else (lambda _wrk, url, **kw: loadgen.run_python(url, **kw))
    options = {"headers": {}, "method": "GET", "body": None, "duration": 1, "connections": 2, "threads": 1}
    good = run(shutil.which("wrk"), static_server + "/ok.txt", **options)
    assert good["ok_2xx"] > 0 and good["non_2xx"] == 0 and good["rps"] > 0
    assert good["p95_ms"] >= good["p50_ms"] > 0
    bad = run(shutil.which("wrk"), static_server + "/missing.txt", **options)
    assert bad["ok_2xx"] == 0 and bad["non_2xx"] > 0 and bad["first_non_2xx"] == 404
