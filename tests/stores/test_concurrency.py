"""Many real threads, each with its own PostgreSQL connection, race for the same stock row."""

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection, connections
from django.db.models import Sum

from stores import services
from stores.errors import StockError
from stores.models import LowStockAlert, Stock

from .conftest import make_sku, make_store

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def run_parallel(n, work, workers=25):
    barrier = threading.Barrier(min(n, workers))

    def one(i):
        try:
            if i < workers:
                barrier.wait(timeout=10)
            return work(i)
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(one, range(n)))


def ledger(stock):
    return stock.movements.aggregate(q=Sum("quantity"), r=Sum("reserved_delta"))


def test_fifty_buyers_for_ten_units_exactly_ten_win(db):
    store, sku = make_store(), make_sku()
    services.receive_stock(store, sku, 10)

    def buy(i):
        try:
            services.reserve_stock(store.pk, sku.pk, 1, reference=f"order:{i}")
            return True
        except StockError:
            return False

    results = run_parallel(50, buy)
    stock = Stock.objects.get(store=store, sku=sku)
    assert results.count(True) == 10
    assert (stock.on_hand, stock.reserved) == (10, 10)
    assert ledger(stock) == {"q": 10, "r": 10}
    assert stock.movements.filter(reason="reserve").count() == 10
    # the fall under the threshold raised exactly one alert
    assert LowStockAlert.objects.filter(stock=stock, status="open").count() == 1


def test_reservations_racing_with_adjustments_and_sales_lose_no_update(db):
    store, sku = make_store(), make_sku()
    services.receive_stock(store, sku, 100)
    stock_id = Stock.objects.get(store=store, sku=sku).pk

    def work(i):
        kind = i % 4
        try:
            if kind == 0:
                services.reserve_stock(store.pk, sku.pk, 2, reference=f"o{i}")
                services.commit_sale(store.pk, sku.pk, 2, reference=f"o{i}")
            elif kind == 1:
                services.adjust_stock(stock_id, 3, reason="盘盈")
            elif kind == 2:
                services.reserve_stock(store.pk, sku.pk, 1, reference=f"o{i}")
                services.release_stock(store.pk, sku.pk, 1, reference=f"o{i}")
            else:
                services.receive_stock(store.pk, sku.pk, 1)
        except StockError:
            return "refused"
        return "ok"

    results = run_parallel(80, work)
    assert "refused" not in results
    stock = Stock.objects.get(pk=stock_id)
    # 20 sales of 2, 20 adjustments of +3, 20 reserve+release, 20 receipts of 1
    assert stock.on_hand == 100 - 40 + 60 + 20
    assert stock.reserved == 0
    assert ledger(stock) == {"q": stock.on_hand, "r": 0}
    assert services.ledger_mismatches() == []


def test_transfer_dispatch_racing_with_buyers_never_oversells(db):
    source, destination, sku = make_store(), make_store(), make_sku()
    services.receive_stock(source, sku, 20)
    transfer = services.create_transfer(source, destination, [(sku, 15)])

    def work(i):
        try:
            if i == 0:
                services.dispatch_transfer(transfer)
            else:
                services.reserve_stock(source.pk, sku.pk, 1, reference=f"o{i}")
            return "ok"
        except StockError:
            return "refused"

    results = run_parallel(30, work)
    stock = Stock.objects.get(store=source, sku=sku)
    assert 0 <= stock.reserved <= stock.on_hand
    transfer.refresh_from_db()
    dispatched = transfer.status == "dispatched"
    reserved_ok = results[1:].count("ok")
    assert stock.on_hand == 20 - (15 if dispatched else 0)
    assert stock.reserved == reserved_ok
    assert reserved_ok + (15 if dispatched else 0) <= 20
    assert ledger(stock) == {"q": stock.on_hand, "r": stock.reserved}


def test_same_transfer_received_twice_concurrently_moves_stock_once(db):
    source, destination, sku = make_store(), make_store(), make_sku()
    services.receive_stock(source, sku, 5)
    transfer = services.create_transfer(source, destination, [(sku, 5)])
    services.dispatch_transfer(transfer)
    from stores.errors import TransferError
    from stores.models import Transfer

    def work(i):
        try:
            services.receive_transfer(Transfer.objects.get(pk=transfer.pk))
            return "ok"
        except TransferError:
            return "refused"

    results = run_parallel(8, work)
    assert results.count("ok") == 1
    assert Stock.objects.get(store=destination, sku=sku).on_hand == 5
    assert connection.vendor == "postgresql"


def test_one_reservation_sent_by_many_workers_at_once_reserves_once(db):
    store, sku = make_store(), make_sku()
    services.receive_stock(store, sku, 10)

    def retry(i):
        return services.reserve_stock(store.pk, sku.pk, 3, reference="order:42:line:1").pk

    movement_ids = run_parallel(20, retry)
    stock = Stock.objects.get(store=store, sku=sku)
    assert len(set(movement_ids)) == 1
    assert (stock.on_hand, stock.reserved) == (10, 3)
    assert ledger(stock) == {"q": 10, "r": 3}
