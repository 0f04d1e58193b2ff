"""The Content-Security-Policy: on every kind of page, scripts from this site only; and no
template carries what that policy would refuse (browser tests fail on any refusal: tests/conftest.py)."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.django_db


def _policy(response):
    header = response.get("Content-Security-Policy", "")
    return {part.split()[0]: part.split()[1:] for part in header.split(";") if part.strip()}


def _staff(client):
    user = get_user_model().objects.create_superuser("csp_admin", password="x" * 12)
    client.force_login(user)
    return client


@pytest.mark.parametrize("path", ["/", "/orders/cart/", "/stores/", "/accounts/login/"])
def test_shop_pages_allow_scripts_from_this_site_only(client, path):
    policy = _policy(client.get(path))
    assert policy["script-src"] == ["'self'"] and policy["object-src"] == ["'none'"]
    assert policy["frame-ancestors"] == ["'none'"] and policy["default-src"] == ["'self'"]


def test_back_office_and_admin_carry_the_policy(client):
    """The back office may also compile WebAssembly (the camera scanner's decoder, a .wasm of this
    site); the admin may not."""
    _staff(client)
    for path in (reverse("admin:index"), reverse("admin:catalog_product_add")):
        response = client.get(path)
        assert response.status_code == 200, path
        assert _policy(response)["script-src"] == ["'self'"], path
    for path in (reverse("backoffice:dashboard"), reverse("orders_bo:pickups"), "/backoffice/no-such-page/"):
        response = client.get(path)
        assert response.status_code in (200, 404), path
        policy = _policy(response)
        assert policy["script-src"] == ["'self'", "'wasm-unsafe-eval'"], path
        assert policy["default-src"] == ["'self'"] and policy["object-src"] == ["'none'"], path


def test_report_only_mode_gives_the_back_office_the_same_keyword(client, settings):
    from config.settings import _CSP

    del settings.CONTENT_SECURITY_POLICY
    settings.CONTENT_SECURITY_POLICY_REPORT_ONLY = _CSP
    _staff(client)
    response = client.get(reverse("backoffice:dashboard"))
    assert "Content-Security-Policy" not in response
    header = response["Content-Security-Policy-Report-Only"]
    assert "script-src 'self' 'wasm-unsafe-eval'" in header
    assert "wasm-unsafe-eval" not in client.get("/").get("Content-Security-Policy-Report-Only", "")


INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)(?![^>]*type=\"application/(?:json|ld\+json)\")[^>]*>", re.I)
HANDLER = re.compile(r"\s(on[a-z]+)\s*=\s*[\"']", re.I)


def _templates():
    for folder in [ROOT / "templates", *ROOT.glob("*/templates")]:
        if ".venv" in folder.parts or "node_modules" in folder.parts:
            continue
        yield from folder.rglob("*.html")


def test_no_template_has_an_inline_script_or_handler():
    found = []
    for path in _templates():
        text = path.read_text(encoding="utf-8")
        found += [f"{path.relative_to(ROOT)}: inline <script>" for _m in INLINE_SCRIPT.finditer(text)]
        found += [f"{path.relative_to(ROOT)}: {m.group(1)}=" for m in HANDLER.finditer(text)]
        found += [f"{path.relative_to(ROOT)}: javascript: URL" for _m in re.finditer(r"href=[\"']javascript:", text, re.I)]
    assert list(_templates()) and not found, found


def test_the_patterns_catch_what_they_are_for():
    assert INLINE_SCRIPT.search("<script>alert(1)</script>") and INLINE_SCRIPT.search('<script defer>')
    assert not INLINE_SCRIPT.search('<script src="/static/a.js" defer></script>')
    assert not INLINE_SCRIPT.search('<script id="d" type="application/json">{}</script>')
    assert HANDLER.search('<button onclick="go()">') and not HANDLER.search('<a data-once="x">')


def _settings_under(env):
    code = "import django; django.setup(); from django.conf import settings as s; " \
           "print(s.LANGUAGE_COOKIE_SECURE, s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, " \
           "hasattr(s, 'CONTENT_SECURITY_POLICY'), hasattr(s, 'CONTENT_SECURITY_POLICY_REPORT_ONLY'))"
    keep = {k: v for k, v in os.environ.items() if k not in ("HTTPS", "CSP_REPORT_ONLY", "DJANGO_ALLOW_ASYNC_UNSAFE")}
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60,
                            env={**keep, "DJANGO_SETTINGS_MODULE": "config.settings", **env})
    assert result.returncode == 0, result.stderr
    return result.stdout.split()


def test_every_cookie_is_secure_under_https_and_report_only_is_a_switch():
    assert _settings_under({"HTTPS": "1"}) == ["True", "True", "True", "True", "False"]
    assert _settings_under({"HTTPS": "0"})[:3] == ["False", "False", "False"]
    assert _settings_under({"CSP_REPORT_ONLY": "1"})[3:] == ["False", "True"]


def test_the_language_cookie_follows_the_setting(client, settings):
    settings.LANGUAGE_COOKIE_SECURE = True
    response = client.post("/i18n/setlang/", {"language": "en", "next": "/"})
    cookie = response.cookies[settings.LANGUAGE_COOKIE_NAME]
    assert cookie["secure"] and cookie["httponly"] and cookie["samesite"] == "Lax"


def _cookies_of_choosing_a_store(client, **extra):
    from tests.stores.conftest import make_store

    store = make_store("安全店")
    chosen = client.post(reverse("stores:choose", args=[store.pk]), {"next": "/"}, **extra)
    located = client.get(reverse("stores:list"), {"lat": "31.23", "lng": "121.47"}, **extra)
    assert chosen.status_code == 302 and located.status_code == 200
    cookies = {**chosen.cookies, **located.cookies}
    assert {"md_store", "md_loc"} <= set(cookies), set(cookies)
    return cookies


def test_the_shops_own_cookies_are_secure_under_https_even_when_the_proxy_did_not_say_so(client, settings):
    """HTTPS=1 sets SESSION_COOKIE_SECURE; the store and location cookies follow it as Django's own
    cookies do, not only the request's scheme."""
    settings.SESSION_COOKIE_SECURE = settings.CSRF_COOKIE_SECURE = settings.LANGUAGE_COOKIE_SECURE = True  # HTTPS=1
    cookies = _cookies_of_choosing_a_store(client)
    kept = {name: cookie for name, cookie in cookies.items() if cookie.value}  # not the deletions (messages read)
    assert all(cookie["secure"] for cookie in kept.values()), {name: c["secure"] for name, c in kept.items()}


def test_without_https_the_shops_cookies_are_secure_only_over_https(client, settings):
    settings.SESSION_COOKIE_SECURE = False
    plain = _cookies_of_choosing_a_store(client)
    assert not plain["md_store"]["secure"] and not plain["md_loc"]["secure"]
    over_tls = _cookies_of_choosing_a_store(Client(), secure=True)
    assert over_tls["md_store"]["secure"] and over_tls["md_loc"]["secure"]
