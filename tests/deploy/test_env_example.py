""".env.example documents every environment variable config/settings.py reads."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
READ = re.compile(r"""\benv(?:\.\w+)?\(\s*["']([A-Z][A-Z0-9_]*)["']""")
OS_READ = re.compile(r"""os\.(?:environ\.get|getenv)\(\s*["']([A-Z][A-Z0-9_]*)["']|os\.environ\[["']([A-Z][A-Z0-9_]*)["']\]""")


def settings_names():
    text = (ROOT / "config" / "settings.py").read_text()
    names = set(READ.findall(text))
    names |= {a or b for a, b in OS_READ.findall(text)}
    return names


def documented_names():
    names = set()
    for line in (ROOT / ".env.example").read_text().splitlines():
        match = re.match(r"#?\s?([A-Z][A-Z0-9_]*)=", line)
        if match:
            names.add(match.group(1))
    return names


def test_settings_reads_the_known_variables():
    names = settings_names()
    assert {"DEBUG", "SECRET_KEY", "DATABASE_URL", "REDIS_URL", "HTTPS", "BENCH_ENDPOINTS"} <= names


def test_every_variable_settings_reads_is_in_env_example():
    missing = sorted(settings_names() - documented_names())
    assert not missing, f"add these to .env.example (one commented line each): {missing}"


def test_every_variable_has_a_comment_line_above_it():
    lines = (ROOT / ".env.example").read_text().splitlines()
    for index, line in enumerate(lines):
        if re.match(r"#?\s?[A-Z][A-Z0-9_]*=", line):
            above = lines[index - 1]
            assert above.startswith("# ") and not re.match(r"#\s?[A-Z][A-Z0-9_]*=", above), line


def test_secrets_are_empty_placeholders():
    values = dict(
        line.split("=", 1) for line in (ROOT / ".env.example").read_text().splitlines() if re.match(r"[A-Z]", line)
    )
    for name in ("SECRET_KEY", "POSTGRES_PASSWORD", "WECHAT_APP_SECRET", "WECHAT_PAY_APIV3_KEY",
                 "SMS_ACCESS_KEY_SECRET"):
        assert values[name] == "", name
    assert values["DEBUG"] == "0" and values["PAYMENT_DEV_GATEWAY"] == "0"
