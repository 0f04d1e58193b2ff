"""HQ's reconciliation pages (/backoffice/orders/reconciliation/): who may open them, what they show
(days with their status and totals, a day's differences linking to their orders, the money per
channel and day), the 对账 button (POST, once a minute per day), the admin's read-only runs, query
counts that do not grow with the rows, and bad input with generated values."""

import json
import random
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from orders.models import (
    PaymentAttempt,
    ReconciliationDay,
    ReconciliationDifference,
    ReconciliationRun,
    Refund,
)
from orders.payments.figures import paid_by_channel_and_day
from orders.payments.gateways import BillRow

from .backoffice_support import make_clerk, make_hq, texts
from .factories import make_order_staff
from .reconcile_support import (
    BILLS,
    DAY,
    DOWNLOADS,
    WECHAT_KEY,
    after_ready,
    at,
    bill_payment,
    local_today,
    matching_bills,
    paid_attempt,
    pending_attempt,
    refunded,
    tea_for,
    trade_of,
    use_fake_gateways,
)

pytestmark = pytest.mark.django_db

LIST = reverse("orders_bo:reconciliation")
Status = ReconciliationRun.Status
Kind = ReconciliationDifference.Kind


@pytest.fixture(autouse=True)
def gateways(settings):
    use_fake_gateways(settings)


@pytest.fixture
def sku(store):
    return tea_for(store)


@pytest.fixture
def day_of_trade(shopper, store, sku):
    return trade_of(shopper, store, sku)


def page_queries(client, url):
    """(queries, response) of a page, leaving out the session's (a database or a Redis session)."""
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    return sum(1 for q in captured.captured_queries if "django_session" not in q["sql"]), response


def day_url(day):
    return reverse("orders_bo:reconciliation_day", args=[day.isoformat()])


def run_url(day):
    return reverse("orders_bo:reconciliation_run", args=[day.isoformat()])


def reconciled(day=DAY):
    from orders.payments.reconcile import reconcile_day

    return reconcile_day(day, now=after_ready(day))


@pytest.fixture
def hq(client):
    user = make_hq()
    client.force_login(user)
    return user


def store_manager_with_every_orders_permission(store):
    user = make_order_staff(store)
    user.user_permissions.add(*Permission.objects.filter(content_type__app_label="orders"))
    return get_user_model().objects.get(pk=user.pk)


# --- who may open them ---------------------------------------------------------------------------
def test_store_staff_get_403_on_every_url_and_start_nothing(client, store, day_of_trade):
    matching_bills(day_of_trade)
    reconciled()
    for user in (make_clerk(store), store_manager_with_every_orders_permission(store)):
        client.force_login(user)
        assert client.get(LIST).status_code == 403
        assert client.get(day_url(DAY)).status_code == 403
        assert client.post(run_url(DAY)).status_code == 403
        assert client.get(reverse("admin:orders_reconciliationrun_changelist")).status_code == 403
        run = ReconciliationRun.objects.get()
        assert client.get(reverse("admin:orders_reconciliationrun_change", args=[run.pk])).status_code in (403, 404)
        assert "支付对账" not in client.get(reverse("backoffice:dashboard")).content.decode()
    assert ReconciliationRun.objects.count() == 1
    assert ReconciliationDay.objects.get(day=DAY).requested_at is None


def test_anonymous_visitors_go_to_the_login_page_and_shoppers_get_403(client, shopper):
    response = client.get(LIST)
    assert response.status_code == 302 and "login" in response["Location"]
    client.force_login(shopper)
    assert client.get(LIST).status_code == 403 and client.post(run_url(DAY)).status_code == 403


def test_hq_finds_the_page_in_the_menu(client, hq):
    page = client.get(reverse("backoffice:dashboard")).content.decode()
    assert LIST in page and "支付对账" in page


# --- the list --------------------------------------------------------------------------------------
def test_the_list_shows_each_day_with_its_status_and_totals_per_channel(client, hq, shopper, store, sku, day_of_trade):
    trade = day_of_trade
    matching_bills(trade)
    reconciled(DAY)
    earlier = DAY - timedelta(days=1)
    paid_attempt(shopper, store, sku, "alipay_wap", when=at(earlier, 10))  # missing from Alipay's bill
    reconciled(earlier)

    response = client.get(LIST)
    assert response.status_code == 200
    rows = {row["day"]: row for row in response.context["rows"]}
    assert len(rows) == 30 and max(rows) == local_today() - timedelta(days=1)
    assert rows[DAY]["state"].status == Status.CLEAN and rows[earlier]["state"].status == Status.DIFFERENCES
    assert rows[DAY - timedelta(days=2)]["state"] is None
    page = response.content.decode()
    assert f'data-day="{DAY.isoformat()}"' in page and day_url(DAY) in page
    assert 'data-status="clean"' in page and 'data-status="differences"' in page and "未对账" in page
    assert "微信扫码支付：收 ¥39.80 / ¥39.80，退 ¥5.00 / ¥5.00" in page
    assert "支付宝：收 ¥19.90 / ¥0.00" in page


def test_the_list_window_moves_with_end_and_refuses_the_future(client, hq):
    response = client.get(LIST, {"end": DAY.isoformat()})
    assert response.context["rows"][0]["day"] == DAY and response.context["rows"][-1]["day"] == DAY - timedelta(days=29)
    tomorrow = local_today() + timedelta(days=1)
    assert client.get(LIST, {"end": tomorrow.isoformat()}).context["rows"][0]["day"] == local_today() - timedelta(days=1)


def test_the_figures_are_money_per_channel_and_day_from_succeeded_attempts_and_refunds(shopper, store, sku):
    now = timezone.now()
    today = local_today()
    jsapi = paid_attempt(shopper, store, sku, "wechat_jsapi", when=at(DAY, 9))
    alipay = paid_attempt(shopper, store, sku, "alipay_wap", when=at(DAY, 9), quantity=2)
    old = paid_attempt(shopper, store, sku, "alipay_wap", when=at(today - timedelta(days=30), 9))
    back = refunded(alipay, 990, when=at(DAY, 10))
    pending_attempt(shopper, store, sku, "wechat_native")  # never paid: not counted
    for attempt in (jsapi, alipay, old):
        PaymentAttempt.objects.filter(pk=attempt.pk).update(succeeded_at=at(DAY if attempt != old else today - timedelta(days=30), 9))
    Refund.objects.filter(pk=back.pk).update(succeeded_at=at(DAY + timedelta(days=1), 8))

    figures = paid_by_channel_and_day(now=now)
    assert len(figures["days"]) == 30 and figures["days"][-1] == today.isoformat()
    series = {s["channel"]: s for s in figures["series"]}
    assert set(series) == {"wechat_jsapi", "alipay_wap"}
    index = figures["days"].index(DAY.isoformat())
    assert series["wechat_jsapi"]["paid"][index] == "19.90"
    assert series["alipay_wap"]["paid"][index] == "39.80" and series["alipay_wap"]["refunded"][index + 1] == "9.90"
    assert sum(float(v) for v in series["alipay_wap"]["paid"]) == pytest.approx(39.80)  # the 31st day left out
    totals = {t["channel"]: t for t in figures["totals"]}
    assert (totals["alipay_wap"]["paid_count"], str(totals["alipay_wap"]["paid"]), str(totals["alipay_wap"]["refunded"]),
            str(totals["alipay_wap"]["net"])) == (1, "39.80", "9.90", "29.90")


def test_the_figures_reach_the_page_for_the_stacked_chart(client, hq, shopper, store, sku):
    paid_attempt(shopper, store, sku, "wechat_native", when=timezone.now())
    page = client.get(LIST).content.decode()
    assert 'data-stacked-chart' in page and "orders/reconciliation.js" in page
    data = json.loads(page.split('<script id="reconciliation-figures" type="application/json">')[1].split("</script>")[0])
    assert data["series"][0]["channel"] == "wechat_native" and data["series"][0]["paid"][-1] == "19.90"


def test_the_list_costs_the_same_queries_for_one_day_or_thirty(client, hq, shopper, store, sku):
    paid_attempt(shopper, store, sku, "wechat_native", when=at(DAY, 9))
    reconciled(DAY)
    client.get(LIST)
    one, _response = page_queries(client, LIST)
    for n in range(1, 12):
        day = DAY - timedelta(days=n)
        paid_attempt(shopper, store, sku, ("wechat_jsapi", "alipay_wap")[n % 2], when=at(day, 9))
        reconciled(day)
    many, response = page_queries(client, LIST)
    assert sum(1 for row in response.context["rows"] if row["state"]) == 12
    # the user (1: after the first page its permissions come from core.permissions' cache), the days (1),
    # the figures (2)
    assert one == many == 4


# --- a day -------------------------------------------------------------------------------------------
def test_a_clean_day_says_so(client, hq, day_of_trade):
    matching_bills(day_of_trade)
    reconciled()
    page = client.get(day_url(DAY)).content.decode()
    assert "所有账单与本系统记录一致" in page and "没有需要核实的差异" in page
    assert page.count('data-kind=') == 0 and 'data-bill="' + WECHAT_KEY + '"' in page


def test_a_day_lists_every_difference_with_a_link_to_its_order(client, hq, shopper, store, sku, day_of_trade):
    trade = day_of_trade
    matching_bills(trade)
    unpaid = pending_attempt(shopper, store, sku, "wechat_jsapi")
    # the Native payment and its refund are missing there
    BILLS["wechat"][DAY] = [bill_payment(trade["jsapi"], fen=1900), bill_payment(unpaid)]
    BILLS["alipay"][DAY] += [BillRow("payment", "OTHER-APP-1", "2026X1", 500)]
    reconciled()
    response = client.get(day_url(DAY))
    page = response.content.decode()
    assert [(d.kind, d.row_kind) for d in response.context["to_do"]] == [
        (Kind.AMOUNT_DIFFERS, "payment"), (Kind.MISSING_HERE, "payment"), (Kind.MISSING_THERE, "payment"),
        (Kind.MISSING_THERE, "refund")]
    for attempt in (trade["jsapi"], unpaid, trade["native"]):
        assert reverse("orders_bo:detail", args=[attempt.order_id]) in page and attempt.order.number in page
    assert "¥19.00" in page and "¥19.90" in page and "金额不符" in page and "我方无记录" in page and "平台无记录" in page
    assert 'data-testid="not-ours"' in page and "OTHER-APP-1" in page
    assert "有 4 处差异需要核实" in page and trade["wechat_refund"].out_refund_no in page


def test_a_day_costs_the_same_queries_for_one_difference_or_ten(client, hq, shopper, store, sku):
    first = pending_attempt(shopper, store, sku, "wechat_native")
    BILLS["wechat"] = {DAY: [bill_payment(first)]}
    reconciled()
    client.get(day_url(DAY))
    one, response = page_queries(client, day_url(DAY))
    assert len(response.context["to_do"]) == 1
    for _n in range(9):
        BILLS["wechat"][DAY].append(bill_payment(pending_attempt(shopper, store, sku, "wechat_native")))
    BILLS["alipay"] = {DAY: [BillRow("payment", f"OTHER-{n}", f"X{n}", 100) for n in range(10)]}
    reconciled()
    reconciled()
    ten, response = page_queries(client, day_url(DAY))
    assert len(response.context["to_do"]) == 10 and len(response.context["runs"]) == 3
    # the user (1: its permissions cached after the first page), the day, its differences, other apps'
    # lines, the runs
    assert one == ten == 5


def test_a_failed_bill_shows_its_error_and_a_retry_that_failed_keeps_the_last_result(client, hq, day_of_trade):
    from orders.payments.gateways import GatewayError

    trade = day_of_trade
    matching_bills(trade)
    BILLS["alipay"][DAY] = [bill_payment(trade["alipay"])]
    reconciled()
    BILLS["alipay"][DAY] = GatewayError("isp.unknow-error 系统繁忙")
    reconciled()
    page = client.get(day_url(DAY)).content.decode()
    assert "isp.unknow-error" in page and "上一次成功对账的结果" in page and "平台无记录" in page


# --- the 对账 button ----------------------------------------------------------------------------------
def test_the_button_runs_the_day_in_the_worker_once_a_minute(client, hq, day_of_trade, django_capture_on_commit_callbacks):
    matching_bills(day_of_trade)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(run_url(DAY))
    assert response.status_code == 302 and response["Location"] == day_url(DAY)
    assert any("已开始对账" in m for m in texts(response))
    run = ReconciliationRun.objects.get()
    assert run.trigger == ReconciliationRun.Trigger.STAFF and run.requested_by == hq and run.status == Status.CLEAN

    with django_capture_on_commit_callbacks(execute=True):
        again = client.post(run_url(DAY))
    assert any("一分钟后再试" in m for m in texts(again)) and ReconciliationRun.objects.count() == 1

    ReconciliationDay.objects.filter(day=DAY).update(requested_at=timezone.now() - timedelta(seconds=61))
    with django_capture_on_commit_callbacks(execute=True):
        client.post(run_url(DAY))
    assert ReconciliationRun.objects.count() == 2


def test_the_button_is_post_only_and_refuses_a_day_not_over(client, hq, django_capture_on_commit_callbacks):
    assert client.get(run_url(DAY)).status_code == 405
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(run_url(local_today()))
    assert any("只能对账今天以前的日期" in m for m in texts(response))
    assert not ReconciliationRun.objects.exists() and DOWNLOADS == []
    assert client.post(run_url(local_today() + timedelta(days=1))).status_code == 404


def test_a_page_still_waiting_for_the_worker_says_so(client, hq):
    ReconciliationDay.objects.create(day=DAY, requested_at=timezone.now())
    assert "对账中" in client.get(day_url(DAY)).content.decode()
    assert "对账中" in client.get(LIST, {"end": DAY.isoformat()}).content.decode()


# --- the admin ---------------------------------------------------------------------------------------
def test_hq_reads_the_runs_in_the_admin_and_can_change_nothing(client, hq, day_of_trade):
    matching_bills(day_of_trade)
    BILLS["alipay"][DAY] = []
    run = reconciled()
    listing = client.get(reverse("admin:orders_reconciliationrun_changelist"))
    change = reverse("admin:orders_reconciliationrun_change", args=[run.pk])
    assert listing.status_code == 200 and change in listing.content.decode()
    page = client.get(change)
    assert page.status_code == 200 and day_url(DAY) in page.content.decode()
    assert day_of_trade["alipay"].out_trade_no in page.content.decode()  # a difference, inline
    assert client.post(change, {"status": "clean"}).status_code == 403
    assert client.get(reverse("admin:orders_reconciliationrun_add")).status_code == 403
    assert client.post(reverse("admin:orders_reconciliationrun_delete", args=[run.pk]), {"post": "yes"}).status_code == 403
    assert ReconciliationRun.objects.get(pk=run.pk).status == Status.DIFFERENCES


# --- bad input -----------------------------------------------------------------------------------------
FIXED = ["", " ", "\x00", "%00", "2026-02-30", "2026-13-01", "0000-00-00", "1999-12-31", "9999-12-31", "10000-01-01",
         "２０２６-１１-０１", "٢٠٢٦-١١-٠١", "2026-1-1", "20261101", "2026/11/01", "-1", "0", "9" * 40, "' OR 1=1 --",
         "<script>x</script>", "😀" * 10, "a" * 3000, "\u202e2026-11-01", "\ufeff2026-11-01", "2026-11-01\n"]


def generated(n=40, seed=11):
    rng = random.Random(seed)
    alphabet = "0123456789０１２３٠١٢²³-/:. \x00\t\n'\"%<>&;年月日😀aZ"
    values = ["".join(rng.choice(alphabet) for _ in range(rng.randint(1, 24))) for _ in range(n)]
    values += [f"{rng.randint(0, 12000):04d}-{rng.randint(0, 20):02d}-{rng.randint(0, 40):02d}" for _ in range(n)]
    return values


def test_bad_days_in_the_url_are_404_and_in_the_query_fall_back(client, hq, day_of_trade):
    from urllib.parse import quote

    matching_bills(day_of_trade)
    reconciled()
    base_day = day_url(DAY).rsplit(DAY.isoformat(), 1)[0]
    for raw in FIXED + generated():
        url = base_day + quote(raw, safe="") + "/"
        response = client.get(url)
        if "\x00" in raw:  # a NUL anywhere: 400 before the view (core.middleware)
            assert (response.status_code, client.post(url + "run/").status_code) == (400, 400)
            assert client.get(LIST, {"end": raw}).status_code == 400
            continue
        assert response.status_code in (200, 404), (raw, response.status_code)
        if response.status_code == 200:  # only a real day, 2000-01-01 … today
            assert response.context["day"].isoformat() == raw
        posted = client.post(url + "run/")
        assert posted.status_code in (302, 404), (raw, posted.status_code)
        listing = client.get(LIST, {"end": raw})
        assert listing.status_code == 200, raw
    assert ReconciliationRun.objects.count() == 1 and DOWNLOADS.count(("wechat", DAY)) == 1
