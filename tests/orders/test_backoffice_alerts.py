"""The new-order alert: every back-office page carries the poll's address for staff who see orders;
the poll answers, in one query, the orders of the user's own stores paid since the cursor it gave
last; the chime is a short WAV made by scripts/order_chime.py."""

import importlib.util
import wave
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from orders.models import Order

from .backoffice_support import make_clerk, make_hq, make_plain_staff, paid
from .factories import checkout, make_shopper, make_sku

pytestmark = pytest.mark.django_db
POLL = reverse("orders_bo:new_orders")
ROOT = Path(__file__).resolve().parents[2]


def micros(dt):
    return (dt - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)


@pytest.fixture
def clerk(store):
    return make_clerk(store)


def test_the_first_poll_gives_a_cursor_and_whether_there_is_a_store_to_hear_about(client, clerk):
    client.force_login(clerk)
    answer = client.get(POLL).json()
    assert answer["enabled"] and answer["orders"] == [] and abs(answer["cursor"] - micros(timezone.now())) < 10**7
    client.force_login(make_hq())  # HQ without a store of their own: nothing to chime for
    assert client.get(POLL).json()["enabled"] is False


def test_new_paid_orders_of_the_users_stores_only_since_the_cursor(client, clerk, store, other_store, shopper, tea):
    before = paid(shopper, store, [(tea, 1)])
    client.force_login(clerk)
    cursor = client.get(POLL).json()["cursor"]
    Order.objects.filter(pk=before.pk).update(paid_at=timezone.now() - timedelta(seconds=5))
    assert client.get(POLL, {"after": cursor}).json()["orders"] == []
    new = paid(shopper, store, [(tea, 2)], fulfilment="express")
    checkout(shopper, store, [(tea, 1)])  # unpaid: no alert
    theirs_sku = make_sku("外店商品", stock=5, store=other_store)
    paid(shopper, other_store, [(theirs_sku, 1)])  # another store's
    answer = client.get(POLL, {"after": cursor}).json()
    assert answer["orders"] == [{"number": new.number, "store": store.name, "fulfilment": "快递",
                                 "amount": str(new.paid_amount), "url": reverse("orders_bo:detail", args=[new.pk])}]
    assert answer["cursor"] == micros(Order.objects.get(pk=new.pk).paid_at) and not answer["more"]
    assert client.get(POLL, {"after": answer["cursor"]}).json()["orders"] == []


def test_many_new_orders_are_summed_up(client, clerk, store, tea):
    client.force_login(clerk)
    cursor = client.get(POLL).json()["cursor"]
    for _ in range(7):
        paid(make_shopper(), store, [(tea, 1)])
    answer = client.get(POLL, {"after": cursor}).json()
    assert len(answer["orders"]) == 5 and answer["more"]


def test_a_cursor_from_long_ago_looks_back_one_hour_at_most(client, clerk, store, shopper, tea):
    old = paid(shopper, store, [(tea, 1)])
    Order.objects.filter(pk=old.pk).update(paid_at=timezone.now() - timedelta(hours=2))
    recent = paid(shopper, store, [(tea, 1)])
    client.force_login(clerk)
    answer = client.get(POLL, {"after": "1"}).json()
    assert [o["number"] for o in answer["orders"]] == [recent.number]


@pytest.mark.parametrize("after", ["abc", "-5", "²", "9" * 40, "\x00", "1.5", " ", str(2**63)])
def test_a_bad_cursor_is_a_first_poll_never_an_error(client, clerk, after):
    client.force_login(clerk)
    response = client.get(POLL, {"after": after})
    if "\x00" in after:  # a NUL anywhere is refused before the view (core.middleware)
        assert response.status_code == 400
        return
    assert response.status_code == 200 and response.json()["orders"] == []


def test_the_poll_is_one_query_on_orders_however_many_there_are(client, clerk, store, tea):
    client.force_login(clerk)
    cursor = client.get(POLL).json()["cursor"]
    paid(make_shopper(), store, [(tea, 1)])

    def poll():
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(POLL, {"after": cursor}).status_code == 200
        return [q["sql"] for q in ctx.captured_queries]

    one = poll()
    for _ in range(9):
        paid(make_shopper(), store, [(tea, 1)])
    ten = poll()
    assert len(one) == len(ten)
    assert sum("orders_order" in sql for sql in ten) == 1


def test_the_poll_is_for_staff_who_see_orders(client, store, shopper):
    client.force_login(make_plain_staff(store))
    assert client.get(POLL).status_code == 403
    client.force_login(shopper)
    assert client.get(POLL).status_code == 403
    client.logout()
    assert client.get(POLL).status_code == 302


def test_every_back_office_page_carries_the_alert_for_order_staff_only(client, clerk, store):
    client.force_login(clerk)
    for url in (reverse("backoffice:dashboard"), reverse("orders_bo:queue")):
        html = client.get(url).content.decode()
        assert f'data-url="{POLL}"' in html and "orders/backoffice.js" in html and "orders/new-order.wav" in html
        assert "开启提醒音" in html  # the label the script shows until a click allows sound
    client.force_login(make_plain_staff(store))
    assert "data-orders-alert" not in client.get(reverse("backoffice:dashboard")).content.decode()


def _chime_script():
    spec = importlib.util.spec_from_file_location("order_chime", ROOT / "scripts" / "order_chime.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_chime_is_a_short_wav_made_by_its_script(tmp_path):
    served = ROOT / "static" / "orders" / "new-order.wav"
    with wave.open(str(served)) as wav:
        assert (wav.getnchannels(), wav.getsampwidth()) == (1, 2)
        assert 0.3 < wav.getnframes() / wav.getframerate() < 1.5
    made = _chime_script().write(tmp_path / "chime.wav")
    assert made.read_bytes() == served.read_bytes()
