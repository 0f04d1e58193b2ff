"""Stock documents under real concurrency on PostgreSQL: threads with their own connections."""

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connections

from stores import documents, services
from stores.errors import StockError
from stores.models import Stock, StockDocument, StockMovement, StoreStaff

from .conftest import make_hq, make_sku, make_staff, make_store

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def together(*works):
    """Run each callable in its own thread, all released at once by a barrier; their results."""
    barrier = threading.Barrier(len(works))

    def run(work):
        try:
            barrier.wait(timeout=10)
            return work()
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=len(works)) as pool:
        return [future.result() for future in [pool.submit(run, work) for work in works]]


def test_two_tabs_posting_the_same_receipt_post_it_once(db):
    store, sku = make_store(), make_sku()
    hq = make_hq("hq_race")
    doc = documents.create_document(store, "receipt", by=hq)
    documents.set_line(doc, sku, 5, by=hq)
    for _round in range(3):
        results = together(*[lambda: documents.post_document(doc.pk, by=hq)[1] for _ in range(4)])
        assert sorted(results) == [False, False, False, True] or results == [False] * 4
    assert Stock.objects.get(store=store, sku=sku).on_hand == 5
    assert StockMovement.objects.filter(reference=f"doc:{doc.number}").count() == 1
    assert StockDocument.objects.get(pk=doc.pk).events.filter(action="posted").count() == 1
    assert services.ledger_mismatches() == []


def test_a_sale_reserving_while_a_stocktake_posts_loses_no_unit(db):
    store = make_store()
    tea, cup = make_sku("茶"), make_sku("杯")
    services.receive_stock(store, tea, 20)
    services.receive_stock(store, cup, 20)
    manager = make_staff(store, role=StoreStaff.Role.MANAGER, username="mgr_race")
    for round_no in range(5):
        sheet = documents.create_document(store, "stocktake", by=manager)
        counted_tea = Stock.objects.get(store=store, sku=tea).on_hand - 1  # one tea missing on the shelf
        documents.record_count(sheet, tea, counted_tea, by=manager)
        documents.record_count(sheet, cup, Stock.objects.get(store=store, sku=cup).on_hand + 2, by=manager)

        def sell(round_no=round_no):
            try:
                services.reserve_lines(store.pk, [(tea.pk, 1), (cup.pk, 1)], reference=f"order:r{round_no}")
                services.sell_reserved(f"order:r{round_no}")
                return "sold"
            except StockError:
                return "refused"

        before = {s.sku_id: s.on_hand for s in Stock.objects.filter(store=store)}
        post, sale = together(lambda sheet=sheet: documents.post_document(sheet.pk, by=manager)[1], sell)
        assert post is True and sale == "sold"
        after = {s.sku_id: s.on_hand for s in Stock.objects.filter(store=store)}
        # the variance (-1 tea, +2 cup) and the sale (-1 each) both landed, whichever went first
        assert after == {tea.pk: before[tea.pk] - 2, cup.pk: before[cup.pk] + 1}
    assert services.ledger_mismatches() == []


def test_hq_settling_a_transfer_difference_in_four_tabs_at_once_settles_it_once(db):
    from stores.models import Transfer
    from stores.transfer_differences import resolve_difference

    source, destination, sku = make_store(), make_store(), make_sku("差异")
    services.receive_stock(source, sku, 10)
    transfer = services.create_transfer(source, destination, [(sku, 6)])
    services.dispatch_transfer(transfer)
    line = transfer.lines.get()
    services.receive_transfer(transfer, {line.pk: 4})
    hq = make_hq("hq_diff_race")
    results = together(*[lambda: resolve_difference(transfer.pk, {line.pk: "returned"}, by=hq, reason="找到了")
                         for _ in range(4)])
    assert sorted(results) == [0, 0, 0, 1]
    assert Stock.objects.get(store=source, sku=sku).on_hand == 10 - 6 + 2
    assert StockMovement.objects.filter(reference=f"transfer:{transfer.pk}:difference:{line.pk}").count() == 1
    assert Transfer.objects.get(pk=transfer.pk).events.filter(status="resolved").count() == 1
    assert services.ledger_mismatches() == []
