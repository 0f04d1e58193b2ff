"""Reservations belong to their reference: reserve a basket all or nothing, release or sell only
what that reference holds, idempotent retries, and the ledger check that ties reserved to the
reservations."""

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import IntegrityError, transaction
from django.db.models import Sum

from stores import services
from stores.errors import InsufficientStock, StockError
from stores.models import LowStockAlert, Stock, StockMovement, StockReservation
from stores.selectors import reservations_for

from .conftest import make_sku

pytestmark = pytest.mark.django_db
State = StockReservation.State


def snapshot():
    """Everything a reservation call may touch."""
    return {
        "stock": sorted(Stock.objects.values_list("pk", "on_hand", "reserved")),
        "movements": sorted(StockMovement.objects.values_list("pk", "reason", "reference")),
        "reservations": sorted(
            StockReservation.objects.values_list("pk", "reference", "quantity", "sold", "released", "state")
        ),
        "alerts": sorted(LowStockAlert.objects.values_list("pk", "status")),
    }


def refused(call, code):
    """Run `call`, expect a StockError with `code`, and prove nothing changed."""
    before = snapshot()
    with pytest.raises(StockError) as info:
        call()
    assert info.value.code == code, info.value
    assert snapshot() == before
    return info.value


def stock(store, sku):
    return Stock.objects.get(store=store, sku=sku)


def held_by(reference):
    return {r.stock.sku_id: r.held for r in reservations_for(reference)}


@pytest.fixture
def three(store_a):
    """Three SKUs in store A with 10, 10 and 2 units."""
    skus = [make_sku("红茶"), make_sku("绿茶"), make_sku("白茶")]
    for sku, quantity in zip(skus, (10, 10, 2), strict=True):
        services.receive_stock(store_a, sku, quantity)
    return skus


# --- reserving a basket -------------------------------------------------------------------------
# new_reference=True (an order made in this transaction): on PostgreSQL the lock, the check and the
# reservation are one statement; it must keep every promise of the general path
@pytest.mark.parametrize("new_reference", [False, True], ids=["general", "new_reference"])
def test_a_basket_is_reserved_with_one_reservation_per_line(store_a, three, new_reference):
    red, green, white = three
    made = services.reserve_lines(store_a, [(green, 3), (red.pk, 2), (white, "2")], reference="order:1",
                                  new_reference=new_reference)
    assert [(r.stock.sku_id, r.quantity, r.held, r.state) for r in made] == [
        (red.pk, 2, 2, State.HELD), (green.pk, 3, 3, State.HELD), (white.pk, 2, 2, State.HELD),
    ]
    assert [(stock(store_a, s).reserved, stock(store_a, s).on_hand) for s in three] == [(2, 10), (3, 10), (2, 2)]
    movements = StockMovement.objects.filter(reason="reserve", reference="order:1")
    assert sorted(movements.values_list("stock__sku_id", "reserved_delta")) == [(red.pk, 2), (green.pk, 3), (white.pk, 2)]
    assert services.ledger_mismatches() == []


@pytest.mark.parametrize("new_reference", [False, True], ids=["general", "new_reference"])
def test_a_short_basket_changes_nothing_and_names_every_short_line(store_a, three, new_reference):
    red, green, white = three
    absent = make_sku("没有库存行的茶")
    services.reserve_lines(store_a, [(green, 8)], reference="order:0")
    error = refused(
        lambda: services.reserve_lines(
            store_a, [(absent, 1), (red, 1), (green, 5), (white, 3)], reference="order:1",
            new_reference=new_reference,
        ),
        "insufficient_stock",
    )
    assert isinstance(error, InsufficientStock)
    assert error.short == [
        {"sku_id": green.pk, "requested": 5, "available": 2},
        {"sku_id": white.pk, "requested": 3, "available": 2},
        {"sku_id": absent.pk, "requested": 1, "available": 0},
    ]
    message = str(error)
    for name in ("绿茶", "白茶", "没有库存行的茶"):
        assert name in message
    assert "红茶" not in message  # only the short lines are named
    assert not StockReservation.objects.filter(reference="order:1").exists()


@pytest.mark.parametrize("new_reference", [False, True], ids=["general", "new_reference"])
def test_duplicate_skus_are_merged_into_one_reservation(store_a, three, new_reference):
    red, _green, _white = three
    made = services.reserve_lines(store_a, [(red, 2), (red.pk, 3)], reference="order:1",
                                  new_reference=new_reference)
    assert [(r.stock.sku_id, r.quantity) for r in made] == [(red.pk, 5)]
    assert stock(store_a, red).reserved == 5
    # merged lines are checked as their sum
    refused(lambda: services.reserve_lines(store_a, [(red, 3), (red, 3)], reference="order:2"), "insufficient_stock")


def test_the_same_reference_and_lines_retried_reserve_once(store_a, three):
    red, green, _white = three
    first = services.reserve_lines(store_a, [(red, 2), (green, 1)], reference="order:1")
    before = snapshot()
    again = services.reserve_lines(store_a, [(green.pk, 1), (red.pk, 2)], reference="order:1")
    assert [r.pk for r in again] == [r.pk for r in first]
    assert snapshot() == before
    # still the same after the goods were sold: a late retry never reserves anew
    services.sell_reserved("order:1")
    before = snapshot()
    assert [r.pk for r in services.reserve_lines(store_a, [(red, 2), (green, 1)], reference="order:1")] == [
        r.pk for r in first
    ]
    assert snapshot() == before


@pytest.mark.parametrize(
    "lines",
    [
        "more",  # another SKU added
        "less",  # a SKU left out
        "quantity",  # another quantity
        "store",  # the same lines in another store
    ],
)
def test_the_same_reference_with_other_lines_is_refused(store_a, store_b, three, lines):
    red, green, _white = three
    services.receive_stock(store_b, red, 5)
    services.reserve_lines(store_a, [(red, 2), (green, 1)], reference="order:1")
    other = {
        "more": (store_a, [(red, 2), (green, 1), (three[2], 1)]),
        "less": (store_a, [(red, 2)]),
        "quantity": (store_a, [(red, 3), (green, 1)]),
        "store": (store_b, [(red, 2), (green, 1)]),
    }[lines]
    refused(lambda: services.reserve_lines(*other, reference="order:1"), "reference_mismatch")


@pytest.mark.parametrize("bad", [0, -1, 1.5, True, False, "１", "²", "abc", "", " ", "1.0", None, 2**31, 10**20])
def test_bad_quantities_are_refused_and_change_nothing(store_a, three, bad):
    red, green, _white = three
    services.reserve_lines(store_a, [(red, 2)], reference="order:1")
    refused(lambda: services.reserve_lines(store_a, [(green, 1), (red, bad)], reference="order:2"), "invalid_quantity")
    refused(lambda: services.release_reserved("order:1", quantities={red.pk: bad}, step="refund:1"),
            "invalid_quantity")
    refused(lambda: services.sell_reserved("order:1", quantities={red.pk: bad}, step="ship:1"), "invalid_quantity")


def test_good_quantity_spellings_are_accepted(store_a, three):
    red, green, white = three
    services.reserve_lines(store_a, [(red, "3"), (green, 2.0), (white, " 1 ")], reference="order:1")
    assert held_by("order:1") == {red.pk: 3, green.pk: 2, white.pk: 1}


def test_the_largest_quantity_is_checked_against_stock_not_refused_as_malformed(store_a, three):
    red = three[0]
    refused(lambda: services.reserve_lines(store_a, [(red, 2**31 - 1)], reference="order:1"), "insufficient_stock")


@pytest.mark.parametrize("reference", ["", " ", "order:1 ", "order:\x001", "a" * 65, None, 12])
def test_a_missing_or_malformed_reference_is_refused(store_a, three, reference):
    red = three[0]
    refused(lambda: services.reserve_lines(store_a, [(red, 1)], reference=reference), "invalid_reference")
    refused(lambda: services.release_reserved(reference), "invalid_reference")
    refused(lambda: services.sell_reserved(reference), "invalid_reference")
    refused(lambda: services.return_stock(store_a, red, 1, reference=reference), "invalid_reference")


def test_bad_baskets_are_refused(store_a, three):
    red = three[0]
    refused(lambda: services.reserve_lines(store_a, [], reference="order:1"), "no_lines")
    refused(lambda: services.reserve_lines(store_a, [(red, 1, 2)], reference="order:1"), "invalid_quantity")
    refused(lambda: services.reserve_lines(store_a, [("x", 1)], reference="order:1"), "invalid_sku")
    refused(lambda: services.reserve_lines(store_a, [(True, 1)], reference="order:1"), "invalid_sku")


@pytest.mark.parametrize("new_reference", [False, True], ids=["general", "new_reference"])
def test_an_archived_store_reserves_nothing(store_a, three, new_reference):
    red = three[0]
    store_a.is_archived = True
    store_a.save(update_fields=["is_archived"])
    refused(lambda: services.reserve_lines(store_a, [(red, 1)], reference="order:1", new_reference=new_reference),
            "store_unavailable")


# --- releasing and selling act only on their own reference ------------------------------------
def test_releasing_one_order_never_touches_another_orders_hold(store_a, three):
    red, green, _white = three
    services.reserve_lines(store_a, [(red, 3), (green, 1)], reference="order:1")
    services.reserve_lines(store_a, [(red, 4)], reference="order:2")
    assert services.release_reserved("order:1") == 4
    assert held_by("order:1") == {red.pk: 0, green.pk: 0}
    assert held_by("order:2") == {red.pk: 4}
    assert stock(store_a, red).reserved == 4
    assert services.release_reserved("order:1") == 0  # nothing left: a retry changes nothing
    assert stock(store_a, red).reserved == 4
    # order:1 cannot take order:2's units, however many there are in the shared row
    refused(lambda: services.sell_reserved("order:1", quantities={red.pk: 1}, step="ship:1"), "insufficient_reserved")
    assert services.sell_reserved("order:2") == 4
    row = stock(store_a, red)
    assert (row.on_hand, row.reserved) == (6, 0)
    assert [r.state for r in reservations_for("order:1")] == [State.RELEASED, State.RELEASED]
    assert [r.state for r in reservations_for("order:2")] == [State.SOLD]
    assert services.ledger_mismatches() == []


def test_selling_more_than_the_reference_holds_is_refused(store_a, three):
    red, green, _white = three
    services.reserve_lines(store_a, [(red, 2), (green, 2)], reference="order:1")
    services.reserve_lines(store_a, [(red, 5)], reference="order:2")
    refused(lambda: services.sell_reserved("order:1", quantities={red.pk: 3}, step="ship:1"), "insufficient_reserved")
    # all or nothing: one line too many refuses the whole call
    refused(lambda: services.sell_reserved("order:1", quantities={red.pk: 1, green.pk: 3}, step="ship:1"),
            "insufficient_reserved")
    # a SKU the reference never reserved
    refused(lambda: services.release_reserved("order:1", quantities={three[2].pk: 1}, step="refund:1"),
            "insufficient_reserved")
    refused(lambda: services.release_reserved("order:404", quantities={red.pk: 1}, step="refund:1"),
            "insufficient_reserved")
    assert services.release_reserved("order:404") == 0


def test_partial_release_and_sale_with_steps_retried_change_once(store_a, three):
    red, green, _white = three
    services.reserve_lines(store_a, [(red, 5), (green, 2)], reference="order:9")
    assert services.release_reserved("order:9", quantities={red.pk: 1}, step="refund:12", note="退一件") == 1
    assert services.release_reserved("order:9", quantities={red: 1}, step="refund:12") == 0  # retried
    assert services.sell_reserved("order:9", quantities={red.pk: 2, green.pk: 1}, step="pickup:3") == 3
    assert services.sell_reserved("order:9", quantities={red.pk: 2, green.pk: 1}, step="pickup:3") == 0
    assert held_by("order:9") == {red.pk: 2, green.pk: 1}
    release = StockMovement.objects.get(reference="order:9:refund:12")
    assert (release.reason, release.reserved_delta, release.quantity, release.note) == ("release", -1, 0, "退一件")
    sales = StockMovement.objects.filter(reference="order:9:pickup:3", reason="sale")
    assert sorted(sales.values_list("stock__sku_id", "quantity", "reserved_delta")) == [
        (red.pk, -2, -2), (green.pk, -1, -1)
    ]
    # the same step with other quantities is a mistake, not a retry
    refused(lambda: services.release_reserved("order:9", quantities={red.pk: 2}, step="refund:12"),
            "reference_mismatch")
    # a new step is a new intent
    assert services.release_reserved("order:9", quantities={red.pk: 1}, step="refund:13") == 1
    # the rest goes at once; the rows end closed (partly sold, partly released)
    assert services.sell_reserved("order:9") == 2
    reservations = reservations_for("order:9")
    assert [(r.quantity, r.sold, r.released, r.state) for r in reservations] == [
        (5, 3, 2, State.CLOSED), (2, 2, 0, State.SOLD),
    ]
    assert [(stock(store_a, s).on_hand, stock(store_a, s).reserved) for s in (red, green)] == [(7, 0), (8, 0)]
    assert services.ledger_mismatches() == []


def test_a_partial_call_needs_a_step(store_a, three):
    red = three[0]
    services.reserve_lines(store_a, [(red, 2)], reference="order:1")
    refused(lambda: services.release_reserved("order:1", quantities={red.pk: 1}), "step_required")
    refused(lambda: services.sell_reserved("order:1", quantities={red.pk: 1}), "step_required")
    refused(lambda: services.sell_reserved("order:1", quantities={red.pk: 1}, step="ship 1"), "invalid_reference")
    refused(lambda: services.sell_reserved("order:1", quantities={red.pk: 1}, step="x" * 60), "invalid_reference")


def test_a_full_call_with_a_step_records_the_step(store_a, three):
    red = three[0]
    services.reserve_lines(store_a, [(red, 2)], reference="order:1")
    assert services.sell_reserved("order:1", step="pickup:1") == 2
    assert services.sell_reserved("order:1", step="pickup:1") == 0
    assert StockMovement.objects.get(reason="sale").reference == "order:1:pickup:1"


@pytest.mark.parametrize("new_reference", [False, True], ids=["general", "new_reference"])
def test_low_stock_alerts_follow_reservations_and_releases(store_a, three, new_reference):
    white = three[2]  # 2 units, threshold 5: born low, no crossing yet
    red = three[0]
    services.reserve_lines(store_a, [(red, 6)], reference="order:1", new_reference=new_reference)  # 10 -> 4 available: under 5
    row = stock(store_a, red)
    assert LowStockAlert.objects.filter(stock=row, status="open").count() == 1
    services.release_reserved("order:1")
    assert not LowStockAlert.objects.filter(stock=row, status="open").exists()
    assert not LowStockAlert.objects.filter(stock=stock(store_a, white)).exists()


# --- the database keeps the reservation honest ---------------------------------------------------
def test_the_database_refuses_inconsistent_reservations(store_a, three):
    red = three[0]
    (res,) = services.reserve_lines(store_a, [(red, 2)], reference="order:1")
    for bad in (
        {"quantity": 0},
        {"sold": 3},
        {"sold": 1, "released": 2},
        {"released": -1},
        {"sold": 2},  # all sold but still "held"
        {"state": State.SOLD},  # "sold" while units are held
    ):
        with pytest.raises(IntegrityError), transaction.atomic():
            StockReservation.objects.filter(pk=res.pk).update(**bad)
    with pytest.raises(IntegrityError), transaction.atomic():
        StockReservation.objects.create(stock=res.stock, reference="order:1", quantity=1)


def test_the_ledger_check_ties_reserved_to_the_reservations(store_a, three, capsys):
    red, green, _white = three
    services.reserve_lines(store_a, [(red, 2), (green, 1)], reference="order:1")
    services.sell_reserved("order:1", quantities={red.pk: 1}, step="ship:1")
    assert services.ledger_mismatches() == []
    call_command("check_stock")
    assert "OK" in capsys.readouterr().out
    held = StockReservation.objects.aggregate(h=Sum("quantity") - Sum("sold") - Sum("released"))["h"]
    assert held == Stock.objects.aggregate(r=Sum("reserved"))["r"] == 2

    # a reservation row changed behind the services' back: the stock row no longer matches
    StockReservation.objects.filter(stock__sku=green).update(released=1, state=State.RELEASED)
    (bad,) = services.ledger_mismatches()
    row, ledger_on_hand, ledger_reserved, reservations_held = bad
    assert (row.sku_id, row.reserved, ledger_reserved, reservations_held) == (green.pk, 1, 1, 0)
    assert ledger_on_hand == row.on_hand  # the movements still agree: only the reservations differ
    with pytest.raises(CommandError):
        call_command("check_stock")
    assert "reservations_held=0" in capsys.readouterr().err


def test_reservations_for_lists_a_reference_in_sku_order_with_one_query(store_a, three,
                                                                      django_assert_num_queries):
    red, green, white = three
    services.reserve_lines(store_a, [(white, 1), (red, 1), (green, 1)], reference="order:1")
    services.reserve_lines(store_a, [(red, 1)], reference="order:2")
    with django_assert_num_queries(1):
        rows = reservations_for("order:1")
        labels = [(r.stock.store.code, r.stock.sku.display_name, r.held) for r in rows]
    assert [r.stock.sku_id for r in rows] == [red.pk, green.pk, white.pk]
    assert labels[0] == ("store-a", "红茶", 1)
    assert reservations_for("order:3") == []


def test_a_retry_after_the_store_was_archived_still_returns_the_reservations(store_a, three):
    red = three[0]
    made = services.reserve_lines(store_a, [(red, 1)], reference="order:1")
    store_a.is_archived = True
    store_a.save(update_fields=["is_archived"])
    assert [r.pk for r in services.reserve_lines(store_a, [(red, 1)], reference="order:1")] == [made[0].pk]
