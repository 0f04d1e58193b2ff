"""Bad input on every orders back-office URL, with generated values: NUL characters, huge and
negative numbers, non-ASCII digits, absurd dates and pages, tampered ids, and a clerk of store B on
every URL of store A's order. A clear message or a 404, never a 5xx, and nothing changed."""

import random
import uuid

import pytest
from django.urls import reverse

from orders import services
from orders.models import AfterSale, Order

from .backoffice_support import ask_refund, make_clerk, make_hq, paid, snapshot
from .factories import checkout, make_sku

pytestmark = pytest.mark.django_db

FIXED = [
    "", " ", "\x00", "a\x00b", "%00", "' OR 1=1 --", "²", "١٢٣", "１２３", "9" * 40, "-1", "0", "1e309", "NaN",
    "Infinity", "-0", "1.5", "9999-12-31", "0000-00-00", "10000-01-01", "2026-02-30", "1899-12-31", "<script>x</script>",
    "😀" * 40, "all", "a" * 5000, "\u202e", "\ufeff1", "1,000", "0x10",
]


def generated(n=30, seed=9):
    """Random strings over digits of every script, control characters, punctuation and CJK."""
    rng = random.Random(seed)
    alphabet = "0123456789０１２３４５６７８９٠١٢٣٤٥٦٧٨٩²³¹\x00\x01\x1f\t\n -+.,eE:/'\"%<>&;订单收货人😀"
    return [
        "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 40))) for _ in range(n)
    ]


VALUES = FIXED + generated()


def has_nul(*values):
    """A NUL anywhere in a request is answered 400 before any view (core.middleware): nothing changes."""
    return any("\x00" in str(v) for value in values for v in (value.values() if isinstance(value, dict) else [value]))
ACTIONS = ["ready", "ship", "add_parcel", "add_route", "dispatch", "delivered", "cancel", "cancel_refund", "change_price", "remark"]
ACTION_FIELDS = ["carrier", "tracking_no", "courier_name", "courier_phone", "reason", "goods_adjustment",
                 "delivery_fee", "remark", "shipment", "occurred_at", "context", "location"]


@pytest.fixture
def orders_of_a(store, shopper, tea, manager):
    """Store A's orders in the states the actions act on."""
    nuts = make_sku("坚果", price="20.00", stock=50, store=store)
    pending = checkout(shopper, store, [(nuts, 1)])
    express = paid(shopper, store, [(nuts, 1)], fulfilment="express")
    delivery = paid(shopper, store, [(nuts, 1)], fulfilment="delivery")
    pickup = paid(shopper, store, [(tea, 2)])
    asked = paid(shopper, store, [(nuts, 2)])
    after_sale = ask_refund(asked, quantities={asked.lines.get().pk: 1})
    return {"pending": pending, "express": express, "delivery": delivery, "pickup": pickup, "asked": asked,
            "after_sale": after_sale}


def test_a_clerk_of_store_b_gets_404_on_every_url_of_store_a_and_nothing_changes(
    client, store, other_store, orders_of_a
):
    intruder = make_clerk(other_store)
    client.force_login(intruder)
    before = {key: snapshot(o) for key, o in orders_of_a.items() if isinstance(o, Order)}
    for key, order in orders_of_a.items():
        if not isinstance(order, Order):
            continue
        assert client.get(reverse("orders_bo:detail", args=[order.pk])).status_code == 404, key
        assert client.get(reverse("orders_bo:ticket", args=[order.pk])).status_code == 404, key
        for action in ACTIONS:
            form = {"reason": "闯入", "carrier": "shunfeng", "tracking_no": "SF1234567890", "courier_name": "x",
                    "courier_phone": "13900001111", "goods_adjustment": "-1", "remark": "x"}
            response = client.post(reverse(f"orders_bo:{action}", args=[order.pk]), form)
            assert response.status_code == 404, (key, action)
        pickup_form = {"kind": "order", "store": store.pk, "code": order.pickup_code or "000000", "order": order.pk}
        assert client.post(reverse("orders_bo:pickup_verify"), pickup_form).status_code == 404, key
        pickup_form["store"] = other_store.pk
        assert client.post(reverse("orders_bo:pickup_verify"), pickup_form).status_code == 404, key
    after_sale = orders_of_a["after_sale"]
    assert client.get(reverse("orders_bo:after_sale", args=[after_sale.pk])).status_code == 404
    for action in ("approve", "reject", "receive", "retry"):
        assert client.post(reverse(f"orders_bo:after_sale_{action}", args=[after_sale.pk]),
                           {"reason": "x"}).status_code == 404
    for url in ("orders_bo:queue", "orders_bo:export", "orders_bo:after_sales", "orders_bo:dashboard",
                "orders_bo:pickups"):
        assert client.get(reverse(url), {"store": store.pk}).status_code == 404, url
    assert client.post(reverse("orders_bo:pickups"), {"store": store.pk, "code": "123456"}).status_code == 404
    assert {key: snapshot(o) for key, o in orders_of_a.items() if isinstance(o, Order)} == before
    assert AfterSale.objects.get(pk=after_sale.pk).status == AfterSale.Status.REQUESTED


@pytest.mark.parametrize("raw", ["0", "9" * 19, "9" * 40, str(2**63), str(2**63 - 1)])
def test_huge_or_zero_ids_in_urls_are_404(client, manager, raw):
    client.force_login(manager)
    for name in ("detail", "ticket", "after_sale"):
        assert client.get(reverse(f"orders_bo:{name}", args=[1]).replace("/1/", f"/{raw}/")).status_code == 404
    for action in ACTIONS:
        url = reverse(f"orders_bo:{action}", args=[1]).replace("/1/", f"/{raw}/")
        assert client.post(url, {"reason": "x"}).status_code == 404, action


@pytest.mark.parametrize("raw", ["²", "１", "-1", "1.0", "%00", "1e3", "abc"])
def test_ids_that_are_not_plain_digits_never_reach_a_view(client, manager, raw):
    client.force_login(manager)
    expected = 400 if raw == "%00" else 404  # a NUL in the path: core.middleware
    assert client.get(f"/backoffice/orders/{raw}/").status_code == expected
    assert client.post(f"/backoffice/orders/{raw}/ready/").status_code == expected


def _query_params():
    rng = random.Random(3)
    params = []
    for value in VALUES:
        field = rng.choice(["store", "tab", "q", "date_from", "date_to", "fulfilment", "page", "period"])
        params.append({field: value})
        params.append({"q": value, "page": rng.choice(VALUES), "date_from": rng.choice(VALUES),
                       "tab": rng.choice(["all", "to_fulfil", value])})
    return params


@pytest.mark.parametrize("name", ["orders_bo:queue", "orders_bo:export", "orders_bo:after_sales", "orders_bo:dashboard",
                                  "orders_bo:pickups", "orders_bo:new_orders"])
def test_generated_query_strings_never_give_a_5xx(client, store, orders_of_a, name):
    clerk = make_clerk(store)
    hq = make_hq()
    for user in (clerk, hq):
        client.force_login(user)
        for params in _query_params():
            response = client.get(reverse(name), params)
            if response.streaming:
                b"".join(response.streaming_content)
            assert response.status_code in ((400,) if has_nul(params) else (200, 404)), (name, params,
                                                                                          response.status_code)


def test_generated_action_forms_change_nothing_or_give_a_message_never_a_5xx(client, store, manager, orders_of_a):
    """Every action gets generated values in every field: a redirect with one message each time; when
    the message is an error, the order is exactly as before (a form that happens to be valid, say a
    reason of "1.5", acts, and that action is then done)."""
    from django.contrib.messages import constants, get_messages

    client.force_login(manager)
    rng = random.Random(11)
    targets = {"ready": "pickup", "ship": "express", "add_parcel": "express", "add_route": "express",
               "dispatch": "delivery",
               "delivered": "delivery", "cancel": "pending", "cancel_refund": "pickup", "change_price": "pending",
               "remark": "asked"}
    for action, key in targets.items():
        order = orders_of_a[key]
        for value in VALUES:
            before = snapshot(order)
            form = {field: rng.choice([value, rng.choice(VALUES)]) for field in ACTION_FIELDS}
            form[rng.choice(ACTION_FIELDS)] = value
            response = client.post(reverse(f"orders_bo:{action}", args=[order.pk]), form)
            if has_nul(form):
                assert response.status_code == 400 and snapshot(order) == before, (action, form)
                continue
            assert response.status_code == 302, (action, form, response.status_code)
            said = list(get_messages(response.wsgi_request)._queued_messages)
            assert len(said) == 1, (action, form)
            if said[0].level == constants.ERROR:
                assert snapshot(order) == before, (action, form)
            elif action != "remark":
                break  # it acted: the order is in another state now


def test_generated_pickup_codes_and_quantities_never_give_a_5xx(client, store, manager, orders_of_a):
    order = services.mark_ready_for_pickup(orders_of_a["pickup"], by=manager)
    line = order.lines.get()
    client.force_login(manager)
    before = snapshot(order)
    for value in VALUES:
        response = client.post(reverse("orders_bo:pickups"), {"store": store.pk, "code": value})
        assert response.status_code == (400 if has_nul(value) else 200)
        form = {"kind": "order", "store": store.pk, "code": order.pickup_code, "order": order.pk,
                f"left_{line.pk}": "2", f"qty_{line.pk}": value}
        if value in ("1", "2"):
            continue
        response = client.post(reverse("orders_bo:pickup_verify"), form)
        assert response.status_code in ((400,) if has_nul(value) else (200, 302)), (value, response.status_code)
        form = {"kind": "order", "store": store.pk, "code": value, "order": order.pk, f"left_{line.pk}": "2"}
        assert client.post(reverse("orders_bo:pickup_verify"), form).status_code in (
            (400,) if has_nul(value) else (200, 302))
    assert snapshot(order) == before


def test_after_sale_actions_with_generated_reasons(client, store, manager, orders_of_a):
    after_sale = orders_of_a["after_sale"]
    client.force_login(manager)
    for value in VALUES:
        if value.strip() and "\x00" not in value and len(value) <= 255:
            continue  # a real reason would reject it
        response = client.post(reverse("orders_bo:after_sale_reject", args=[after_sale.pk]), {"reason": value})
        assert response.status_code == (400 if has_nul(value) else 302)
        assert AfterSale.objects.get(pk=after_sale.pk).status == AfterSale.Status.REQUESTED, repr(value)


def test_a_tampered_exchange_id_on_the_shared_screen_is_404(client, store, manager):
    client.force_login(manager)
    for value in ["²", "9" * 40, "", "\x00", str(uuid.uuid4())]:
        response = client.post(reverse("orders_bo:pickup_verify"),
                               {"kind": "exchange", "store": store.pk, "code": "123456", "exchange": value})
        assert response.status_code in ((400,) if has_nul(value) else (403, 404))
