"""The timeouts from the shopper inwards fit inside each other (README "Deploy"): nginx waits 30 s;
gunicorn neither kills nor, on a restart, cuts off a request sooner; its keep-alive outlives
nginx's idle upstream connections; and a web request's database waits (lock, statement) end well
before the proxy gives up, so no thread waits on a row for longer and nothing commits after the
shopper saw a failure."""

import re
import runpy
from pathlib import Path

from django.conf import settings

ROOT = Path(__file__).resolve().parents[2]


def seconds(value):
    match = re.fullmatch(r"(\d+)(ms|s|m)?", value)
    number, unit = int(match.group(1)), match.group(2) or "s"
    return number / 1000 if unit == "ms" else number * 60 if unit == "m" else number


def nginx():
    text = (ROOT / "deploy" / "nginx.conf").read_text()
    upstream = re.search(r"upstream mendian_web \{(.*?)\}", text, re.S).group(1)
    proxied = re.search(r"location / \{([^}]*proxy_pass[^}]*)\}", text, re.S).group(1)
    return {
        "read": seconds(re.search(r"proxy_read_timeout (\w+);", proxied).group(1)),
        "send": seconds(re.search(r"proxy_send_timeout (\w+);", proxied).group(1)),
        "upstream_keepalive": seconds(re.search(r"keepalive_timeout (\w+);", upstream).group(1)),
    }


def gunicorn():
    return runpy.run_path(str(ROOT / "deploy" / "gunicorn.conf.py"))


def test_gunicorn_is_sized_to_the_proxy():
    proxy, conf = nginx(), gunicorn()
    assert proxy["read"] == proxy["send"] == conf["PROXY_TIMEOUT"] == 30
    assert conf["timeout"] >= proxy["read"] and conf["graceful_timeout"] >= proxy["read"]
    assert conf["worker_class"] == "gthread"
    assert conf["keepalive"] > proxy["upstream_keepalive"]


def test_a_requests_database_waits_end_well_before_the_proxy_gives_up():
    proxy = nginx()["read"]
    lock, statement = settings.DB_LOCK_TIMEOUT_MS / 1000, settings.DB_STATEMENT_TIMEOUT_MS / 1000
    assert 0 < lock < statement <= proxy / 2
    assert settings.OUTAGE_RETRY_AFTER_SECONDS < proxy


def test_the_container_health_check_gives_up_before_compose_does():
    import yaml

    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    check = compose["services"]["web"]["healthcheck"]
    script = (ROOT / "deploy" / "healthcheck.py").read_text()
    assert seconds(re.search(r"timeout=(\d+)", script).group(1)) < seconds(check["timeout"])
