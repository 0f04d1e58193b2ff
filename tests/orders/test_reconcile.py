"""Daily reconciliation (orders.payments.reconcile): a faked gateway's bill against our payment and
refund events (tests/orders/reconcile_support.py: a WeChat Pay account behind two channels, an
Alipay account, and the dev gateway configured too, which must be left out)."""

from datetime import date, datetime, timedelta
from decimal import Decimal
from io import StringIO
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings as django_settings
from django.core.management import CommandError, call_command
from django.db import transaction

from orders.models import ReconciliationDay, ReconciliationDifference, ReconciliationRun, Refund
from orders.payments.gateways import BillRow, GatewayError
from orders.payments.reconcile import (
    BillNotReady,
    ReconcileError,
    configured_bills,
    reconcile_day,
    reconcile_due_days,
)
from orders.payments.services import create_refund
from orders.services.base import lock_order

from .reconcile_support import (
    ALIPAY_KEY,
    BILLS,
    DAY,
    DOWNLOADS,
    SHANGHAI,
    WECHAT_KEY,
    FakeAlipay,
    after_ready,
    at,
    bill_payment,
    bill_refund,
    local_today,
    matching_bills,
    paid_attempt,
    pending_attempt,
    tea_for,
    trade_of,
    use_fake_gateways,
)

pytestmark = pytest.mark.django_db

Kind = ReconciliationDifference.Kind
Status = ReconciliationRun.Status


@pytest.fixture(autouse=True)
def gateways(settings):
    use_fake_gateways(settings)


@pytest.fixture
def sku(store):
    return tea_for(store)


@pytest.fixture
def day_of_trade(shopper, store, sku):
    return trade_of(shopper, store, sku)


def differences(day=DAY, **filters):
    return list(ReconciliationDifference.objects.filter(day=day, **filters).order_by("id"))


# --- the bills ----------------------------------------------------------------------------------------
def test_channels_sharing_an_account_are_one_bill_and_the_dev_gateway_is_not_reconciled():
    bills = configured_bills()
    assert [(b.key, b.channels) for b in bills] == [
        (WECHAT_KEY, ("wechat_jsapi", "wechat_native")), (ALIPAY_KEY, ("alipay_wap",))]
    assert [b.key for b in configured_bills(["wechat_native"])] == [WECHAT_KEY]
    with pytest.raises(ReconcileError) as refused:
        configured_bills(["dev"])
    assert refused.value.code == "unknown_channel"


def test_a_gateway_that_is_not_configured_is_not_downloaded(monkeypatch, day_of_trade):
    monkeypatch.setattr(FakeAlipay, "is_available", classmethod(lambda cls: False))
    matching_bills(day_of_trade)
    run = reconcile_day(DAY, now=after_ready(DAY))
    assert DOWNLOADS == [("wechat", DAY)]
    assert list(run.bills) == [WECHAT_KEY]


# --- a clean day --------------------------------------------------------------------------------------
def test_a_clean_day_says_so_with_totals_per_channel(day_of_trade):
    trade = day_of_trade
    matching_bills(trade)
    run = reconcile_day(DAY, now=after_ready(DAY))

    assert run.status == Status.CLEAN and run.differences == 0 and run.not_ours == 0
    assert differences() == []
    assert sorted(DOWNLOADS) == [("alipay", DAY), ("wechat", DAY)]  # once per bill, not per channel
    wechat = run.bills[WECHAT_KEY]
    assert wechat["status"] == Status.CLEAN and wechat["channels"] == ["wechat_jsapi", "wechat_native"]
    assert wechat["totals"]["wechat_jsapi"] == {
        "ours": {"payments": [1, 1990], "refunds": [0, 0]}, "theirs": {"payments": [1, 1990], "refunds": [0, 0]}}
    assert wechat["totals"]["wechat_native"] == {
        "ours": {"payments": [1, 3980], "refunds": [1, 500]}, "theirs": {"payments": [1, 3980], "refunds": [1, 500]}}
    assert run.bills[ALIPAY_KEY]["totals"]["alipay_wap"]["theirs"] == {"payments": [1, 5970], "refunds": [1, 1990]}
    state = ReconciliationDay.objects.get(day=DAY)
    assert state.status == Status.CLEAN and state.differences == 0 and state.checked_at is not None


def test_events_of_the_days_around_are_not_counted(shopper, store, sku):
    before = paid_attempt(shopper, store, sku, "wechat_jsapi", when=at(DAY, 0) - timedelta(seconds=1))
    after = paid_attempt(shopper, store, sku, "wechat_jsapi", when=at(DAY + timedelta(days=1), 0))
    inside = paid_attempt(shopper, store, sku, "wechat_jsapi", when=at(DAY, 0))
    BILLS["wechat"] = {DAY: [bill_payment(inside)]}
    run = reconcile_day(DAY, now=after_ready(DAY))
    assert run.status == Status.CLEAN, differences()
    assert {before.pk, after.pk}.isdisjoint({d.attempt_id for d in differences()})


# --- each kind of difference ---------------------------------------------------------------------------
def test_each_kind_of_difference_is_listed_with_its_order(shopper, store, sku, day_of_trade):
    trade = day_of_trade
    unpaid = pending_attempt(shopper, store, sku, "wechat_native")  # paid at WeChat, never told to us
    BILLS["wechat"] = {DAY: [
        bill_payment(trade["jsapi"], fen=1900),  # amount differs
        bill_payment(unpaid),  # missing here
        # the Native payment is missing there; its refund is on the bill at its amount
        bill_refund(trade["wechat_refund"]),
        BillRow("refund", trade["jsapi"].out_trade_no, "RF-CONSOLE", 300, out_refund_no="CONSOLE-REFUND-1"),
    ]}
    BILLS["alipay"] = {DAY: [bill_payment(trade["alipay"])]}  # its refund is missing there

    run = reconcile_day(DAY, now=after_ready(DAY))
    found = {(d.kind, d.row_kind, d.out_refund_no or d.out_trade_no): d for d in differences()}
    assert set(found) == {
        (Kind.AMOUNT_DIFFERS, "payment", trade["jsapi"].out_trade_no),
        (Kind.MISSING_HERE, "payment", unpaid.out_trade_no),
        (Kind.MISSING_THERE, "payment", trade["native"].out_trade_no),
        (Kind.MISSING_HERE, "refund", "CONSOLE-REFUND-1"),
        (Kind.MISSING_THERE, "refund", trade["alipay_refund"].out_refund_no),
    }
    differs = found[(Kind.AMOUNT_DIFFERS, "payment", trade["jsapi"].out_trade_no)]
    assert (differs.ours_fen, differs.theirs_fen) == (1990, 1900)
    assert differs.order_id == trade["jsapi"].order_id and differs.channel == "wechat_jsapi"
    missing_here = found[(Kind.MISSING_HERE, "payment", unpaid.out_trade_no)]
    assert missing_here.ours_fen is None and missing_here.theirs_fen == unpaid.amount_fen
    assert missing_here.order_id == unpaid.order_id and "待支付" in missing_here.note
    console = found[(Kind.MISSING_HERE, "refund", "CONSOLE-REFUND-1")]
    assert console.order_id == trade["jsapi"].order_id and "没有这笔退款单" in console.note
    assert found[(Kind.MISSING_THERE, "payment", trade["native"].out_trade_no)].theirs_fen is None

    assert run.status == Status.DIFFERENCES and run.differences == 5
    assert run.bills[WECHAT_KEY]["differences"] == 4 and run.bills[ALIPAY_KEY]["differences"] == 1
    assert run.bills[WECHAT_KEY]["totals"]["wechat_native"]["theirs"]["payments"] == [1, unpaid.amount_fen]
    state = ReconciliationDay.objects.get(day=DAY)
    assert state.status == Status.DIFFERENCES and state.differences == 5


def test_a_refund_the_gateway_finished_while_ours_is_still_processing_is_missing_here(day_of_trade):
    trade = day_of_trade
    with transaction.atomic():
        order = lock_order(trade["jsapi"].order_id)
        processing = create_refund(order, amount=Decimal("1.00"), cause=Refund.Cause.DUPLICATE_PAYMENT,
                                   counts_for_order=False, attempt=trade["jsapi"])
    Refund.objects.filter(pk=processing.pk).update(state=Refund.State.PROCESSING)
    matching_bills(trade)
    BILLS["wechat"][DAY].append(BillRow("refund", trade["jsapi"].out_trade_no, "RF-X", 100,
                                        out_refund_no=processing.out_refund_no))
    reconcile_day(DAY, now=after_ready(DAY))
    [difference] = differences()
    assert difference.kind == Kind.MISSING_HERE and difference.out_refund_no == processing.out_refund_no
    assert "退款中" in difference.note and difference.order_id == trade["jsapi"].order_id


# --- lines of other apps, midnight --------------------------------------------------------------------
def test_lines_of_other_apps_on_the_seller_account_are_listed_as_not_ours(day_of_trade):
    trade = day_of_trade
    matching_bills(trade)
    BILLS["alipay"][DAY] += [
        BillRow("payment", "OTHER-APP-0001", "2026ALI0001", 12345),
        BillRow("refund", "OTHER-APP-0001", "2026ALI0001", 345, out_refund_no="OTHER-APP-0001-R1"),
        BillRow("payment", "x" * 64, "2026ALI0002", 1),  # longer than any trade number of ours
    ]
    run = reconcile_day(DAY, now=after_ready(DAY))
    assert run.status == Status.CLEAN and run.differences == 0 and run.not_ours == 3
    foreign = differences(kind=Kind.NOT_OURS)
    assert [d.out_trade_no for d in foreign] == ["OTHER-APP-0001", "OTHER-APP-0001", "x" * 64]
    assert all(d.order_id is None and d.attempt_id is None and not d.needs_action for d in foreign)
    alipay = run.bills[ALIPAY_KEY]
    assert alipay["not_ours_totals"] == {"payments": [2, 12346], "refunds": [1, 345]}
    assert alipay["totals"]["alipay_wap"]["theirs"] == {"payments": [1, 5970], "refunds": [1, 1990]}  # ours only


def test_a_payment_recorded_after_midnight_is_an_other_day_line_on_both_days(shopper, store, sku):
    next_day = DAY + timedelta(days=1)
    late = paid_attempt(shopper, store, sku, "wechat_native", when=at(next_day, 0, 0, 3))
    BILLS["wechat"] = {DAY: [bill_payment(late, when=at(DAY, 23, 59, 58))], next_day: []}

    first = reconcile_day(DAY, now=after_ready(next_day))
    [line] = differences(DAY)
    assert line.kind == Kind.OTHER_DAY and not line.needs_action and next_day.isoformat() in line.note
    assert first.status == Status.CLEAN and first.bills[WECHAT_KEY]["other_day"] == 1

    second = reconcile_day(next_day, now=after_ready(next_day))
    [line] = differences(next_day)
    assert line.kind == Kind.OTHER_DAY and DAY.isoformat() in line.note  # not "missing there"
    assert second.status == Status.CLEAN


def test_a_payment_on_another_day_at_another_amount_is_an_amount_difference(shopper, store, sku):
    late = paid_attempt(shopper, store, sku, "wechat_native", when=at(DAY + timedelta(days=1), 0, 0, 3))
    BILLS["wechat"] = {DAY: [bill_payment(late, fen=late.amount_fen + 1)]}
    run = reconcile_day(DAY, now=after_ready(DAY))
    [line] = differences()
    assert line.kind == Kind.AMOUNT_DIFFERS and line.ours_fen == late.amount_fen
    assert run.status == Status.DIFFERENCES


# --- not yet, failures ------------------------------------------------------------------------------
def test_before_the_bills_are_ready_the_run_is_not_yet_available_and_nothing_is_asked(day_of_trade):
    run = reconcile_day(DAY, now=at(DAY + timedelta(days=1), 9, 59))
    assert DOWNLOADS == []
    assert run.status == Status.NOT_YET
    assert {s["status"] for s in run.bills.values()} == {Status.NOT_YET}
    assert "10:00" in run.bills[WECHAT_KEY]["error"]
    assert differences() == [] and ReconciliationDay.objects.get(day=DAY).status == Status.NOT_YET


def test_a_gateway_saying_the_bill_is_being_made_is_not_yet_available(day_of_trade):
    matching_bills(day_of_trade)
    BILLS["wechat"][DAY] = BillNotReady("STATEMENT_CREATING 账单生成中")
    run = reconcile_day(DAY, now=after_ready(DAY))
    assert run.bills[WECHAT_KEY]["status"] == Status.NOT_YET and "STATEMENT_CREATING" in run.bills[WECHAT_KEY]["error"]
    assert run.bills[ALIPAY_KEY]["status"] == Status.CLEAN
    assert run.status == Status.NOT_YET


@pytest.mark.parametrize("failure", [GatewayError("WeChat Pay trade bill refused: SYSTEM_ERROR"),
                                     KeyError("a gateway bug")])
def test_a_gateway_error_is_recorded_not_raised_and_the_other_bill_still_compares(day_of_trade, failure):
    trade = day_of_trade
    matching_bills(trade)
    BILLS["wechat"][DAY] = failure
    BILLS["alipay"][DAY] = [bill_payment(trade["alipay"])]  # its refund missing there
    run = reconcile_day(DAY, now=after_ready(DAY))
    assert run.bills[WECHAT_KEY]["status"] == Status.FAILED
    assert str(failure).strip("'") in run.bills[WECHAT_KEY]["error"]
    assert run.bills[ALIPAY_KEY]["status"] == Status.DIFFERENCES
    assert run.status == Status.DIFFERENCES and [d.bill for d in differences()] == [ALIPAY_KEY]


@pytest.mark.parametrize("line", [
    BillRow("payment", "X", "T", "19.90"),  # a yuan string where fen is expected
    BillRow("payment", "X", "T", -1),
    BillRow("payment", "X", "T", True),
    BillRow("trade", "X", "T", 1990),
    {"kind": "payment", "out_trade_no": "X", "amount_fen": 1990},
])
def test_a_bill_with_a_line_that_is_not_a_bill_row_fails_and_compares_nothing(day_of_trade, line):
    matching_bills(day_of_trade)
    BILLS["wechat"][DAY] = [*BILLS["wechat"][DAY], line]
    run = reconcile_day(DAY, now=after_ready(DAY))
    assert run.bills[WECHAT_KEY]["status"] == Status.FAILED and differences(bill=WECHAT_KEY) == []


# --- re-running ---------------------------------------------------------------------------------------
def test_rerunning_a_day_replaces_its_differences_and_keeps_the_history(day_of_trade):
    trade = day_of_trade
    matching_bills(trade)
    BILLS["wechat"][DAY] = [bill_payment(trade["jsapi"], fen=1)]  # one amount differs, two missing there
    first = reconcile_day(DAY, now=after_ready(DAY))
    again = reconcile_day(DAY, now=after_ready(DAY))
    assert first.differences == again.differences == 3
    assert len(differences()) == 3 and {d.run_id for d in differences()} == {again.pk}

    matching_bills(trade)  # WeChat Pay sent a corrected bill
    fixed = reconcile_day(DAY, now=after_ready(DAY))
    assert fixed.status == Status.CLEAN and differences() == []
    assert ReconciliationDay.objects.get(day=DAY).status == Status.CLEAN
    assert list(ReconciliationRun.objects.filter(day=DAY).order_by("id").values_list("status", flat=True)) == [
        Status.DIFFERENCES, Status.DIFFERENCES, Status.CLEAN]


def test_a_failed_rerun_keeps_the_last_result_and_its_differences(day_of_trade):
    trade = day_of_trade
    matching_bills(trade)
    BILLS["alipay"][DAY] = [bill_payment(trade["alipay"])]
    compared = reconcile_day(DAY, now=after_ready(DAY))
    BILLS["alipay"][DAY] = GatewayError("Alipay is down")
    failed = reconcile_day(DAY, now=after_ready(DAY))
    assert failed.status == Status.FAILED
    state = ReconciliationDay.objects.get(day=DAY)
    assert state.status == Status.DIFFERENCES and state.differences == 1
    assert state.bills[ALIPAY_KEY]["run"] == compared.pk
    assert state.bills[ALIPAY_KEY]["retry"]["status"] == Status.FAILED and "down" in state.bills[ALIPAY_KEY]["retry"]["error"]
    assert [d.run_id for d in differences()] == [compared.pk]


def test_a_run_for_one_channel_replaces_only_its_bill(day_of_trade):
    trade = day_of_trade
    matching_bills(trade)
    BILLS["alipay"][DAY] = [bill_payment(trade["alipay"])]
    reconcile_day(DAY, now=after_ready(DAY))
    BILLS["wechat"][DAY] = []
    run = reconcile_day(DAY, channels=["wechat_jsapi"], now=after_ready(DAY))
    assert list(run.bills) == [WECHAT_KEY] and run.differences == 3
    state = ReconciliationDay.objects.get(day=DAY)
    assert state.differences == 4 and set(state.bills) == {WECHAT_KEY, ALIPAY_KEY}
    assert sorted(d.bill for d in differences()) == [ALIPAY_KEY] + [WECHAT_KEY] * 3


# --- the beat -----------------------------------------------------------------------------------------
def test_the_beat_reconciles_the_days_not_done_and_then_nothing(day_of_trade):
    trade = day_of_trade
    matching_bills(trade)
    BILLS["alipay"][DAY] = BillNotReady("not yet")
    days = [DAY - timedelta(days=2), DAY - timedelta(days=1), DAY]
    now = at(DAY + timedelta(days=1), 10, 30)

    runs = reconcile_due_days(now=now)
    assert [r.day for r in runs] == days
    assert sorted(DOWNLOADS) == sorted([(a, d) for a in ("alipay", "wechat") for d in days])

    DOWNLOADS.clear()
    BILLS["alipay"][DAY] = [bill_payment(trade["alipay"]), bill_refund(trade["alipay_refund"])]
    runs = reconcile_due_days(now=now + timedelta(hours=1))
    assert DOWNLOADS == [("alipay", DAY)]  # only the bill that had not compared
    assert ReconciliationDay.objects.get(day=DAY).status == Status.CLEAN

    DOWNLOADS.clear()
    assert reconcile_due_days(now=now + timedelta(hours=2)) == [] and DOWNLOADS == []


def test_the_beat_task_records_a_gateway_error_and_does_not_raise(monkeypatch):
    from orders import tasks
    from orders.payments import reconcile

    BILLS["wechat"] = {DAY: GatewayError("HTTP 503")}
    real = reconcile.reconcile_due_days
    monkeypatch.setattr(reconcile, "reconcile_due_days", lambda: real(now=after_ready(DAY)))
    result = tasks.reconcile_payments.delay().get()
    assert {"day": DAY.isoformat(), "status": Status.FAILED, "differences": 0} in result
    assert ReconciliationDay.objects.get(day=DAY).bills[WECHAT_KEY]["error"] == "HTTP 503"


def test_the_beat_runs_at_half_past_ten_and_hourly_that_day_in_shanghai_time():
    from config.celery import app

    entry = django_settings.CELERY_BEAT_SCHEDULE["orders.reconcile_payments"]
    assert entry["task"] == "orders.tasks.reconcile_payments"
    assert entry["task"] in app.tasks
    schedule = entry["schedule"]
    schedule.app = app
    assert str(schedule.tz) == "Asia/Shanghai"
    assert schedule.minute == {30} and schedule.hour == set(range(10, 24))
    # last ran at 23:30 Shanghai (15:30 UTC): next at 10:30 Shanghai the next day, not 10:30 UTC
    last, delta, _now = schedule.remaining_delta(datetime(2026, 11, 26, 15, 30, tzinfo=ZoneInfo("UTC")))
    assert (last + delta).astimezone(SHANGHAI).replace(tzinfo=None) == datetime(2026, 11, 27, 10, 30)
    last, delta, _now = schedule.remaining_delta(datetime(2026, 11, 27, 10, 30, tzinfo=SHANGHAI))
    assert (last + delta).astimezone(SHANGHAI).replace(tzinfo=None) == datetime(2026, 11, 27, 11, 30)


# --- the command ------------------------------------------------------------------------------------
def test_the_command_prints_a_clean_day_and_exits_0(day_of_trade):
    matching_bills(day_of_trade)
    out = StringIO()
    call_command("reconcile_payments", "--date", DAY.isoformat(), stdout=out)
    text = out.getvalue()
    assert "无差异" in text and "微信支付" in text and "¥19.90" in text and "¥59.70" in text
    assert ReconciliationRun.objects.get(day=DAY).trigger == ReconciliationRun.Trigger.COMMAND


def test_the_command_lists_the_differences_and_exits_1(day_of_trade):
    trade = day_of_trade
    matching_bills(trade)
    BILLS["wechat"][DAY][0] = bill_payment(trade["jsapi"], fen=1900)
    out = StringIO()
    with pytest.raises(CommandError) as failed:
        call_command("reconcile_payments", "--date", DAY.isoformat(), stdout=out)
    assert failed.value.returncode == 1 and "1 处差异" in str(failed.value)
    assert trade["jsapi"].out_trade_no in out.getvalue() and "金额不符" in out.getvalue()
    assert "¥19.00" in out.getvalue()


def test_the_command_exits_2_when_a_bill_could_not_be_compared(day_of_trade):
    matching_bills(day_of_trade)
    BILLS["alipay"][DAY] = GatewayError("isp.unknow-error")
    out = StringIO()
    with pytest.raises(CommandError) as failed:
        call_command("reconcile_payments", "--date", DAY.isoformat(), stdout=out)
    assert failed.value.returncode == 2 and "isp.unknow-error" in out.getvalue()


def test_the_command_defaults_to_yesterday(settings):
    settings.PAYMENT_BILL_READY_HOUR = 0  # whatever the hour the test runs at, yesterday's bills are out
    call_command("reconcile_payments", stdout=StringIO())
    assert ReconciliationRun.objects.get().day == local_today() - timedelta(days=1)
    assert DOWNLOADS == [("wechat", local_today() - timedelta(days=1)), ("alipay", local_today() - timedelta(days=1))]


def test_the_command_says_when_the_bills_are_not_out_yet_and_exits_2(settings):
    settings.PAYMENT_BILL_READY_HOUR = 24 + 23  # never before tomorrow 23:00
    out = StringIO()
    with pytest.raises(CommandError) as failed:
        call_command("reconcile_payments", stdout=out)
    assert failed.value.returncode == 2 and "账单未出" in out.getvalue() and DOWNLOADS == []


@pytest.mark.parametrize("raw", [
    "2026-02-30", "2026-13-01", "20261101", "2026/11/01", "２０２６-11-01", "yesterday", "", "0000-00-00",
    "9999-99-99", "2026-11-01\x00", "' OR 1=1", "-1",
])
def test_the_command_refuses_a_bad_date_clearly(raw):
    with pytest.raises(CommandError, match="YYYY-MM-DD"):
        call_command("reconcile_payments", f"--date={raw}", stdout=StringIO())
    assert not ReconciliationRun.objects.exists() and DOWNLOADS == []


def test_the_command_refuses_today_and_the_future():
    for day in (local_today(), local_today() + timedelta(days=1), date(9999, 12, 31)):
        with pytest.raises(CommandError, match="今天以前"):
            call_command("reconcile_payments", "--date", day.isoformat(), stdout=StringIO())
    assert not ReconciliationRun.objects.exists()


def test_the_command_refuses_a_channel_without_a_bill():
    with pytest.raises(CommandError, match="dev"):
        call_command("reconcile_payments", "--date", DAY.isoformat(), "--channel", "dev", stdout=StringIO())


def test_the_command_says_when_no_gateway_is_reconciled(settings):
    settings.PAYMENT_GATEWAYS = {"dev": "orders.payments.dev.DevGateway"}
    with pytest.raises(CommandError) as failed:
        call_command("reconcile_payments", "--date", DAY.isoformat(), stdout=StringIO())
    assert failed.value.returncode == 2
    assert ReconciliationRun.objects.get().status == Status.NO_GATEWAY


def test_generated_dates_never_escape_as_anything_but_a_command_error():
    import random

    rng = random.Random(10)
    alphabet = "0123456789-０１٣²/:. \x00aZ年月日"
    ran = 0
    for _ in range(200):
        raw = "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 14)))
        if rng.random() < 0.2:
            raw = f"{rng.randint(0, 9999):04d}-{rng.randint(0, 19):02d}-{rng.randint(0, 39):02d}"
        try:
            call_command("reconcile_payments", f"--date={raw}", stdout=StringIO())
        except CommandError as refused:
            assert refused.returncode == 1 and ("YYYY-MM-DD" in str(refused) or "今天以前" in str(refused)), raw
            continue
        # only a real day before today gets here, and it ran
        assert date.fromisoformat(raw) < local_today(), raw
        ran += 1
    assert ReconciliationRun.objects.count() == ran
