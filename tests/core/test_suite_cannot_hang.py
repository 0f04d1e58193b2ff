"""Tests that cannot hang (issue 13, item 6): pytest-timeout is loaded with the project's settings,
so a deadlock or a stuck browser fails its test instead of holding CI until its own limit."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CI_SECONDS = 90 * 60  # one CI run's limit


def test_every_test_runs_under_a_time_limit(request):
    assert request.config.pluginmanager.hasplugin("timeout")
    limit = float(request.config.getini("timeout"))
    assert 0 < limit <= CI_SECONDS / 5


def test_a_test_that_hangs_is_failed_by_the_limit(tmp_path):
    hang = tmp_path / "test_hang.py"
    hang.write_text("import time\n\n\ndef test_hangs():\n    time.sleep(120)\n")
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:django", "-p", "no:playwright",
         "-c", str(ROOT / "pyproject.toml"), "--rootdir", str(tmp_path), "-o", "timeout=2", str(hang)],
        cwd=tmp_path, capture_output=True, text=True, timeout=90,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert "Timeout" in output and "1 failed" in output, output
