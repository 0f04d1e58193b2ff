"""stores/migrations/0005: references that reserved under the old pool API get their reservation
rows from the ledger alone; one whose movements do not add up gets none (check_stock shows it)."""

import importlib

import pytest
from django.apps import apps

from stores import services
from stores.models import Stock, StockMovement, StockReservation

from .conftest import make_sku

pytestmark = pytest.mark.django_db

backfill = importlib.import_module("stores.migrations.0005_backfill_stock_reservations").backfill


def old_movement(stock, reason, reference, *, on_hand=0, reserved=0):
    """A movement as the old reserve_stock / release_stock / commit_sale wrote it (row and ledger)."""
    Stock.objects.filter(pk=stock.pk).update(on_hand=stock.on_hand + on_hand, reserved=stock.reserved + reserved)
    stock.refresh_from_db()
    StockMovement.objects.create(stock=stock, reason=reason, quantity=on_hand, reserved_delta=reserved,
                                 on_hand_after=stock.on_hand, reserved_after=stock.reserved, reference=reference)


def test_old_reservations_get_their_rows_and_the_ledger_check_agrees(store_a):
    sku, other = make_sku(), make_sku()
    services.receive_stock(store_a, sku, 10)
    services.receive_stock(store_a, other, 10)
    stock, other_stock = Stock.objects.get(sku=sku), Stock.objects.get(sku=other)
    old_movement(stock, "reserve", "mall:1", reserved=2)  # still awaiting pickup
    old_movement(stock, "reserve", "mall:2", reserved=1)  # picked up
    old_movement(stock, "sale", "mall:2", on_hand=-1, reserved=-1)
    old_movement(stock, "reserve", "mall:3", reserved=1)  # cancelled
    old_movement(stock, "release", "mall:3", reserved=-1)
    old_movement(other_stock, "reserve", "order:9", reserved=3)  # part sold, part released
    old_movement(other_stock, "sale", "order:9", on_hand=-1, reserved=-1)
    old_movement(other_stock, "release", "order:9", reserved=-2)

    backfill(apps, None)

    rows = {
        (r.stock_id, r.reference): (r.quantity, r.sold, r.released, r.state)
        for r in StockReservation.objects.all()
    }
    assert rows == {
        (stock.pk, "mall:1"): (2, 0, 0, "held"),
        (stock.pk, "mall:2"): (1, 1, 0, "sold"),
        (stock.pk, "mall:3"): (1, 0, 1, "released"),
        (other_stock.pk, "order:9"): (3, 1, 2, "closed"),
    }
    assert services.ledger_mismatches() == []
    # and the new API takes over: the held exchange is sold by its reference
    assert services.sell_reserved("mall:1") == 2


def test_a_reference_that_took_another_ones_units_gets_no_row_and_check_stock_shows_it(store_a):
    sku = make_sku()
    services.receive_stock(store_a, sku, 10)
    stock = Stock.objects.get(sku=sku)
    old_movement(stock, "reserve", "order:1", reserved=2)
    old_movement(stock, "release", "by-hand", reserved=-1)  # the old pool let anyone release

    backfill(apps, None)

    assert list(StockReservation.objects.values_list("reference", "quantity")) == [("order:1", 2)]
    ((row, _on_hand, _reserved, held),) = services.ledger_mismatches()
    assert (row.pk, row.reserved, held) == (stock.pk, 1, 2)
