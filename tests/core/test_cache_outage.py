"""Redis down does not take the shop front down (core.cache, core.sessions).

The cache is pointed at a port where nothing listens, on the real backend and settings production
uses: pages answer from the database, rate limits refuse politely, sessions live on.
"""

import logging

import pytest
from django.contrib.auth import get_user_model
from django.core.cache import cache

from catalog import cache as catalog_cache
from core.cache import reset_breakers
from stores.models import Store
from tests.catalog.factories import category, product
from tests.members_auth.conftest import last_code

pytestmark = [pytest.mark.django_db, pytest.mark.redis]
User = get_user_model()
CLOSED_PORT = "redis://:never-logged@127.0.0.1:6390/0"  # nothing listens here
PHONE = "+8613800138000"


@pytest.fixture(autouse=True)
def _forget_outages():
    reset_breakers()
    yield
    reset_breakers()


@pytest.fixture
def redis_down(settings):
    """Switch the default cache (and so sessions' cached copies and rate limits) to a closed port."""

    def down():
        real = settings.CACHES["default"]
        assert real["BACKEND"] == "core.cache.ResilientRedisCache", "production's cache backend"
        settings.CACHES = {"default": {**real, "LOCATION": CLOSED_PORT}}

    return down


@pytest.fixture
def shop():
    food = category("食品饮料")
    nuts = product("每日坚果", cat=category("坚果", parent=food))
    store = Store.objects.create(
        name="南京东路店", code="nj", province="上海市", city="上海市", district="黄浦区",
        street="南京东路1号", latitude=31.2304, longitude=121.4737, phone="021-12345678",
    )
    from stores.services import receive_stock

    receive_stock(store, nuts.skus.first(), 5, reference="staff:cache-outage")  # on sale, so on the home page
    return {"category": food, "product": nuts}


def test_shop_front_pages_answer_from_the_database_while_redis_is_down(client, shop, redis_down, caplog):
    redis_down()
    with caplog.at_level(logging.WARNING, logger="core.cache"):
        for _ in range(2):
            for path in ("/", "/categories/", f"/categories/{shop['category'].pk}/",
                         f"/products/{shop['product'].pk}/", "/stores/", "/accounts/login/",
                         "/accounts/staff-login/"):
                response = client.get(path)
                assert response.status_code == 200, path
    assert "每日坚果" in client.get(f"/products/{shop['product'].pk}/").content.decode()
    assert "南京东路店" in client.get("/stores/").content.decode()
    # the outage is logged once, not once per cache call
    outage = [r for r in caplog.records if "unreachable" in r.getMessage()]
    assert len(outage) == 1, [r.getMessage() for r in outage]
    assert "127.0.0.1:6390" in outage[0].getMessage() and "never-logged" not in caplog.text


def test_no_login_code_is_texted_while_its_limit_cannot_be_counted(client, redis_down, sms_outbox):
    redis_down()
    response = client.post("/accounts/login/", {"phone": PHONE, "agree": "on", "action": "send"})
    assert response.status_code == 200
    assert "验证码服务繁忙，请稍后再试" in response.content.decode()
    assert sms_outbox == []


def test_a_code_texted_before_the_outage_still_logs_in(client, redis_down, sms_outbox):
    client.post("/accounts/login/", {"phone": PHONE, "agree": "on", "action": "send"})
    code = last_code(sms_outbox)
    redis_down()
    response = client.post("/accounts/login/", {"action": "verify", "code": code})
    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(User.objects.get(phone=PHONE).pk)


def test_staff_password_is_not_checked_without_its_failed_attempt_limit(client, redis_down):
    User.objects.create_user("hq", password="hq-pass-2026x", is_staff=True)
    redis_down()
    response = client.post("/accounts/staff-login/", {"login": "hq", "password": "hq-pass-2026x",
                                                       "next": "/backoffice/"})
    assert response.status_code == 503
    assert response["Retry-After"]
    page = response.content.decode()
    assert "登录服务繁忙，请稍后再试" in page
    assert 'value="hq"' in page and 'value="/backoffice/"' in page and "hq-pass-2026x" not in page
    assert "_auth_user_id" not in client.session


def test_bind_phone_texts_no_code_while_its_limit_cannot_be_counted(client, redis_down, sms_outbox):
    client.force_login(User.objects.create_user("wx-user"))
    redis_down()
    response = client.post("/accounts/bind-phone/", {"action": "send", "phone": PHONE})
    assert response.status_code == 200
    assert "验证码服务繁忙，请稍后再试" in response.content.decode()
    assert sms_outbox == []


def test_a_logged_in_session_survives_a_flush_and_an_outage(client, redis_down):
    client.force_login(User.objects.create_user("m13800138000", phone=PHONE, phone_verified=True))
    assert client.get("/members/me/").status_code == 200
    cache.clear()  # a Redis restart without persistence
    response = client.get("/members/me/")
    assert response.status_code == 200, "logged out by a cache flush"
    redis_down()
    response = client.get("/members/me/")
    assert response.status_code == 200, "logged out by a cache outage"


def test_health_check_still_reports_the_cache_down(client, redis_down):
    redis_down()
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["down"] == ["cache"]


def test_catalogue_version_is_bumped_when_redis_answers_again(shop):
    before = catalog_cache.version()
    cache.breaker.failed(ConnectionRefusedError("test outage"))
    cache.breaker.retry_at = 0  # the retry window has passed: the next call reaches Redis
    cache.get("anything")
    assert catalog_cache.version() != before


def test_a_cached_session_copy_lives_at_most_five_minutes(client):
    from core.sessions import CACHED_COPY_SECONDS

    client.force_login(User.objects.create_user("shopper"))
    key = "django.contrib.sessions.cached_db" + client.session.session_key
    assert 0 < cache.ttl(key) <= CACHED_COPY_SECONDS


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_shopper_and_staff_see_why_no_code_or_login_while_redis_is_down(live_server, page, screenshot, shop,
                                                                         redis_down, sms_outbox):
    redis_down()
    page.goto(live_server.url + "/")
    assert page.get_by_text("每日坚果").first.is_visible()  # the home page, from the database
    page.goto(live_server.url + "/accounts/login/")
    page.fill("input[name=phone]", "138 0013 8000")
    page.check("input[name=agree]")
    page.get_by_role("button", name="获取验证码").click()
    page.wait_for_load_state()
    assert page.get_by_text("验证码服务繁忙，请稍后再试").is_visible()
    assert not sms_outbox
    screenshot("outage-login-code-busy")
    User.objects.create_user("hq", password="hq-pass-2026x", is_staff=True)
    page.goto(live_server.url + "/accounts/staff-login/")
    page.fill("input[name=login]", "hq")
    page.fill("input[name=password]", "hq-pass-2026x")
    page.get_by_role("button", name="登录").click()
    page.wait_for_load_state()
    assert page.get_by_text("登录服务繁忙，请稍后再试").is_visible()
    screenshot("outage-staff-login-busy")


def _container_healthcheck():
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / "deploy" / "healthcheck.py"
    spec = importlib.util.spec_from_file_location("deploy_healthcheck", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.django_db(transaction=True)
def test_web_container_stays_healthy_while_only_redis_is_down(live_server, redis_down, capsys):
    """docker-compose's healthcheck (deploy/healthcheck.py): the web still serves without Redis, so
    it is not taken out of service; without its database it cannot, and is unhealthy."""
    from unittest import mock

    from django.db.utils import OperationalError

    healthcheck = _container_healthcheck()
    url = live_server.url + "/healthz"
    assert healthcheck.check(url, "localhost") == 0
    redis_down()
    assert healthcheck.check(url, "localhost") == 0
    assert "degraded" in capsys.readouterr().err
    with mock.patch("core.health.connection") as conn:
        conn.cursor.side_effect = OperationalError("connection refused")
        assert healthcheck.check(url, "localhost") == 1
