"""Many real threads, each with its own PostgreSQL connection, race for the same stock row."""

import random
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection, connections
from django.db.models import Sum

from stores import services
from stores.errors import InsufficientStock, StockError
from stores.models import LowStockAlert, Stock, StockReservation

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
            services.reserve_lines(store.pk, [(sku.pk, 1)], reference=f"order:{i}")
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
                services.reserve_lines(store.pk, [(sku.pk, 2)], reference=f"order:{i}")
                services.sell_reserved(f"order:{i}")
            elif kind == 1:
                services.adjust_stock(stock_id, 3, reason="盘盈")
            elif kind == 2:
                services.reserve_lines(store.pk, [(sku.pk, 1)], reference=f"order:{i}")
                services.release_reserved(f"order:{i}")
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
                services.reserve_lines(source.pk, [(sku.pk, 1)], reference=f"order:{i}")
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
        return tuple(r.pk for r in services.reserve_lines(store.pk, [(sku.pk, 3)], reference="order:42"))

    reservation_ids = run_parallel(20, retry)
    stock = Stock.objects.get(store=store, sku=sku)
    assert len(set(reservation_ids)) == 1 and len(reservation_ids[0]) == 1
    assert stock.movements.filter(reason="reserve").count() == 1
    assert (stock.on_hand, stock.reserved) == (10, 3)
    assert ledger(stock) == {"q": 10, "r": 3}


def held_per_row():
    rows = {}
    for reservation in StockReservation.objects.all():
        rows[reservation.stock_id] = rows.get(reservation.stock_id, 0) + reservation.held
    return rows


def test_thirty_baskets_over_overlapping_skus_never_oversell_nor_deadlock(db):
    """Each buyer reserves 2-4 lines out of 6 shared SKUs, listed in a random order; there are
    fewer units than asked for. A deadlock would surface as an error here, not a refusal."""
    store = make_store()
    skus = [make_sku() for _ in range(6)]
    for sku in skus:
        services.receive_stock(store, sku, 12)
    baskets = []
    for i in range(30):
        rng = random.Random(i)
        chosen = rng.sample(skus, rng.randint(2, 4))
        baskets.append([(sku.pk, rng.randint(1, 3)) for sku in chosen])  # rng.sample: a random order

    def buy(i):
        try:
            services.reserve_lines(store.pk, baskets[i], reference=f"order:{i}")
            return "ok"
        except InsufficientStock as error:
            assert error.short  # every refusal names its short lines
            return "short"

    results = run_parallel(30, buy, workers=30)
    assert set(results) <= {"ok", "short"} and "short" in results and "ok" in results
    won = [i for i, result in enumerate(results) if result == "ok"]
    for sku in skus:
        row = Stock.objects.get(store=store, sku=sku)
        expected = sum(q for i in won for sku_id, q in baskets[i] if sku_id == sku.pk)
        assert row.reserved == expected <= row.on_hand == 12  # no oversell, no lost update
    # a refused basket left no reservation at all; a winning one has one row per line
    references = set(StockReservation.objects.values_list("reference", flat=True))
    assert references == {f"order:{i}" for i in won}
    assert StockReservation.objects.count() == sum(len(baskets[i]) for i in won)
    assert held_per_row() == dict(Stock.objects.filter(reserved__gt=0).values_list("pk", "reserved"))
    assert services.ledger_mismatches() == []


def test_release_and_sale_of_the_same_reference_racing_change_the_units_once(db):
    store, sku = make_store(), make_sku()
    services.receive_stock(store, sku, 10)
    services.reserve_lines(store, [(sku, 3)], reference="order:1")

    def work(i):
        return ("sell", services.sell_reserved("order:1")) if i % 2 else ("release", services.release_reserved("order:1"))

    results = run_parallel(20, work)
    winners = [(kind, units) for kind, units in results if units]
    assert len(winners) == 1 and winners[0][1] == 3
    row = Stock.objects.get(store=store, sku=sku)
    reservation = StockReservation.objects.get()
    if winners[0][0] == "sell":
        assert (row.on_hand, row.reserved, reservation.state) == (7, 0, "sold")
    else:
        assert (row.on_hand, row.reserved, reservation.state) == (10, 0, "released")
    assert row.movements.filter(reason__in=["sale", "release"]).count() == 1
    assert services.ledger_mismatches() == []


def test_one_partial_step_sent_by_many_workers_at_once_changes_once(db):
    store, sku = make_store(), make_sku()
    services.receive_stock(store, sku, 10)
    services.reserve_lines(store, [(sku, 5)], reference="order:1")
    results = run_parallel(
        16, lambda i: services.release_reserved("order:1", quantities={sku.pk: 2}, step="refund:7")
    )
    assert sorted(results) == [0] * 15 + [2]
    row = Stock.objects.get(store=store, sku=sku)
    assert (row.on_hand, row.reserved, StockReservation.objects.get().held) == (10, 3, 3)
    assert services.ledger_mismatches() == []


def test_two_orders_selling_from_one_row_each_take_only_their_own_units(db):
    store, sku = make_store(), make_sku()
    services.receive_stock(store, sku, 20)
    for n in range(10):
        services.reserve_lines(store, [(sku, 2)], reference=f"order:{n}")

    def work(i):
        # every order sells once and, at the same time, a wrong-sized partial sale is tried
        if i < 10:
            return services.sell_reserved(f"order:{i}")
        try:
            return services.sell_reserved(f"order:{i - 10}", quantities={sku.pk: 3}, step="ship:1")
        except StockError as error:
            return error.code

    results = run_parallel(20, work, workers=20)
    assert results[:10] == [2] * 10
    assert results[10:] == ["insufficient_reserved"] * 10
    row = Stock.objects.get(store=store, sku=sku)
    assert (row.on_hand, row.reserved) == (0, 0)
    assert services.ledger_mismatches() == []
