"""Payments under load (issue 10): `pay_notify`, verified WeChat Pay notifications per second through
gunicorn, 20% of them duplicates, every order paid exactly once; goal >= 0.2 of hello.

The setup generates the keys WeChat Pay and the merchant would hold (RSA keys for "WeChat Pay's"
public key PUB_KEY_ID_… and the merchant, a 32-byte APIv3 key) into the run's files, configures
gunicorn's WeChat Pay through the environment (the harness starts gunicorn with this process's
environment after every setup has run), and makes N pending pickup orders, each with a WeChat Native
payment attempt, spread over many shoppers (a confirmation locks its member row).

run() signs one notice per order exactly as WeChat Pay does (AES-GCM resource, SHA256withRSA over
timestamp, nonce and the raw body), adds a copy of every fourth (so 20% of the posts are duplicates,
each after its original in the sequence), and posts them from ctx.concurrency threads over keep-alive
connections. Every answer must be 204; afterwards every order must be paid exactly once (one paid
transition, one succeeded event, one counted payment). The ratio is against hello as the harness
measured it; `ratio_same_client` against hello through this benchmark's own client."""

import base64
import http.client
import json
import os
import secrets
import threading
import time
import uuid
from datetime import datetime, timedelta
from datetime import time as clock
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from bench.harness import CustomBenchmark, percentiles_ms, ratio

ORDERS = 1000  # notices: 1000 + 250 duplicates = 1250 posts
SHOPPERS = 80
STORE_CODE = "bench-payments"
APPID = "wxbench000000000001"
MCHID = "1900000109"
PUBLIC_KEY_ID = "PUB_KEY_ID_0119000001092026112700000000000001"
SHANGHAI = ZoneInfo("Asia/Shanghai")
GOAL_RATIO = 0.2  # of hello, in the same run (issue 10)


# --- keys and configuration ----------------------------------------------------------------------
def _keys(directory):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    directory.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name in ("merchant", "platform"):
        path = directory / f"{name}.pem"
        if not path.exists():
            key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                               serialization.NoEncryption()))
        paths[name] = path
    platform = serialization.load_pem_private_key(paths["platform"].read_bytes(), password=None)
    public = directory / "pub_key.pem"
    public.write_bytes(platform.public_key().public_bytes(serialization.Encoding.PEM,
                                                          serialization.PublicFormat.SubjectPublicKeyInfo))
    apiv3 = directory / "apiv3.key"
    if not apiv3.exists():
        apiv3.write_text(secrets.token_hex(16))
    return {"merchant": str(paths["merchant"]), "platform": str(paths["platform"]), "public": str(public),
            "apiv3": apiv3.read_text()}


def _configure_gunicorn(keys):
    os.environ.update({
        "WECHAT_APP_ID": APPID, "WECHAT_APP_SECRET": "bench-secret", "WECHAT_PAY_MCHID": MCHID,
        "WECHAT_PAY_APIV3_KEY": keys["apiv3"], "WECHAT_PAY_CERT_SERIAL_NO": "5157F09EFDC096DE15EBE81A47057A7232F1B8E1",
        "WECHAT_PAY_PRIVATE_KEY_PATH": keys["merchant"], "WECHAT_PAY_PUBLIC_KEY_PATH": keys["public"],
        "WECHAT_PAY_PUBLIC_KEY_ID": PUBLIC_KEY_ID, "PAYMENT_NOTIFY_BASE_URL": "https://127.0.0.1",
    })


# --- orders ----------------------------------------------------------------------------------
def _store_and_sku():
    from catalog.models import Category, Product, Sku
    from catalog.services import refresh_price_range
    from stores.models import Stock, Store, StoreHours
    from stores.services import receive_stock

    store, created = Store.objects.get_or_create(code=STORE_CODE, defaults=dict(
        name="压测支付店", province="上海市", city="上海市", district="黄浦区", street="压测路9号",
        latitude=31.2304, longitude=121.4737, pickup_enabled=True,
    ))
    if created:
        StoreHours.objects.bulk_create([StoreHours(store=store, weekday=d, opens=clock(0), closes=clock(0))
                                        for d in range(7)])
    sku = Sku.objects.filter(code="BP-NOTIFY").first()
    if sku is None:
        category = Category.objects.filter(name="压测支付").first() or Category.objects.create(name="压测支付")
        product = Product.objects.create(name="压测支付商品", category=category, status="listed")
        sku = Sku.objects.create(product=product, code="BP-NOTIFY", price=Decimal("19.90"))
        refresh_price_range(product)
    row = Stock.objects.filter(store=store, sku=sku).first()
    available = (row.on_hand - row.reserved) if row else 0
    if available < ORDERS:
        receive_stock(store, sku, ORDERS * 2, reference=f"bench:{uuid.uuid4().hex[:12]}")
    return store, sku


def _shoppers():
    from django.contrib.auth import get_user_model

    from members.services import ensure_member

    users = []
    for i in range(SHOPPERS):
        user, _ = get_user_model().objects.get_or_create(
            username=f"bench_pay_{i:03d}", defaults={"phone": f"+861390001{i:04d}", "nickname": f"压测付款{i}"})
        ensure_member(user)
        users.append(user)
    return users


def _pending_attempts():
    from django.utils import timezone

    from orders.models import PaymentAttempt

    return list(PaymentAttempt.objects.filter(
        channel="wechat_native", state="pending", order__status="pending_payment", order__store__code=STORE_CODE,
        expires_at__gt=timezone.now() + timedelta(minutes=10),
    ).order_by("pk").values_list("pk", flat=True)[:ORDERS])


def _setup():
    from django.conf import settings

    from members.services import ensure_default_levels
    from orders.payments.services import start_payment
    from orders.services import CheckoutRequest, place_order

    keys = _keys(Path(os.environ.get("STATIC_ROOT") or settings.STATIC_ROOT).parent / "wechatpay")
    _configure_gunicorn(keys)
    # this process decides which channels are offered by its own settings: give it the same ones
    for name in ("WECHAT_APP_ID", "WECHAT_APP_SECRET", "WECHAT_PAY_MCHID", "WECHAT_PAY_APIV3_KEY",
                 "WECHAT_PAY_CERT_SERIAL_NO", "WECHAT_PAY_PRIVATE_KEY_PATH", "WECHAT_PAY_PUBLIC_KEY_PATH",
                 "WECHAT_PAY_PUBLIC_KEY_ID", "PAYMENT_NOTIFY_BASE_URL"):
        setattr(settings, name, os.environ[name])
    ensure_default_levels()
    store, sku = _store_and_sku()
    shoppers = _shoppers()
    began = time.perf_counter()
    missing = ORDERS - len(_pending_attempts())
    for i in range(missing):
        user = shoppers[i % SHOPPERS]
        order = place_order(user, CheckoutRequest(lines=[(sku.pk, 1)], store=store, fulfilment="pickup", coupon=""),
                            token=uuid.uuid4().hex)
        start_payment(order, user=user, channel="wechat_native", mobile=False)
    attempts = _pending_attempts()
    if len(attempts) < ORDERS:
        raise RuntimeError(f"only {len(attempts)} pending attempts for {ORDERS} orders")
    return {"attempt_ids": attempts, "keys": keys, "orders": ORDERS,
            "orders_made": missing, "setup_s": round(time.perf_counter() - began, 1)}


# --- notices ---------------------------------------------------------------------------------
def _sign_notices(setup):
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import padding
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    from orders.models import PaymentAttempt

    keys = setup["keys"]
    platform = serialization.load_pem_private_key(Path(keys["platform"]).read_bytes(), password=None)
    aes = AESGCM(keys["apiv3"].encode())
    attempts = PaymentAttempt.objects.filter(pk__in=setup["attempt_ids"]).values_list("out_trade_no", "amount_fen")
    notices = []
    now = datetime.now(SHANGHAI).replace(microsecond=0).isoformat()
    for number, (out_trade_no, fen) in enumerate(attempts):
        resource = {
            "mchid": MCHID, "appid": APPID, "out_trade_no": out_trade_no,
            "transaction_id": f"4200{number:08d}{secrets.randbelow(10**16):016d}", "trade_type": "NATIVE",
            "trade_state": "SUCCESS", "trade_state_desc": "支付成功", "bank_type": "OTHERS", "attach": "",
            "success_time": now, "payer": {"openid": f"oBENCH{number:08d}"},
            "amount": {"total": fen, "payer_total": fen, "currency": "CNY", "payer_currency": "CNY"},
        }
        nonce = secrets.token_hex(6)
        ciphertext = aes.encrypt(nonce.encode(), json.dumps(resource, ensure_ascii=False).encode(), b"transaction")
        body = json.dumps({
            "id": str(uuid.uuid4()), "create_time": now, "resource_type": "encrypt-resource",
            "event_type": "TRANSACTION.SUCCESS", "summary": "支付成功",
            "resource": {"original_type": "transaction", "algorithm": "AEAD_AES_256_GCM",
                         "ciphertext": base64.b64encode(ciphertext).decode(), "associated_data": "transaction",
                         "nonce": nonce},
        }, ensure_ascii=False, separators=(",", ":")).encode()
        stamp, header_nonce = str(int(time.time())), secrets.token_hex(16)
        signature = platform.sign(f"{stamp}\n{header_nonce}\n".encode() + body + b"\n", padding.PKCS1v15(),
                                  hashes.SHA256())
        notices.append(({
            "Content-Type": "application/json", "Wechatpay-Timestamp": stamp, "Wechatpay-Nonce": header_nonce,
            "Wechatpay-Serial": PUBLIC_KEY_ID, "Wechatpay-Signature-Type": "WECHATPAY2-SHA256-RSA2048",
            "Wechatpay-Signature": base64.b64encode(signature).decode(), "User-Agent": "Mozilla/4.0",
        }, body))
    return notices


def _with_duplicates(notices):
    """Every fourth notice is sent again, a few posts after its original: 20% of all posts."""
    posts = []
    for index, item in enumerate(notices):
        posts.append(item)
        if index % 4 == 3:
            posts.append(notices[index - 3])
    return posts


# --- the client ------------------------------------------------------------------------------
def _post_all(base_url, requests_, threads):
    """Send (method, path, headers, body) items from `threads` threads over keep-alive connections.
    Returns (elapsed seconds, latencies, {status: count}, errors)."""
    parts = urlsplit(base_url)
    lock = threading.Lock()
    position = [0]
    latencies, statuses, errors = [], {}, []
    gate = threading.Barrier(threads + 1)

    def worker():
        connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
        mine, seen = [], {}
        gate.wait()
        while True:
            with lock:
                index = position[0]
                position[0] += 1
            if index >= len(requests_):
                break
            method, path, headers, body = requests_[index]
            began = time.perf_counter()
            try:
                connection.request(method, path, body=body, headers=headers)
                response = connection.getresponse()
                response.read()
            except (OSError, http.client.HTTPException) as exc:
                errors.append(repr(exc))
                connection.close()
                connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
                continue
            mine.append(time.perf_counter() - began)
            seen[response.status] = seen.get(response.status, 0) + 1
        connection.close()
        with lock:
            latencies.extend(mine)
            for status, count in seen.items():
                statuses[status] = statuses.get(status, 0) + count

    pool = [threading.Thread(target=worker, daemon=True) for _ in range(threads)]
    for thread in pool:
        thread.start()
    gate.wait()
    began = time.perf_counter()
    for thread in pool:
        thread.join()
    return time.perf_counter() - began, latencies, statuses, errors


def _paid_once(attempt_ids):
    from django.db.models import Count, Q

    from orders.models import OrderEvent, PaymentAttempt, PaymentEvent

    attempts = PaymentAttempt.objects.filter(pk__in=attempt_ids)
    order_ids = list(attempts.values_list("order_id", flat=True))
    counted = PaymentAttempt.objects.filter(order_id__in=order_ids, is_order_payment=True).count()
    succeeded = PaymentEvent.objects.filter(attempt_id__in=attempt_ids, kind="succeeded").values(
        "attempt_id").annotate(n=Count("id"))
    transitions = OrderEvent.objects.filter(order_id__in=order_ids, to_status="paid").values("order_id").annotate(
        n=Count("id"))
    paid_orders = attempts.filter(Q(order__status="paid")).count()
    return {
        "paid_orders": paid_orders,
        "paid_once": (counted == len(order_ids) == paid_orders and len(succeeded) == len(attempt_ids)
                      and all(row["n"] == 1 for row in succeeded) and len(transitions) == len(order_ids)
                      and all(row["n"] == 1 for row in transitions)),
    }


def _pay_notify(ctx):
    setup = ctx.setup
    notices = _sign_notices(setup)
    posts = _with_duplicates(notices)
    requests_ = [("POST", "/payments/wechatpay/notify/", headers, body) for headers, body in posts]
    threads = ctx.concurrency
    hello_items = [("GET", "/_bench/hello", {}, None)] * 2000
    hello_elapsed, _lat, hello_statuses, _errors = _post_all(ctx.base_url, hello_items, threads)
    elapsed, latencies, statuses, errors = _post_all(ctx.base_url, requests_, threads)
    rps = round(len(latencies) / elapsed, 1) if elapsed else 0.0
    hello_same_client = round(hello_statuses.get(200, 0) / hello_elapsed, 1) if hello_elapsed else None
    outcome = _paid_once(setup["attempt_ids"])
    result = {
        "rps": rps, **percentiles_ms(latencies),
        "ratio": ratio(rps, (ctx.results.get("hello") or {}).get("rps")),
        "ratio_same_client": ratio(rps, hello_same_client), "hello_same_client_rps": hello_same_client,
        "notices": len(posts), "duplicates": len(posts) - len(notices),
        "duplicate_share": round((len(posts) - len(notices)) / len(posts), 3), "orders": len(notices),
        "statuses": {str(k): v for k, v in sorted(statuses.items())}, "non_204": len(latencies) - statuses.get(204, 0),
        "socket_errors": len(errors), "threads": threads, "orders_made_in_setup": setup["orders_made"],
        "setup_s": setup["setup_s"], "goal_ratio": GOAL_RATIO, **outcome,
    }
    result["goal_met"] = bool(result["ratio"] and result["ratio"] >= GOAL_RATIO)
    if result["non_204"] or errors or not outcome["paid_once"]:
        result["error"] = (f"{result['non_204']} answers not 204, {len(errors)} socket errors, "
                           f"paid exactly once: {outcome['paid_once']}")
    return result


def benchmarks():
    return [CustomBenchmark(name="pay_notify", run=_pay_notify, setup=_setup)]
