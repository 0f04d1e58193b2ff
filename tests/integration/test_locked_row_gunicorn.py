"""One locked row must not stop the site, under the real gunicorn (deploy/gunicorn.conf.py, one
worker with two threads) on the real PostgreSQL and Redis: while another connection holds a stock
row FOR UPDATE, more checkouts than gunicorn has threads arrive for it. Each gives up after its
lock timeout with 503, so the threads come free and /healthz still answers 200 while the row is
held, long before it is released. (Before the timeouts, every thread waited on the row and
/healthz with them, until the proxy gave up and the checkouts committed behind the shoppers.)"""

import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection, transaction
from django.test import Client

from members.services import ensure_default_levels
from orders.models import Order
from stores.models import Stock, StockReservation
from tests.orders.factories import make_shopper, make_sku, make_store
from tests.orders.test_views_checkout import open_checkout
from tests.orders.test_views_common import fill_cart, shop_client

pytestmark = [pytest.mark.integration, pytest.mark.postgres, pytest.mark.redis,
              pytest.mark.django_db(transaction=True)]

ROOT = Path(__file__).resolve().parents[2]
LOCK_TIMEOUT_MS = 1500
CSRF = "c" * 32
HELD_FOR = 40  # seconds the row would stay locked if nothing gave up


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def gunicorn(tmp_path):
    port = free_port()
    db = connection.settings_dict
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "REDIS_URL": settings.REDIS_URL, "DEBUG": "0", "SECRET_KEY": settings.SECRET_KEY,
        "ALLOWED_HOSTS": "127.0.0.1", "WEB_CONCURRENCY": "1", "GUNICORN_THREADS": "2",
        "DB_LOCK_TIMEOUT_MS": str(LOCK_TIMEOUT_MS), "CELERY_TASK_ALWAYS_EAGER": "0", "HTTPS": "0",
    }
    log = tmp_path / "gunicorn.log"
    proc = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "config.wsgi:application", "--config", "deploy/gunicorn.conf.py",
         "--bind", f"127.0.0.1:{port}", "--worker-tmp-dir", str(tmp_path), "--access-logfile", "-",
         "--error-logfile", str(log)],
        cwd=ROOT, env=env, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            assert proc.poll() is None, log.read_text()[-2000:]
            try:
                if get(base, "/healthz")[0] == 200:
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, log.read_text()[-2000:]
            time.sleep(0.3)
        yield base
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=5)


def get(base, path):
    try:
        with urllib.request.urlopen(urllib.request.Request(base + path), timeout=60) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def post_checkout(base, session, data):
    body = urllib.parse.urlencode({**{k: v[0] for k, v in data.items()}, "csrfmiddlewaretoken": CSRF}).encode()
    request = urllib.request.Request(base + "/orders/checkout/", data=body, method="POST", headers={
        "Cookie": f"{settings.SESSION_COOKIE_NAME}={session}; csrftoken={CSRF}; md_store={data['store'][0]}",
        "Content-Type": "application/x-www-form-urlencoded",
    })
    started = time.monotonic()
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            status, headers = response.status, response.headers
    except urllib.error.HTTPError as error:
        status, headers = error.code, error.headers
    return status, headers.get("Retry-After"), time.monotonic() - started


def test_checkouts_piling_on_a_locked_row_never_take_healthz_down(gunicorn):
    ensure_default_levels()
    store = make_store()
    sku = make_sku(stock=10, store=store)
    shoppers = []
    for _ in range(4):
        shopper = make_shopper()
        fill_cart(shopper, [sku], 1)
        client = shop_client(Client(), shopper, store)
        _page, data = open_checkout(client)
        data.pop("csrfmiddlewaretoken", None)
        shoppers.append((client.cookies[settings.SESSION_COOKIE_NAME].value, data))

    locked, release = threading.Event(), threading.Event()

    def hold():
        try:
            with transaction.atomic():
                list(Stock.objects.select_for_update().filter(store=store, sku=sku))
                locked.set()
                release.wait(timeout=HELD_FOR)
        finally:
            connection.close()

    holder = threading.Thread(target=hold)
    holder.start()
    assert locked.wait(timeout=30)
    held_since = time.monotonic()
    try:
        with ThreadPoolExecutor(max_workers=len(shoppers)) as pool:
            checkouts = [pool.submit(post_checkout, gunicorn, session, data) for session, data in shoppers]
            time.sleep(0.5)  # both gunicorn threads now wait on the row, the other checkouts queue
            status, body = get(gunicorn, "/healthz")
            healthz_after = time.monotonic() - held_since
            answers = [future.result(timeout=HELD_FOR) for future in checkouts]
        still_held = not release.is_set()
    finally:
        release.set()
        holder.join(timeout=30)

    assert status == 200, body
    # the healthz waited at most for the queued checkouts' lock timeouts, never for the row
    assert healthz_after < 12, healthz_after
    assert still_held
    assert [a[0] for a in answers] == [503] * len(shoppers), answers
    assert all(a[1] and a[1].isdigit() for a in answers), answers
    assert not Order.objects.exists() and not StockReservation.objects.exists()
    assert Stock.objects.filter(store=store, sku=sku).values_list("on_hand", "reserved").get() == (10, 0)
