"""core.shell.csrf_token: Django's token format (mask + cipher of the cookie's secret) with its random
characters drawn in one read; the CSRF middleware must take it exactly as it takes get_token's."""

import collections

from django.middleware.csrf import CSRF_ALLOWED_CHARS, CsrfViewMiddleware, _unmask_cipher_token
from django.test import RequestFactory

from core import shell


def _request(cookie=None):
    request = RequestFactory().get("/")
    if cookie:
        request.COOKIES["csrftoken"] = cookie
    CsrfViewMiddleware(lambda r: None).process_request(request)
    return request


def test_a_new_visitor_gets_a_new_secret_and_a_token_that_unmasks_to_it():
    request = _request()
    token = shell.csrf_token(request)
    secret = request.META["CSRF_COOKIE"]
    assert len(token) == 64 and len(secret) == 32
    assert set(token + secret) <= set(CSRF_ALLOWED_CHARS)
    assert _unmask_cipher_token(token) == secret
    assert request.META["CSRF_COOKIE_NEEDS_UPDATE"] is True
    assert shell.csrf_token(request) == token  # once per request


def test_a_visitor_with_a_cookie_keeps_their_secret():
    secret = "a" * 16 + "Z9" * 8
    request = _request(secret)
    token = shell.csrf_token(request)
    assert _unmask_cipher_token(token) == secret
    assert token != shell.csrf_token(_request(secret))  # a fresh mask for every request


def test_the_middleware_accepts_the_token_on_a_post():
    page = _request()
    token = shell.csrf_token(page)
    post = RequestFactory().post("/", {"csrfmiddlewaretoken": token})
    post.COOKIES["csrftoken"] = page.META["CSRF_COOKIE"]
    middleware = CsrfViewMiddleware(lambda r: None)
    middleware.process_request(post)
    assert middleware.process_view(post, lambda r: None, (), {}) is None  # None: accepted
    forged = RequestFactory().post("/", {"csrfmiddlewaretoken": shell.csrf_token(_request())})
    forged.COOKIES["csrftoken"] = page.META["CSRF_COOKIE"]
    middleware.process_request(forged)
    assert middleware.process_view(forged, lambda r: None, (), {}).status_code == 403


def test_every_character_is_drawn_evenly():
    counts = collections.Counter(shell._random_chars(62 * 400))
    assert set(counts) == set(CSRF_ALLOWED_CHARS)
    assert max(counts.values()) < 2 * min(counts.values())  # 400 expected each; a bias would show
