"""Container health check for the web service: GET /healthz on gunicorn, exit 0 when it can serve.

Sends the first ALLOWED_HOSTS name as Host (Django refuses unknown hosts) and X-Forwarded-Proto
https (as nginx does), so HTTPS=1 does not redirect it.

/healthz answers 503 naming whatever is down. With only Redis down (the cache, and the broker when it
is the same Redis) the web still serves every page from the database (README "When Redis is down"):
the container stays healthy, so nothing takes it out of service and a restart (which would not bring
Redis back) is not asked for; the outage is printed, and /healthz still reports it to monitoring.
"""

import json
import os
import sys
import urllib.error
import urllib.request

# what the web can serve without (README "When Redis is down")
SERVES_WITHOUT = {"cache", "broker"}


def can_serve(status, body) -> bool:
    if status == 200:
        return True
    if status != 503:
        return False
    try:
        down = set(json.loads(body).get("down", []))
    except (ValueError, AttributeError):
        return False
    return bool(down) and down <= SERVES_WITHOUT


def check(url, host) -> int:
    request = urllib.request.Request(url, headers={"Host": host, "X-Forwarded-Proto": "https"})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            status, body = response.status, response.read()
    except urllib.error.HTTPError as exc:
        status, body = exc.code, exc.read()
    except Exception as exc:  # no answer at all means unhealthy
        print(f"unhealthy: {exc}", file=sys.stderr)
        return 1
    if not can_serve(status, body):
        print(f"unhealthy: {status} {body[:200]!r}", file=sys.stderr)
        return 1
    if status != 200:
        print(f"degraded, still serving: {body[:200].decode(errors='replace')}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    host = (os.environ.get("ALLOWED_HOSTS") or "localhost").split(",")[0].strip().lstrip(".")
    if host in ("", "*"):
        host = "localhost"
    sys.exit(check("http://127.0.0.1:8000/healthz", host))
