"""One way to read a `next` target from a request: a path on this site, or the default.

An absolute URL, another host, `//evil.example`, `\\\\evil`, a scheme (`javascript:`), a relative
`abc`, a control character or a NUL is never followed: the default is used instead, so a page that
already saved the shopper's change never fails on its redirect.

Every redirect target that came from a request goes through here: `safe_next` for a `next` field,
`safe_target` for a target read earlier (kept in the session, a state parameter), `is_safe_path`
for a yes/no, and `is_own_url` for the one place an absolute URL of this site is wanted (the page
URL the WeChat JS-SDK signs). allauth's adapter asks `is_safe_path` too (members.auth.adapter).
"""

from django.utils.http import url_has_allowed_host_and_scheme

MAX_LENGTH = 1000


def is_safe_path(target, request=None):
    """Whether `target` is a path on this site that a redirect may follow."""
    if not isinstance(target, str) or not target or len(target) > MAX_LENGTH:
        return False
    if not target.startswith("/") or target.startswith("//") or "\\" in target or not target.isprintable():
        return False
    hosts = {request.get_host()} if request is not None else set()
    secure = request.is_secure() if request is not None else False
    return url_has_allowed_host_and_scheme(target, allowed_hosts=hosts, require_https=secure)


def safe_target(request, target, default=""):
    """`target` when it is safe (see is_safe_path), else `default`."""
    return target if is_safe_path(target, request) else default


def safe_next(request, default="/", *, field="next"):
    """`next` from the POST body or the query string when it is safe (see is_safe_path), else `default`."""
    target = request.POST.get(field) or request.GET.get(field) or ""
    return safe_target(request, target, default)


def is_own_url(url, request):
    """Whether `url` (absolute or a path) points at this site, with no control character."""
    if not isinstance(url, str) or not url or len(url) > MAX_LENGTH * 2 or not url.isprintable():
        return False
    return url_has_allowed_host_and_scheme(url, allowed_hosts={request.get_host()})
