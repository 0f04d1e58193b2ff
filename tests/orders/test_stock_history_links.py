"""Stock history reads references as words and links (订单 …, 调拨单 #…, 积分兑换 #…, 手工调整),
one query per kind of reference on the page, whatever the number of rows."""

import uuid

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from core.references import parse_reference
from stores import services as stock_services
from stores.models import Stock
from stores.references import describe

from .factories import checkout, pay

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("raw", ["", "x", "order:", "nope:1", ":1", "order", None, 12, "\x00:1", "order:\x00"])
def test_odd_references_are_not_parsed_and_never_raise(raw):
    parsed = parse_reference(raw)
    assert parsed is None or parsed == ("order", "\x00", "")
    assert describe([raw] if isinstance(raw, str) else []) is not None


def test_the_stock_history_names_orders_transfers_and_adjustments(client, store, other_store, tea, shopper,
                                                                 manager, settings):
    order = checkout(shopper, store, [(tea, 2)])
    pay(order)
    stock = Stock.objects.get(store=store, sku=tea)
    stock_services.adjust_stock(stock, -1, reason="报损", by=manager, reference=f"staff:{uuid.uuid4().hex}")
    transfer = stock_services.create_transfer(store, other_store, [(tea, 1)], by=manager)
    stock_services.dispatch_transfer(transfer, by=manager)
    from django.contrib.auth.models import Permission

    manager.user_permissions.add(Permission.objects.get(content_type__app_label="stores", codename="view_stock"))
    client.force_login(manager)
    url = reverse("stores_bo:stock_history", args=[stock.pk])
    html = client.get(url).content.decode()
    assert f'href="{reverse("orders_bo:detail", args=[order.pk])}"' in html and f"订单 {order.number}" in html
    assert f'href="{reverse("stores_bo:transfer_detail", args=[transfer.pk])}"' in html
    assert f"调拨单 #{transfer.pk}" in html and "手工调整" in html
    assert f">order:{order.number}<" not in html  # the raw key only as a tooltip
    with CaptureQueriesContext(connection) as few:
        client.get(url)
    for _n in range(5):
        more = checkout(shopper, store, [(tea, 1)])
        pay(more)
    with CaptureQueriesContext(connection) as many:
        client.get(url)
    assert len(many.captured_queries) == len(few.captured_queries)


def test_a_kind_without_links_still_reads_as_words(settings):
    settings.STOCK_REFERENCE_LINKS = {}
    described = describe(["order:2026X:refund:7", "mall:12", "merge:3", "weird"])
    assert described["order:2026X:refund:7"] == ("订单 2026X · 退款 #7", None)
    assert described["mall:12"] == ("积分兑换 #12", None)
    assert described["merge:3"] == ("账户合并", None)
    assert described["weird"] == ("weird", None)


def test_a_posted_receipt_reads_as_its_document_with_a_link(client, store, tea, manager, hq_user=None):
    from django.contrib.auth.models import Permission

    from stores import documents
    from stores.models import StockDocument
    from tests.stores.conftest import make_hq

    hq = make_hq("hq-links")
    receipt = documents.create_document(store, StockDocument.Kind.RECEIPT, by=hq, source="supplier")
    documents.set_line(receipt, tea, 4, by=hq)
    documents.post_document(receipt, by=hq)
    receipt.refresh_from_db()
    manager.user_permissions.add(Permission.objects.get(content_type__app_label="stores", codename="view_stock"))
    client.force_login(manager)
    stock = Stock.objects.get(store=store, sku=tea)
    html = client.get(reverse("stores_bo:stock_history", args=[stock.pk])).content.decode()
    assert f"入库单 {receipt.number}" in html
    assert f'href="{reverse("stores_bo:document", args=[receipt.pk])}"' in html


def test_a_points_exchange_reads_as_words_with_a_link_and_an_odd_id_as_words_only():
    described = describe(["mall:12", "mall:12:pickup", "mall:x1"])
    link = reverse("admin:marketing_pointsexchange_change", args=[12])
    assert described["mall:12"] == ("积分兑换 #12", link)
    assert described["mall:12:pickup"] == ("积分兑换 #12 · 提货", link)
    assert described["mall:x1"] == ("积分兑换 #x1", None)
