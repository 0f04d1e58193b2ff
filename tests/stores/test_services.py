import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.db import IntegrityError, transaction
from django.db.models import Sum

from stores import services
from stores.errors import StockError, TransferError
from stores.models import (
    LowStockAlert,
    Stock,
    StockMovement,
    Store,
    StoreNotification,
    StoreStaff,
    Transfer,
)

from .conftest import make_sku, make_staff, make_store

pytestmark = pytest.mark.django_db


def ledger_matches(stock):
    stock.refresh_from_db()
    sums = stock.movements.aggregate(q=Sum("quantity"), r=Sum("reserved_delta"))
    return stock.on_hand == (sums["q"] or 0) and stock.reserved == (sums["r"] or 0)


def row(store, sku):
    return Stock.objects.get(store=store, sku=sku)


def test_receive_creates_the_row_and_writes_the_ledger(store_a, sku):
    movement = services.receive_stock(store_a, sku, 10, note="开业")
    stock = row(store_a, sku)
    assert (stock.on_hand, stock.reserved) == (10, 0)
    assert movement.reason == StockMovement.Reason.RECEIVE
    assert (movement.quantity, movement.on_hand_after) == (10, 10)
    services.receive_stock(store_a, sku, 5)
    assert row(store_a, sku).on_hand == 15
    assert ledger_matches(stock)


@pytest.mark.parametrize("bad", [0, -3, "x", None, True, 1.5, "2.5"])
def test_bad_quantities_are_refused_and_change_nothing(store_a, sku, bad):
    services.receive_stock(store_a, sku, 5)
    for call in (
        lambda: services.receive_stock(store_a, sku, bad),
        lambda: services.reserve_lines(store_a, [(sku, bad)], reference="order:1"),
        lambda: services.release_reserved("order:1", quantities={sku.pk: bad}, step="refund:1"),
        lambda: services.sell_reserved("order:1", quantities={sku.pk: bad}, step="ship:1"),
        lambda: services.return_stock(store_a, sku, bad, reference="order:1:refund:1"),
    ):
        with pytest.raises(StockError) as info:
            call()
        assert info.value.code == "invalid_quantity"
    stock = row(store_a, sku)
    assert (stock.on_hand, stock.reserved, stock.movements.count()) == (5, 0, 1)


def test_reserve_only_when_available_and_then_sell_or_release(store_a, sku):
    services.receive_stock(store_a, sku, 3)
    services.reserve_lines(store_a, [(sku, 2)], reference="order:1")
    with pytest.raises(StockError) as info:
        services.reserve_lines(store_a, [(sku, 2)], reference="order:2")
    assert info.value.code == "insufficient_stock"
    stock = row(store_a, sku)
    assert (stock.on_hand, stock.reserved, stock.available) == (3, 2, 1)
    assert services.sell_reserved("order:1", quantities={sku.pk: 1}, step="ship:1") == 1
    assert services.release_reserved("order:1") == 1
    stock = row(store_a, sku)
    assert (stock.on_hand, stock.reserved) == (2, 0)
    # nothing is held for order:1 any more: a partial release is refused, a full sale is a no-op
    with pytest.raises(StockError) as info:
        services.release_reserved("order:1", quantities={sku.pk: 1}, step="refund:1")
    assert info.value.code == "insufficient_reserved"
    assert services.sell_reserved("order:1") == 0
    services.return_stock(store_a, sku, 1, reference="order:1:refund:1")
    assert row(store_a, sku).on_hand == 3
    reasons = list(stock.movements.order_by("id").values_list("reason", flat=True))
    assert reasons == ["receive", "reserve", "sale", "release", "return"]
    assert ledger_matches(stock)


def test_reserve_in_a_store_without_the_sku_is_a_clear_error(store_a, sku):
    with pytest.raises(StockError) as info:
        services.reserve_lines(store_a, [(sku, 1)], reference="order:1")
    assert info.value.code == "insufficient_stock"
    assert info.value.short == [{"sku_id": sku.pk, "requested": 1, "available": 0}]
    assert not Stock.objects.exists()


def test_adjust_needs_a_reason_and_cannot_take_reserved_units(store_a, sku):
    services.receive_stock(store_a, sku, 5)
    stock = row(store_a, sku)
    with pytest.raises(StockError) as info:
        services.adjust_stock(stock, -1, reason="  ")
    assert info.value.code == "reason_required"
    with pytest.raises(StockError):
        services.adjust_stock(stock, 0, reason="盘点")
    services.reserve_lines(store_a, [(sku, 4)], reference="order:1")
    with pytest.raises(StockError) as info:
        services.adjust_stock(stock, -2, reason="破损")
    assert info.value.code == "insufficient_stock"
    services.adjust_stock(stock, -1, reason="破损")
    services.adjust_stock(stock, 3, reason="盘盈")
    stock.refresh_from_db()
    assert (stock.on_hand, stock.reserved) == (7, 4)
    assert stock.movements.filter(reason="adjust").first().note == "盘盈"
    assert ledger_matches(stock)


def test_threshold_below_zero_is_refused(store_a, sku):
    services.receive_stock(store_a, sku, 5)
    stock = row(store_a, sku)
    with pytest.raises(StockError) as info:
        services.set_threshold(stock, -1)
    assert info.value.code == "invalid_threshold"
    stock.refresh_from_db()
    assert stock.low_threshold == 5


def test_database_refuses_negative_stock_even_without_services(store_a, sku):
    services.receive_stock(store_a, sku, 1)
    with pytest.raises(IntegrityError), transaction.atomic():
        Stock.objects.filter(store=store_a).update(on_hand=-1)
    with pytest.raises(IntegrityError), transaction.atomic():
        Stock.objects.filter(store=store_a).update(reserved=2)


def test_movements_are_append_only(store_a, sku):
    movement = services.receive_stock(store_a, sku, 1)
    movement.note = "改"
    with pytest.raises(ValidationError):
        movement.save()
    with pytest.raises(ValidationError):
        movement.delete()


def test_store_coordinates_out_of_range_are_refused_by_the_database(db):
    with pytest.raises(IntegrityError), transaction.atomic():
        make_store(lat=91)
    with pytest.raises(IntegrityError), transaction.atomic():
        make_store(lng=-181)


# --- alerts -------------------------------------------------------------------------------------
def test_one_alert_when_stock_falls_below_threshold_not_one_per_sale(store_a, sku, manager_a, settings,
                                                                     django_capture_on_commit_callbacks):
    services.receive_stock(store_a, sku, 10)  # threshold 5
    stock = row(store_a, sku)
    with django_capture_on_commit_callbacks(execute=True):
        for order in range(8):
            services.reserve_lines(store_a, [(sku, 1)], reference=f"order:{order}")
    alerts = LowStockAlert.objects.filter(stock=stock)
    assert alerts.count() == 1
    alert = alerts.get()
    assert (alert.status, alert.available_at_open, alert.threshold) == ("open", 4, 5)
    assert alert.notified_at is not None
    notification = StoreNotification.objects.get()
    assert notification.user == manager_a and notification.alert == alert
    # restocking above the threshold closes it, a new fall opens a new one
    services.receive_stock(store_a, sku, 10)
    alert.refresh_from_db()
    assert alert.status == "closed" and alert.closed_at
    with django_capture_on_commit_callbacks(execute=True):
        services.adjust_stock(stock, -10, reason="报损")
    assert LowStockAlert.objects.filter(stock=stock, status="open").count() == 1
    assert LowStockAlert.objects.filter(stock=stock).count() == 2


def test_database_allows_only_one_open_alert_per_row(store_a, sku):
    services.receive_stock(store_a, sku, 1)
    stock = row(store_a, sku)
    LowStockAlert.objects.create(stock=stock, available_at_open=1, threshold=5)
    with pytest.raises(IntegrityError), transaction.atomic():
        LowStockAlert.objects.create(stock=stock, available_at_open=1, threshold=5)
    LowStockAlert.objects.create(stock=stock, available_at_open=1, threshold=5, status="closed")


def test_no_alert_and_no_notice_when_the_change_rolls_back(store_a, sku, manager_a,
                                                            django_capture_on_commit_callbacks):
    services.receive_stock(store_a, sku, 6)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        with pytest.raises(RuntimeError), transaction.atomic():
            services.reserve_lines(store_a, [(sku, 3)], reference="order:1")
            raise RuntimeError
    assert callbacks == []
    assert not LowStockAlert.objects.exists()


def test_notify_reaches_that_stores_managers_and_clerks_by_default(store_a, store_b, sku, manager_a, clerk_a,
                                                                   clerk_b, django_capture_on_commit_callbacks):
    other_manager = make_staff(store_b, role=StoreStaff.Role.MANAGER)
    services.receive_stock(store_a, sku, 6)
    with django_capture_on_commit_callbacks(execute=True):
        services.reserve_lines(store_a, [(sku, 3)], reference="order:1")
    assert set(StoreNotification.objects.values_list("user", flat=True)) == {manager_a.pk, clerk_a.pk}
    assert not StoreNotification.objects.filter(user__in=[clerk_b, other_manager]).exists()


def test_notify_is_idempotent_and_reaches_only_that_stores_managers(store_a, store_b, sku, manager_a, settings,
                                                                    clerk_a, django_capture_on_commit_callbacks):
    settings.LOW_STOCK_NOTIFY_ROLES = ["manager", "nonsense"]  # per role; an unknown role is ignored
    other_manager = make_staff(store_b, role=StoreStaff.Role.MANAGER)
    services.receive_stock(store_a, sku, 6)
    with django_capture_on_commit_callbacks(execute=True):
        services.reserve_lines(store_a, [(sku, 3)], reference="order:1")
    alert = LowStockAlert.objects.get()
    assert services.notify_low_stock(alert.pk) == 0  # already done by the task
    assert list(StoreNotification.objects.values_list("user", flat=True)) == [manager_a.pk]
    assert not StoreNotification.objects.filter(user__in=[clerk_a, other_manager]).exists()


def test_notifier_backends_are_called(store_a, sku, manager_a, settings, django_capture_on_commit_callbacks):
    sent = []

    class Recorder:
        def send(self, users, subject, body, *, kind):
            sent.append(([u.pk for u in users], kind))
            return len(users)

    import sys
    import types

    module = types.ModuleType("tests_stores_recorder")
    module.Recorder = Recorder
    sys.modules["tests_stores_recorder"] = module
    settings.NOTIFIER_BACKENDS = ["tests_stores_recorder.Recorder", "core.notify.LogNotifier"]
    services.receive_stock(store_a, sku, 6)
    with django_capture_on_commit_callbacks(execute=True):
        services.reserve_lines(store_a, [(sku, 2)], reference="order:1")
    assert sent == [([manager_a.pk], "low_stock")]


def test_sweep_opens_missing_alerts_and_closes_stale_ones(store_a, sku, django_capture_on_commit_callbacks):
    services.receive_stock(store_a, sku, 2)  # born low: no crossing, so no alert yet
    other = make_sku()
    services.receive_stock(store_a, other, 50)
    stock, other_stock = row(store_a, sku), row(store_a, other)
    LowStockAlert.objects.create(stock=other_stock, available_at_open=1, threshold=5)  # stale
    with django_capture_on_commit_callbacks(execute=True):
        opened, closed = services.sweep_low_stock()
    assert (opened, closed) == (1, 1)
    assert LowStockAlert.objects.get(stock=stock).status == "open"
    assert services.sweep_low_stock() == (0, 0)


def test_raising_the_threshold_opens_an_alert_and_lowering_closes_it(store_a, sku):
    services.receive_stock(store_a, sku, 10)
    stock = row(store_a, sku)
    services.set_threshold(stock, 20)
    assert LowStockAlert.objects.filter(stock=stock, status="open").count() == 1
    services.set_threshold(stock, 3)
    assert not LowStockAlert.objects.filter(stock=stock, status="open").exists()


# --- transfers ------------------------------------------------------------------------------------
def test_transfer_moves_stock_and_records_the_shortage(store_a, store_b, sku, clerk_a, clerk_b):
    services.receive_stock(store_a, sku, 10)
    transfer = services.create_transfer(store_a, store_b, [(sku, 6)], by=clerk_a)
    assert row(store_a, sku).on_hand == 10  # a draft moves nothing
    services.dispatch_transfer(transfer, by=clerk_a)
    assert row(store_a, sku).on_hand == 4
    line = transfer.lines.get()
    services.receive_transfer(transfer, {line.pk: 5}, by=clerk_b, note="一件破损")
    line.refresh_from_db()
    assert (line.quantity_received, line.shortage) == (5, 1)
    assert row(store_b, sku).on_hand == 5
    transfer.refresh_from_db()
    assert transfer.status == Transfer.Status.RECEIVED
    assert list(transfer.events.values_list("status", flat=True)) == ["draft", "dispatched", "received"]
    assert "一件破损" in transfer.events.last().note
    assert ledger_matches(row(store_a, sku)) and ledger_matches(row(store_b, sku))


def test_cancelling_a_dispatched_transfer_returns_the_stock(store_a, store_b, sku, clerk_a):
    services.receive_stock(store_a, sku, 10)
    transfer = services.create_transfer(store_a, store_b, [(sku, 4)], by=clerk_a)
    services.dispatch_transfer(transfer, by=clerk_a)
    services.cancel_transfer(transfer, by=clerk_a)
    assert row(store_a, sku).on_hand == 10
    assert not Stock.objects.filter(store=store_b).exists()
    with pytest.raises(TransferError) as info:
        services.dispatch_transfer(transfer, by=clerk_a)
    assert info.value.code == "invalid_transition"


def test_transfer_bad_input(store_a, store_b, sku, clerk_a, clerk_b):
    services.receive_stock(store_a, sku, 3)
    with pytest.raises(TransferError) as info:
        services.create_transfer(store_a, store_a, [(sku, 1)], by=clerk_a)
    assert info.value.code == "same_store"
    with pytest.raises(TransferError):
        services.create_transfer(store_a, store_b, [(sku, -1)], by=clerk_a)
    with pytest.raises(TransferError):
        services.create_transfer(store_a, store_b, [], by=clerk_a)
    with pytest.raises(TransferError) as info:
        services.create_transfer(store_b, store_a, [(sku, 1)], by=clerk_a)  # not their source store
    assert info.value.code == "wrong_store"
    assert not Transfer.objects.exists()

    transfer = services.create_transfer(store_a, store_b, [(sku, 5)], by=clerk_a)
    with pytest.raises(StockError):  # only 3 on hand
        services.dispatch_transfer(transfer, by=clerk_a)
    transfer.refresh_from_db()
    assert transfer.status == "draft" and row(store_a, sku).on_hand == 3
    with pytest.raises(TransferError) as info:
        services.dispatch_transfer(transfer, by=clerk_b)  # the destination cannot dispatch
    assert info.value.code == "wrong_store"

    services.receive_stock(store_a, sku, 2)
    services.dispatch_transfer(transfer, by=clerk_a)
    line = transfer.lines.get()
    with pytest.raises(TransferError) as info:
        services.receive_transfer(transfer, {line.pk: 6}, by=clerk_b)
    assert info.value.code == "over_receive"
    with pytest.raises(TransferError):
        services.receive_transfer(transfer, {line.pk: -1}, by=clerk_b)
    with pytest.raises(TransferError) as info:
        services.receive_transfer(transfer, by=clerk_a)  # the source cannot receive
    assert info.value.code == "wrong_store"
    transfer.refresh_from_db()
    assert transfer.status == "dispatched"
    assert not Stock.objects.filter(store=store_b).exists()


# --- stores ---------------------------------------------------------------------------------------
def test_store_without_history_is_deleted_with_history_is_archived(store_a, store_b, sku):
    assert services.delete_or_archive_store(store_b) == "deleted"
    assert not Store.objects.filter(pk=store_b.pk).exists()
    services.receive_stock(store_a, sku, 1)
    assert services.delete_or_archive_store(store_a) == "archived"
    store_a.refresh_from_db()
    assert store_a.is_archived and store_a.status == "closed"
    assert row(store_a, sku).movements.count() == 1


def test_check_stock_passes_then_names_the_tampered_row(store_a, sku, capsys):
    services.receive_stock(store_a, sku, 4)
    call_command("check_stock")
    Stock.objects.filter(store=store_a).update(on_hand=9)  # a write that bypassed the services
    from django.core.management.base import CommandError

    with pytest.raises(CommandError):
        call_command("check_stock")
    assert sku.code in capsys.readouterr().err


def test_seed_demo_is_idempotent_with_an_empty_catalogue(db):
    from stores import demo

    lines = []
    first = demo.seed(lines.append)
    assert first > 0 and Store.objects.count() >= 8
    assert demo.seed(lines.append) == 0
    assert any("store_manager" in line for line in lines)


def test_seed_demo_stocks_the_catalogue_through_the_ledger(db):
    from stores import demo

    for _ in range(3):
        make_sku()
    demo.seed(lambda line: None)
    assert Stock.objects.count() == 3 * (len(demo.STORES) - len(demo.EMPTY_STORES))
    assert services.ledger_mismatches() == []
    assert len({c for c in Store.objects.values_list("city", flat=True)}) >= 2


def test_a_notice_lost_on_the_way_is_sent_by_the_sweep(store_a, sku, manager_a, monkeypatch,
                                                       django_capture_on_commit_callbacks):
    from datetime import timedelta

    from django.utils import timezone

    from stores import tasks

    def broker_down(*args, **kwargs):
        raise ConnectionError("broker down")

    services.receive_stock(store_a, sku, 6)
    monkeypatch.setattr(tasks.notify_low_stock, "delay", broker_down)
    with django_capture_on_commit_callbacks(execute=True):
        services.reserve_lines(store_a, [(sku, 3)], reference="order:1")  # the change commits although the notice failed
    alert = LowStockAlert.objects.get()
    assert alert.notified_at is None and row(store_a, sku).reserved == 3
    monkeypatch.undo()
    LowStockAlert.objects.filter(pk=alert.pk).update(opened_at=timezone.now() - timedelta(minutes=10))
    with django_capture_on_commit_callbacks(execute=True):
        services.sweep_low_stock()
    alert.refresh_from_db()
    assert alert.notified_at is not None
    assert StoreNotification.objects.filter(user=manager_a).count() == 1


def test_the_same_reservation_retried_reserves_once(store_a, sku):
    services.receive_stock(store_a, sku, 5)
    first = services.reserve_lines(store_a, [(sku, 2)], reference="order:7")
    again = services.reserve_lines(store_a, [(sku, 2)], reference="order:7")
    assert [r.pk for r in again] == [r.pk for r in first]
    stock = Stock.objects.get(store=store_a, sku=sku)
    assert (stock.on_hand, stock.reserved) == (5, 2)
    assert services.sell_reserved("order:7") == 2
    assert services.sell_reserved("order:7") == 0  # a second "paid" notice
    stock.refresh_from_db()
    assert (stock.on_hand, stock.reserved) == (3, 0)
    assert ledger_matches(stock)


def test_receipts_with_the_same_reference_are_not_merged(store_a, sku):
    # a purchase order may arrive in two deliveries: receiving is not deduplicated
    services.receive_stock(store_a, sku, 3, reference="PO-1")
    services.receive_stock(store_a, sku, 4, reference="PO-1")
    assert Stock.objects.get(store=store_a, sku=sku).on_hand == 7


def test_a_message_lost_when_the_worker_died_while_sending_is_sent_again_by_the_sweep(
    store_a, sku, manager_a, monkeypatch, notices, django_capture_on_commit_callbacks
):
    from datetime import timedelta

    from django.utils import timezone

    class WorkerDied(BaseException):
        pass

    def die(*args, **kwargs):
        raise WorkerDied

    services.receive_stock(store_a, sku, 6)
    monkeypatch.setattr("core.notify.notify", die)
    with pytest.raises(WorkerDied), django_capture_on_commit_callbacks(execute=True):
        services.reserve_lines(store_a, [(sku, 3)], reference="order:1")  # the task runs eagerly and dies in the send
    alert = LowStockAlert.objects.get()
    assert alert.notified_at is not None and alert.messaged_at is None  # back office told, message not
    assert StoreNotification.objects.filter(user=manager_a).count() == 1
    monkeypatch.undo()
    LowStockAlert.objects.filter(pk=alert.pk).update(opened_at=timezone.now() - timedelta(minutes=10))
    with django_capture_on_commit_callbacks(execute=True):
        services.sweep_low_stock()
    alert.refresh_from_db()
    assert alert.messaged_at is not None and [(n[0], n[3]) for n in notices] == [(manager_a.pk, "low_stock")]
    assert StoreNotification.objects.filter(user=manager_a).count() == 1  # not a second one
    with django_capture_on_commit_callbacks(execute=True):
        services.sweep_low_stock()
    assert services.notify_low_stock(alert.pk) == 0 and len(notices) == 1  # recorded: never again


def test_seed_demo_leaves_a_days_paperwork_at_the_demo_store_once(db):
    from stores import demo
    from stores.models import StockDocument, Transfer

    for _ in range(8):
        make_sku()
    demo.seed(lambda line: None)
    home = Store.objects.get(code=demo.DEMO_MANAGER["store"])
    documents = StockDocument.objects.filter(store=home)
    assert {(d.kind, d.state) for d in documents} == {("receipt", "posted"), ("stocktake", "draft")}
    counted = documents.get(kind="stocktake").lines.exclude(counted=None)
    assert counted.count() == 2
    transfers = Transfer.objects.filter(destination=home).order_by("pk")
    assert [(t.status, t.difference_status, t.short_quantity) for t in transfers] == [
        ("dispatched", "", 0), ("received", "open", 1)]
    assert services.ledger_mismatches() == []
    # a second seed makes none of it again
    assert demo.seed(lambda line: None) == 0
    assert StockDocument.objects.count() == 2 and Transfer.objects.count() == 2
