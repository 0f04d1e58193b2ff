"""Shared test setup: service markers, eager Celery, and the browser.

Markers (pyproject.toml): `postgres`, `redis`, `browser`, `integration`. A test that needs a
service it cannot reach is skipped with the reason shown in the summary; with REQUIRE_SERVICES=1
(CI) it fails instead, so a green CI run means the real parts really ran.
"""

import os
import shutil
from pathlib import Path

import pytest

# pytest-django's live_server with Playwright's sync API runs inside an event loop thread.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

ARTIFACTS = Path(__file__).resolve().parent.parent / "var" / "test-artifacts"
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
WECHAT_UA = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Mobile/15E148 MicroMessenger/8.0.50(0x1800322c) NetType/WIFI Language/zh_CN"
)
PHONE_VIEWPORT = {"width": 390, "height": 844}


def require_services():
    return os.environ.get("REQUIRE_SERVICES") == "1"


def _missing_service(item):
    from django.conf import settings
    from django.db import connection

    if item.get_closest_marker("postgres") and connection.vendor != "postgresql":
        return "needs PostgreSQL: set DATABASE_URL=postgres://postgres@127.0.0.1:5432/mendian"
    if item.get_closest_marker("redis"):
        if not settings.REDIS_URL:
            return "needs Redis: set REDIS_URL=redis://127.0.0.1:6379/0"
        import redis

        try:
            redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=1).ping()
        except redis.RedisError as exc:
            return f"Redis at REDIS_URL is unreachable: {exc}"
    if item.get_closest_marker("browser") and not shutil.which(CHROMIUM):
        return f"needs Debian's chromium at {CHROMIUM} (apt-get install chromium fonts-wqy-microhei)"
    return None


def pytest_runtest_setup(item):
    reason = _missing_service(item)
    if reason:
        if require_services():
            pytest.fail(f"REQUIRE_SERVICES=1 but {reason}", pytrace=False)
        pytest.skip(reason)


@pytest.fixture(autouse=True, scope="session")
def celery_eager():
    """Unit tests run tasks inline; the integration tests start a real worker instead."""
    from config.celery import app

    app.conf.task_always_eager = True
    app.conf.task_eager_propagates = True
    yield app


@pytest.fixture(autouse=True)
def _celery_app_stays_current():
    """A test that starts a real worker makes its own Celery app the current and default one
    (celery.contrib.testing sets both): put the project's app back, or every later .delay() in the
    session would go to that test's broker instead of running inline."""
    yield
    from celery import current_app

    from config.celery import app

    if current_app._get_current_object() is not app:
        app.set_current()
        app.set_default()


@pytest.fixture(autouse=True)
def _media_root(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")


@pytest.fixture(autouse=True)
def sms_outbox(settings):
    """Texts go to core.sms.outbox (like django.core.mail.outbox), emptied for every test."""
    from core import sms

    settings.SMS_BACKEND = "locmem"
    sms.outbox.clear()
    yield sms.outbox
    sms.outbox.clear()


@pytest.fixture(autouse=True)
def _migration_seeded_rows(request):
    """The member levels and the legal documents come from data migrations, which a transactional
    test's flush removes for the tests after it: put them back for every test that uses the database
    (as orders' conftest does for HQ's express rule). Tests that empty the tables do so themselves."""
    marker = request.node.get_closest_marker("django_db")
    if marker is None and not {"db", "transactional_db"} & set(request.fixturenames):
        return
    transactional = "transactional_db" in request.fixturenames or bool(marker and marker.kwargs.get("transaction"))
    request.getfixturevalue("transactional_db" if transactional else "db")
    from members.auth.consent import current_documents
    from members.models import MemberLevel
    from members.services import ensure_default_levels

    if not MemberLevel.objects.exists():
        ensure_default_levels()
    current_documents()  # re-creates version 1 of a kind that has no row


@pytest.fixture(autouse=True)
def _fresh_cache():
    from django.core.cache import cache

    from catalog import pagecache
    from core import shell
    from core.templatetags import tabbar
    from marketing import mall_cache
    from members import centre
    from orders import store_rules

    cache.clear()
    # what shop pages keep in process memory (layouts, the tab bar, bodies and grids): a test may
    # change settings or translations they were rendered with
    shell.clear()
    tabbar.clear()
    centre.clear_local()
    mall_cache.clear_local()
    pagecache.clear_local()
    store_rules.clear_local()
    yield


# --- browser (pytest-playwright with Debian's chromium) --------------------------------------
@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    return {
        **browser_type_launch_args,
        "executable_path": CHROMIUM,
        "args": [
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-quic",
            "--no-first-run",
        ],
    }


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    return {
        **browser_context_args,
        "viewport": PHONE_VIEWPORT,
        "device_scale_factor": 2,
        "is_mobile": True,
        "has_touch": True,
        "user_agent": WECHAT_UA,
        "locale": "zh-CN",
        "timezone_id": "Asia/Shanghai",
    }


@pytest.fixture
def page(page):
    """pytest-playwright's page, failing the test if the browser refused anything under the
    Content-Security-Policy (an inline script or a resource from elsewhere that a page needs)."""
    refused = []
    page.on("console", lambda message: refused.append(message.text)
            if "Content Security Policy" in message.text else None)
    yield page
    assert not refused, refused


@pytest.fixture
def screenshot(page):
    """Save a full-page screenshot under var/test-artifacts/screenshots/<name>.png; returns the path."""

    def take(name, target=None):
        folder = ARTIFACTS / "screenshots"
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{name}.png"
        (target or page).screenshot(path=str(path), full_page=True)
        return path

    return take


@pytest.fixture
def notices(settings):
    """What core.notify sent during the test: a list of (user_id, subject, body, kind)."""
    from tests.notifiers import RecordingNotifier

    settings.NOTIFIER_BACKENDS = ["tests.notifiers.RecordingNotifier"]
    RecordingNotifier.sent.clear()
    yield RecordingNotifier.sent
    RecordingNotifier.sent.clear()
