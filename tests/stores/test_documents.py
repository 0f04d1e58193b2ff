"""Stock documents (stores.documents): receipts, issues, stocktakes, reversals; each refusal changes nothing."""

from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction

from stores import documents, services
from stores.errors import DocumentError
from stores.models import Stock, StockDocument, StockDocumentLine, StockMovement, StoreStaff

from .conftest import make_sku, make_staff

pytestmark = pytest.mark.django_db


def snapshot():
    """Everything a refused call must leave as it was."""
    return (
        list(Stock.objects.order_by("pk").values_list("pk", "on_hand", "reserved")),
        StockMovement.objects.count(),
        list(StockDocument.objects.order_by("pk").values_list("pk", "state", "posted_at")),
        list(StockDocumentLine.objects.order_by("pk").values_list("pk", "quantity", "unit_cost", "counted", "delta")),
    )


def refused(code, call):
    before = snapshot()
    with pytest.raises(DocumentError) as info:
        call()
    assert info.value.code == code, (info.value.code, str(info.value))
    assert snapshot() == before
    return info.value


def ledger_ok():
    assert services.ledger_mismatches() == []


@pytest.fixture
def manager(store_a):
    return make_staff(store_a, role=StoreStaff.Role.MANAGER, username="mgr_a")


def test_hq_receives_a_new_product_into_any_store_and_each_sku_gets_its_row(store_a, hq_user):
    skus = [make_sku("新品四规格") for _ in range(4)]
    assert not Stock.objects.filter(store=store_a).exists()
    doc = documents.create_document(store_a, "receipt", by=hq_user, source="hq", note="首批")
    assert doc.number.startswith("RK") and doc.state == "draft" and doc.author == hq_user
    for i, sku in enumerate(skus, start=1):
        documents.set_line(doc, sku, i * 5, unit_cost="12.50", by=hq_user)
    posted, now = documents.post_document(doc, by=hq_user)
    assert now and posted.state == "posted" and posted.posted_by == hq_user and posted.posted_at
    rows = {s.sku_id: s.on_hand for s in Stock.objects.filter(store=store_a)}
    assert rows == {sku.pk: i * 5 for i, sku in enumerate(skus, start=1)}
    movements = StockMovement.objects.filter(reference=f"doc:{doc.number}")
    assert movements.count() == 4 and {m.reason for m in movements} == {"receive"}
    assert set(doc.lines.values_list("unit_cost", flat=True)) == {Decimal("12.50")}
    assert list(doc.events.values_list("action", flat=True)) == ["created", "posted"]
    ledger_ok()


def test_set_line_replaces_so_a_double_tap_does_not_double(store_a, manager, sku):
    doc = documents.create_document(store_a, "receipt", by=manager)
    documents.set_line(doc, sku, 3, by=manager)
    documents.set_line(doc, sku, 3, by=manager)
    assert list(doc.lines.values_list("sku_id", "quantity")) == [(sku.pk, 3)]


def test_posting_twice_posts_once(store_a, manager, sku):
    doc = documents.create_document(store_a, "receipt", by=manager)
    documents.set_line(doc, sku, 7, by=manager)
    assert documents.post_document(doc, by=manager)[1] is True
    again, now = documents.post_document(doc, by=manager)
    assert now is False and again.state == "posted"
    assert Stock.objects.get(store=store_a, sku=sku).on_hand == 7
    assert StockMovement.objects.filter(reference=f"doc:{doc.number}").count() == 1
    assert doc.events.filter(action="posted").count() == 1


def test_the_database_refuses_a_second_movement_under_a_document_reference(store_a, manager, sku):
    doc = documents.create_document(store_a, "receipt", by=manager)
    documents.set_line(doc, sku, 1, by=manager)
    documents.post_document(doc, by=manager)
    with pytest.raises(IntegrityError), transaction.atomic():
        services.apply_stock_changes(store_a, {sku.pk: 1}, reason="receive", reference=f"doc:{doc.number}")


def test_a_posted_document_cannot_change(store_a, manager, sku):
    other = make_sku()
    doc = documents.create_document(store_a, "receipt", by=manager)
    line = documents.set_line(doc, sku, 2, by=manager)
    documents.post_document(doc, by=manager)
    refused("not_draft", lambda: documents.set_line(doc, sku, 9, by=manager))
    refused("not_draft", lambda: documents.set_line(doc, other, 1, by=manager))
    refused("not_draft", lambda: documents.remove_line(doc, line.pk, by=manager))
    refused("not_draft", lambda: documents.cancel_document(doc, by=manager))


def test_a_cancelled_draft_cannot_be_posted(store_a, manager, sku):
    doc = documents.create_document(store_a, "receipt", by=manager)
    documents.set_line(doc, sku, 2, by=manager)
    documents.cancel_document(doc, by=manager)
    refused("not_draft", lambda: documents.post_document(doc, by=manager))
    assert not Stock.objects.filter(sku=sku).exists()


def test_an_issue_cannot_take_reserved_or_missing_units_and_lists_every_short_line(store_a, manager):
    tea, cup = make_sku("茶"), make_sku("杯")
    services.receive_stock(store_a, tea, 5)
    services.reserve_lines(store_a, [(tea, 4)], reference="order:1")
    doc = documents.create_document(store_a, "issue", by=manager, issue_reason="damage")
    documents.set_line(doc, tea, 2, by=manager)
    documents.set_line(doc, cup, 1, by=manager)
    error = refused("insufficient_stock", lambda: documents.post_document(doc, by=manager))
    assert "茶" in str(error) and "杯" in str(error)
    documents.remove_line(doc, doc.lines.get(sku=cup).pk, by=manager)
    documents.set_line(doc, tea, 1, by=manager)
    documents.post_document(doc, by=manager)
    stock = Stock.objects.get(store=store_a, sku=tea)
    assert (stock.on_hand, stock.reserved) == (4, 4)
    assert StockMovement.objects.get(reference=f"doc:{doc.number}").reason == "issue"
    ledger_ok()


def test_an_issue_needs_a_reason(store_a, manager):
    refused("reason_required", lambda: documents.create_document(store_a, "issue", by=manager))
    refused("reason_required", lambda: documents.create_document(store_a, "issue", by=manager, issue_reason="x"))


def test_stocktake_posts_the_variance_against_the_stock_at_count_time(store_a, manager):
    tea, cup, new = make_sku("茶"), make_sku("杯"), make_sku("新")
    services.receive_stock(store_a, tea, 10)
    services.receive_stock(store_a, cup, 3)
    sheet = documents.create_document(store_a, "stocktake", by=manager)
    assert set(sheet.lines.values_list("sku_id", flat=True)) == {tea.pk, cup.pk}
    documents.record_count(sheet, tea, 8, by=manager)  # two missing
    documents.record_count(sheet, new, 2, by=manager)  # found on the shelf, never received
    # a sale during the count: one tea leaves after it was counted
    services.reserve_lines(store_a, [(tea, 1)], reference="order:9")
    services.sell_reserved("order:9")
    summary = documents.stocktake_summary(sheet)
    assert summary == {"lines": 3, "counted": 2, "uncounted": 1, "varied": 2, "gained": 2, "lost": 2}
    documents.post_document(sheet, by=manager)
    on_hand = dict(Stock.objects.filter(store=store_a).values_list("sku_id", "on_hand"))
    assert on_hand == {tea.pk: 7, cup.pk: 3, new.pk: 2}  # 8 counted - 1 sold; cup uncounted, unchanged
    assert dict(sheet.lines.values_list("sku_id", "delta")) == {tea.pk: -2, cup.pk: None, new.pk: 2}
    assert set(StockMovement.objects.filter(reference=f"doc:{sheet.number}").values_list("reason", flat=True)) == {
        "adjust"
    }
    ledger_ok()


def test_a_stocktake_with_nothing_counted_is_refused(store_a, manager, sku):
    services.receive_stock(store_a, sku, 1)
    sheet = documents.create_document(store_a, "stocktake", by=manager)
    refused("no_lines", lambda: documents.post_document(sheet, by=manager))


def test_a_category_stocktake_lists_only_that_category(store_a, manager):
    from catalog.models import Category

    tea, cup = make_sku("茶"), make_sku("杯")
    drinks = Category.objects.create(name="饮品")
    tea.product.category = drinks
    tea.product.save()
    services.receive_stock(store_a, tea, 1)
    services.receive_stock(store_a, cup, 1)
    sheet = documents.create_document(store_a, "stocktake", by=manager, category=drinks)
    assert list(sheet.lines.values_list("sku_id", flat=True)) == [tea.pk]


def test_reversal_is_a_new_posted_document_made_once(store_a, manager, sku):
    doc = documents.create_document(store_a, "receipt", by=manager, supplier="茶农")
    documents.set_line(doc, sku, 6, by=manager)
    documents.post_document(doc, by=manager)
    reversal = documents.reverse_document(doc, by=manager)
    assert reversal.state == "posted" and reversal.reversal_of_id == doc.pk and reversal.number != doc.number
    assert Stock.objects.get(store=store_a, sku=sku).on_hand == 0
    assert StockMovement.objects.get(reference=f"doc:{reversal.number}").quantity == -6
    assert list(doc.events.values_list("action", flat=True)) == ["created", "posted", "reversed"]
    refused("already_reversed", lambda: documents.reverse_document(doc, by=manager))
    refused("is_reversal", lambda: documents.reverse_document(reversal, by=manager))
    ledger_ok()


def test_a_receipt_whose_goods_were_sold_cannot_be_reversed(store_a, manager, sku):
    doc = documents.create_document(store_a, "receipt", by=manager)
    documents.set_line(doc, sku, 2, by=manager)
    documents.post_document(doc, by=manager)
    services.reserve_lines(store_a, [(sku, 1)], reference="order:5")
    refused("insufficient_stock", lambda: documents.reverse_document(doc, by=manager))


def test_a_draft_cannot_be_reversed(store_a, manager, sku):
    doc = documents.create_document(store_a, "receipt", by=manager)
    refused("not_posted", lambda: documents.reverse_document(doc, by=manager))


def test_another_stores_manager_is_refused_everywhere(store_a, store_b, manager, sku):
    manager_b = make_staff(store_b, role=StoreStaff.Role.MANAGER, username="mgr_b")
    refused("wrong_store", lambda: documents.create_document(store_a, "receipt", by=manager_b))
    doc = documents.create_document(store_a, "receipt", by=manager)
    line = documents.set_line(doc, sku, 2, by=manager)
    refused("wrong_store", lambda: documents.set_line(doc, sku, 5, by=manager_b))
    refused("wrong_store", lambda: documents.remove_line(doc, line.pk, by=manager_b))
    refused("wrong_store", lambda: documents.post_document(doc, by=manager_b))
    refused("wrong_store", lambda: documents.cancel_document(doc, by=manager_b))
    documents.post_document(doc, by=manager)
    refused("wrong_store", lambda: documents.reverse_document(doc, by=manager_b))


def test_a_clerk_drafts_and_counts_but_only_a_manager_posts(store_a, clerk_a, manager, sku):
    doc = documents.create_document(store_a, "receipt", by=clerk_a)
    documents.set_line(doc, sku, 2, by=clerk_a)
    refused("not_manager", lambda: documents.post_document(doc, by=clerk_a))
    refused("not_manager", lambda: documents.cancel_document(doc, by=clerk_a))
    assert documents.post_document(doc, by=manager)[1]


def test_an_archived_store_takes_no_document(store_a, hq_user):
    store_a.is_archived = True
    store_a.save()
    refused("store_unavailable", lambda: documents.create_document(store_a, "receipt", by=hq_user))


BAD_QUANTITIES = ["-1", -1, "0", 0, "1.5", 1.5, Decimal("2.5"), "１", "²", "\x00", "1\x00", "9" * 30, 2**31,
                  "2147483648", True, None, "", " ", "1e3", "0x10", float("nan"), float("inf"), [], "一"]


@pytest.mark.parametrize("bad", BAD_QUANTITIES, ids=repr)
def test_bad_quantities_are_refused_and_change_nothing(store_a, manager, sku, bad):
    doc = documents.create_document(store_a, "receipt", by=manager)
    refused("invalid_quantity", lambda: documents.set_line(doc, sku, bad, by=manager))


@pytest.mark.parametrize("bad", ["-1", -1, "1.5", "１", "\x00", "9" * 30, 2**31, True, "", "x"], ids=repr)
def test_bad_counts_are_refused_and_zero_is_a_count(store_a, manager, sku, bad):
    sheet = documents.create_document(store_a, "stocktake", by=manager)
    if bad == "":
        refused("invalid_quantity", lambda: documents.record_count(sheet, sku, bad, by=manager))
        return
    refused("invalid_quantity", lambda: documents.record_count(sheet, sku, bad, by=manager))
    assert documents.record_count(sheet, sku, "0", by=manager).counted == 0


@pytest.mark.parametrize("bad", ["abc", "-1", "1.234", "1e5", "NaN", "1000000", "１", "\x00", "1.2.3", True])
def test_bad_cost_prices_are_refused(store_a, manager, sku, bad):
    doc = documents.create_document(store_a, "receipt", by=manager)
    refused("invalid_cost", lambda: documents.set_line(doc, sku, 1, unit_cost=bad, by=manager))


@pytest.mark.parametrize("bad", [0, -1, 2**63, "abc", None, "１"], ids=repr)
def test_a_sku_that_does_not_exist_is_refused(store_a, manager, bad):
    doc = documents.create_document(store_a, "receipt", by=manager)
    refused("invalid_sku", lambda: documents.set_line(doc, bad, 1, by=manager))


def test_a_receipt_past_the_column_limit_is_refused(store_a, manager, sku):
    services.receive_stock(store_a, sku, services.MAX_QUANTITY - 1)
    doc = documents.create_document(store_a, "receipt", by=manager)
    documents.set_line(doc, sku, 2, by=manager)
    refused("too_large", lambda: documents.post_document(doc, by=manager))


def test_an_empty_document_is_refused(store_a, manager):
    doc = documents.create_document(store_a, "receipt", by=manager)
    refused("no_lines", lambda: documents.post_document(doc, by=manager))
